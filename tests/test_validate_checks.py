"""One bad record per check: each must give exactly its code, on its line, at its JSON pointer."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from annotate.recipe import EntityLabel, Recipe, RelationType
from annotate.records.model import Record, text_hash
from annotate.records.validate import CHECKS, ERROR, WARNING, Validator, validate_file, validate_records

TEXT = "Vladimir Putin met Kim Jong-un in Moscow."

RECIPE = Recipe(
    name="news",
    version="1",
    labels=(EntityLabel("PERSON"), EntityLabel("GPE"), EntityLabel("ORG")),
    relation_types=(
        RelationType("MET", allowed=(("PERSON", "PERSON"),)),
        RelationType("LOCATED_IN", allowed=(("PERSON", "GPE"),)),
    ),
)


def good(doc_id: str = "d1") -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "doc_hash": text_hash(TEXT),
        "text": TEXT,
        "entities": [
            {"id": 0, "start_offset": 0, "end_offset": 14, "label": "PERSON", "text": "Vladimir Putin"},
            {
                "id": 1,
                "start_offset": 19,
                "end_offset": 30,
                "label": "PERSON",
                "source": "model:x",
                "score": 0.9,
            },
            {"id": 2, "start_offset": 34, "end_offset": 40, "label": "GPE"},
        ],
        "relations": [{"id": 0, "from_id": 0, "to_id": 1, "type": "MET"}],
        "meta": {"title": "t"},
    }


def mutate(fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    r = good("d3")
    fn(r)
    return r


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def f(r: dict[str, Any]) -> None:
        *parts, last = path.split(".")
        obj: Any = r
        for p in parts:
            obj = obj[int(p)] if isinstance(obj, list) else obj[p]
        if isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value

    return f


def _offsets(i: int, start: int, end: int) -> Callable[[dict[str, Any]], None]:
    """Move span ``i`` (dropping its recorded text, which would then mismatch)."""

    def f(r: dict[str, Any]) -> None:
        r["entities"][i].update(start_offset=start, end_offset=end)
        r["entities"][i].pop("text", None)

    return f


def _append(key: str, item: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda r: r[key].append(item)


SPAN_PUTIN = {"id": 3, "start_offset": 9, "end_offset": 14, "label": "PERSON"}

# (id, bad record or raw line, recipe, code, pointer)
CASES: list[tuple[str, Any, Recipe | None, str, str | None]] = [
    ("end past text", mutate(_set("entities.2.end_offset", 99)), RECIPE, "E120", "/entities/2/end_offset"),
    ("empty span", mutate(_set("entities.2.end_offset", 34)), RECIPE, "E120", "/entities/2/end_offset"),
    (
        "start past text",
        mutate(_set("entities.2.start_offset", 41)),
        RECIPE,
        "E120",
        "/entities/2/start_offset",
    ),
    ("duplicate entity id", mutate(_set("entities.2.id", 1)), RECIPE, "E121", "/entities/2/id"),
    ("missing endpoint", mutate(_set("relations.0.to_id", 9)), RECIPE, "E122", "/relations/0/to_id"),
    ("self-loop", mutate(_set("relations.0.to_id", 0)), RECIPE, "E123", "/relations/0"),
    (
        "duplicate relation",
        mutate(_append("relations", {"id": 1, "from_id": 0, "to_id": 1, "type": "MET"})),
        RECIPE,
        "E124",
        "/relations/1",
    ),
    (
        "duplicate relation id",
        mutate(_append("relations", {"id": 0, "from_id": 0, "to_id": 2, "type": "LOCATED_IN"})),
        RECIPE,
        "E125",
        "/relations/1/id",
    ),
    ("unknown label", mutate(_set("entities.2.label", "CITY")), RECIPE, "E126", "/entities/2/label"),
    ("unknown relation type", mutate(_set("relations.0.type", "KNOWS")), RECIPE, "E127", "/relations/0/type"),
    ("relation labels not allowed", mutate(_set("relations.0.to_id", 2)), RECIPE, "E128", "/relations/0"),
    ("overlap", mutate(_append("entities", SPAN_PUTIN)), RECIPE, "E130", "/entities/3"),
    ("overlap without recipe", mutate(_append("entities", SPAN_PUTIN)), None, "E130", "/entities/3"),
    (
        "duplicate span",
        mutate(_append("entities", {"id": 3, "start_offset": 34, "end_offset": 40, "label": "GPE"})),
        RECIPE,
        "E131",
        "/entities/3",
    ),
    ("doc_hash mismatch", mutate(_set("doc_hash", text_hash("other"))), RECIPE, "E132", "/doc_hash"),
    (
        "recorded text mismatch",
        mutate(_set("entities.0.text", "Vladimir Putn")),
        RECIPE,
        "E133",
        "/entities/0/text",
    ),
    ("edge whitespace", mutate(_offsets(0, 0, 15)), None, "W140", "/entities/0"),
    ("edge punctuation", mutate(_set("entities.2.end_offset", 41)), None, "W140", "/entities/2"),
    ("not token-aligned", mutate(_offsets(0, 0, 12)), RECIPE, "W141", "/entities/0"),
    ("meta id", mutate(_set("meta", {"id": 7})), RECIPE, "W142", "/meta/id"),
    ("schema: label not a string", mutate(_set("entities.0.label", 5)), RECIPE, "E110", "/entities/0/label"),
    ("schema: no text", mutate(lambda r: r.pop("text")), RECIPE, "E110", ""),
    (
        # A relation without id is Doccano's import form: it is given one (test_validate_files.py).
        "schema: relation without type",
        mutate(lambda r: r["relations"][0].pop("type")),
        RECIPE,
        "E110",
        "/relations/0",
    ),
    ("schema: bad doc_hash", mutate(_set("doc_hash", "md5:abc")), RECIPE, "E110", "/doc_hash"),
    ("not an object", "[1, 2]", RECIPE, "E105", ""),
    ("duplicate doc_id", mutate(_set("doc_id", "d1")), RECIPE, "E107", "/doc_id"),
    ("invalid JSON", '{"text": "a", ', RECIPE, "E102", None),
    ("not UTF-8", b'{"text": "caf\xe9"}', RECIPE, "E104", None),
    (
        "lone surrogate in text",
        '{"doc_id": "d3", "text": "a\\ud800", "entities": [], "relations": []}',
        RECIPE,
        "E104",
        "/text",
    ),
]


def write_case(tmp_path: Path, bad: Any) -> Path:
    """Line 1 valid, line 2 blank, line 3 the bad record, line 4 valid (CRLF)."""
    if isinstance(bad, dict):
        bad = json.dumps(bad, ensure_ascii=False)
    if isinstance(bad, str):
        bad = bad.encode("utf-8")
    data = json.dumps(good("d1")).encode() + b"\n\n" + bad + b"\n" + json.dumps(good("d4")).encode() + b"\r\n"
    p = tmp_path / "case.jsonl"
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    ("bad", "recipe", "code", "pointer"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_check_reports_its_code_line_and_pointer(
    tmp_path: Path, bad: Any, recipe: Recipe | None, code: str, pointer: str | None
) -> None:
    report = validate_file(write_case(tmp_path, bad), kind="task", recipe=recipe)
    got = [(f.code, f.line, f.pointer) for f in report.findings]
    assert got == [(code, 3, pointer)]
    assert report.findings[0].level == CHECKS[code].level
    assert report.n_records == (2 if pointer is None else 3)
    assert report.ok == (CHECKS[code].level == WARNING)


def test_every_record_check_has_a_case() -> None:
    covered = {c[3] for c in CASES}
    # File-level and recipe-file codes are tested in test_validate_files.py.
    assert set(CHECKS) - covered == {"E103", "W108", "E109", "W143", "E150", "E151"}


def test_the_good_record_is_valid_with_and_without_recipe() -> None:
    assert validate_records([good("a"), good("b")], kind="task", recipe=RECIPE).findings == []
    assert validate_records([good("a")], kind="task").findings == []
    gold = dict(good("a"), example_id=3, annotator="ann", confirmed=True, comments=[])
    assert validate_records([gold], kind="gold", recipe=RECIPE).findings == []


def test_record_objects_are_validated_like_their_json_form() -> None:
    rec = Record.from_dict(good())
    assert validate_records([rec], kind="task", recipe=RECIPE).findings == []
    bad = Record.from_dict(mutate(_set("relations.0.to_id", 0)))
    assert [f.code for f in validate_records([bad], kind="task", recipe=RECIPE).findings] == ["E123"]


def test_recipe_allowing_self_loops_and_overlaps_silences_them() -> None:
    lax = Recipe(name="lax", version="1", allow_overlapping=True, allow_self_loops=True)
    rec = mutate(_set("relations.0.to_id", 0))
    rec["entities"].append(SPAN_PUTIN)
    assert validate_records([rec], kind="task", recipe=lax).findings == []
    strict = [f.code for f in validate_records([rec], kind="task").findings]
    assert strict == ["E130", "E123"]


def test_undirected_relation_reversed_is_a_duplicate_and_allowed_both_ways() -> None:
    recipe = Recipe(
        name="u",
        version="1",
        relation_types=(RelationType("ALLY", directed=False, allowed=(("PERSON", "GPE"),)),),
    )
    rec = good()
    rec["relations"] = [
        {"id": 0, "from_id": 2, "to_id": 0, "type": "ALLY"},
        {"id": 1, "from_id": 0, "to_id": 2, "type": "ALLY"},
    ]
    got = [(f.code, f.pointer) for f in validate_records([rec], kind="task", recipe=recipe).findings]
    assert got == [("E124", "/relations/1")]


def test_edge_warning_carries_the_fix() -> None:
    rec = mutate(_offsets(0, 0, 15))
    (f,) = validate_records([rec], kind="task").findings
    assert f.fix == {"start_offset": 0, "end_offset": 14}
    assert '"Vladimir Putin"' in f.message


@pytest.mark.parametrize(
    ("span", "flagged"),
    [
        ("U.S.", False),
        ("Gen.", False),
        ("(SDF)", False),
        ("“J.D.”", False),
        ("Putin's", False),
        ("Moscow.", True),
        ("Moscow,", True),
        ("(SDF", True),
        ('"Putin', True),
        (" Putin", True),
        ("#MeToo", False),
    ],
)
def test_edge_punctuation_rules(span: str, flagged: bool) -> None:
    text = f"x {span} y"
    rec = {
        "text": text,
        "entities": [{"id": 0, "start_offset": 2, "end_offset": 2 + len(span), "label": "X"}],
        "relations": [],
    }
    codes = [f.code for f in validate_records([rec], kind="task").findings]
    assert codes == (["W140"] if flagged else [])


def test_token_misalignment_shows_nearest_expand_and_contract() -> None:
    rec = mutate(_offsets(0, 0, 12))  # "Vladimir Put"
    (f,) = validate_records([rec], kind="task", recipe=RECIPE).findings
    assert f.fix == {"expand": [0, 14], "contract": [0, 8]}
    assert '"Vladimir Putin"' in f.message and '"Vladimir"' in f.message


def test_token_misalignment_inside_one_word_has_no_contraction() -> None:
    rec = good()
    rec["entities"] = [{"id": 0, "start_offset": 1, "end_offset": 5, "label": "PERSON"}]  # "ladi"
    rec["relations"] = []
    (f,) = validate_records([rec], kind="task", recipe=RECIPE).findings
    assert f.fix == {"expand": [0, 8], "contract": None}


def test_validator_is_built_once_and_checks_records_one_by_one() -> None:
    v = Validator("task", RECIPE, path="mem")
    assert v.check(good("a"), 1) == []
    (f,) = v.check(good("a"), 2)
    assert (f.code, f.path, f.line, f.pointer) == ("E107", "mem", 2, "/doc_id")
    assert "first on line 1" in f.message
    v.reset()
    assert v.check(good("a"), 3) == []


def test_float_offsets_that_are_integral_are_checked_not_crashed_on() -> None:
    rec = copy.deepcopy(good())
    rec["entities"][2]["end_offset"] = 99.0
    codes = [f.code for f in validate_records([rec], kind="task").findings]
    assert codes == ["E120"]


def test_garbage_shapes_never_crash() -> None:
    weird: list[Any] = [
        {"text": 5, "entities": "x", "relations": None},
        {"text": "abc", "entities": [None, 1, {"id": "a"}], "relations": [None, {"from_id": True}]},
        {
            "text": "abc",
            "entities": [{"id": 0, "start_offset": -1, "end_offset": 2, "label": "X"}],
            "relations": [],
        },
        {
            "text": "",
            "entities": [{"id": 0, "start_offset": 0, "end_offset": 0, "label": "X"}],
            "relations": [],
        },
        {"text": "abc", "doc_id": True, "doc_hash": 3, "meta": [], "entities": [], "relations": []},
        "string",
        None,
    ]
    report = validate_records(weird, kind="task", recipe=RECIPE)
    assert report.n_records == len(weird)
    assert not report.ok
    assert all(f.level in (ERROR, WARNING) for f in report.findings)


def test_gold_needs_doc_keys_and_a_gold_key() -> None:
    rec = good()
    codes = [(f.code, f.pointer) for f in validate_records([rec], kind="gold").findings]
    assert codes == [("E110", "")]
    rec.pop("doc_hash")
    rec["confirmed"] = "yes"
    got = sorted((f.code, f.pointer) for f in validate_records([rec], kind="gold").findings)
    assert got == [("E110", ""), ("E110", "/confirmed")]


def test_tokens_false_skips_only_the_token_check() -> None:
    rec = mutate(_offsets(0, 0, 12))
    rec["entities"][2]["label"] = "CITY"
    with_tokens = [f.code for f in validate_records([rec], kind="task", recipe=RECIPE).findings]
    without = [f.code for f in validate_records([rec], kind="task", recipe=RECIPE, tokens=False).findings]
    assert with_tokens == ["W141", "E126"]
    assert without == ["E126"]


def test_per_annotator_gold_may_repeat_a_doc_id_once_per_annotator() -> None:
    from annotate.records.validate import validate_records

    def gold(annotator: str) -> dict:
        text = "Putin met Kim."
        from annotate.records.model import text_hash

        return {
            "doc_id": "d1",
            "doc_hash": text_hash(text),
            "text": text,
            "entities": [],
            "relations": [],
            "meta": {},
            "annotator": annotator,
            "confirmed": False,
        }

    ok = validate_records([gold("ann1"), gold("ann2")], kind="gold")
    assert "E107" not in ok.counts
    twice = validate_records([gold("ann1"), gold("ann1")], kind="gold")
    assert twice.counts["E107"] == 1
