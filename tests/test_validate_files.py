"""File-level validation, kind detection, the real re3d data and Doccano's own example files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from annotate.fileio import iter_jsonl
from annotate.recipe import Recipe
from annotate.records.model import text_hash
from annotate.records.validate import validate_file, validate_paths

DATA = Path(__file__).parent / "data"
RE3D = sorted((DATA / "re3d").glob("*.jsonl"))
EXAMPLES = DATA / "doccano-examples"


def rec(doc_id: str, text: str = "Putin spoke.") -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "doc_hash": text_hash(text),
        "text": text,
        "entities": [{"id": 0, "start_offset": 0, "end_offset": 5, "label": "PERSON"}],
        "relations": [],
        "meta": {},
    }


def line(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def codes(report: Any) -> list[tuple[str, int | None]]:
    return [(f.code, f.line) for f in report.findings]


def test_every_broken_line_is_collected_with_its_physical_line(tmp_path: Path) -> None:
    p = tmp_path / "broken.jsonl"
    p.write_bytes(
        line(rec("a"))  # 1
        + b"{not json\n"  # 2
        + b"\n"  # 3 blank, still counted
        + b'{"text": "caf\xe9"}\n'  # 4 latin-1
        + b"[1]\n"  # 5
        + b"   \n"  # 6 blank
        + line(rec("a"))  # 7 duplicate doc_id
        + b'{"text": "x", "entities": [], "relations": [],}\n'  # 8 trailing comma
        + line(rec("b"))  # 9
    )
    report = validate_file(p)
    assert codes(report) == [("E102", 2), ("E104", 4), ("E105", 5), ("E107", 7), ("E102", 8)]
    assert report.n_records == 4
    assert report.kind == "task"


def test_bom_is_reported_once_and_the_first_record_is_still_checked(tmp_path: Path) -> None:
    p = tmp_path / "bom.jsonl"
    bad = rec("a")
    bad["entities"][0]["end_offset"] = 99
    p.write_bytes(b"\xef\xbb\xbf" + line(bad) + line(rec("b")))
    report = validate_file(p)
    assert [(f.code, f.line, f.pointer) for f in report.findings] == [
        ("E103", 1, None),
        ("E120", 1, "/entities/0/end_offset"),
    ]


def test_a_bom_on_a_whole_file_json_document_is_reported_the_same_way(tmp_path: Path) -> None:
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps([rec("a"), rec("b")]).encode("utf-8"))
    report = validate_file(p)
    assert [(f.code, f.line, f.fix) for f in report.findings] == [("E103", 1, {"strip_bom": True})]
    assert report.n_records == 2


def test_line_numbers_match_the_jsonl_reader_with_cr_crlf_and_blank_lines(tmp_path: Path) -> None:
    def mixed(recs: list[dict[str, Any]]) -> bytes:
        ls = [line(r)[:-1] for r in recs]
        return ls[0] + b"\n\r\n" + ls[1] + b"\r\n" + ls[2] + b"\r" + ls[3] + b"\n\n\n" + ls[4] + b"\n"

    ok = tmp_path / "mixed.jsonl"
    ok.write_bytes(mixed([rec(str(i)) for i in range(5)]))
    expected = [n for n, _ in iter_jsonl(ok)]
    assert validate_file(ok).findings == []
    dup = tmp_path / "mixed_dup.jsonl"
    dup.write_bytes(mixed([rec("same") for _ in range(5)]))
    # Every record after the first is a duplicate: its line is where the reader found it.
    assert [f.line for f in validate_file(dup).findings] == expected[1:] == [3, 4, 5, 8]


def test_empty_file_is_a_warning_not_an_error(tmp_path: Path) -> None:
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"\n\n")
    report = validate_file(p)
    assert codes(report) == [("W108", None)]
    assert report.ok and not report.ok_strict


def test_max_errors_stops_early_and_says_so(tmp_path: Path) -> None:
    p = tmp_path / "many.jsonl"
    p.write_bytes(b"{bad\n" * 50)
    report = validate_file(p, max_errors=3)
    assert report.n_errors == 3 and report.truncated
    reports = validate_paths([p, p], max_errors=4)
    assert sum(r.n_errors for r in reports) == 4


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        ({"text": "a"}, "article"),
        ({"text": "a", "entities": [], "relations": []}, "task"),
        (dict(rec("x"), example_id=1, confirmed=False), "gold"),
        ({"text": "a", "label": [[0, 1, "X"]]}, "task"),
    ],
)
def test_kind_is_detected_from_the_first_record(tmp_path: Path, obj: dict[str, Any], kind: str) -> None:
    p = tmp_path / "k.jsonl"
    p.write_bytes(line(obj))
    assert validate_file(p).kind == kind


def test_explicit_kind_wins_over_detection(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(line({"text": "a", "doc_id": "1"}))
    assert validate_file(p).ok
    report = validate_file(p, kind="task")
    assert [(f.code, f.pointer) for f in report.findings] == [("E110", ""), ("E110", "")]


def test_json_document_array_gives_each_record_its_line(tmp_path: Path) -> None:
    p = tmp_path / "doc.json"
    bad = rec("b")
    bad["entities"][0]["end_offset"] = 99
    p.write_text(json.dumps([rec("a"), bad], indent=2), encoding="utf-8")
    report = validate_file(p)
    (f,) = report.findings
    start_of_second = [i for i, t in enumerate(p.read_text().split("\n"), start=1) if t == "  {"][1]
    assert (f.code, f.line, f.pointer) == ("E120", start_of_second, "/entities/0/end_offset")
    p.write_text('[{"text": "a", "entities": [], "relations": []},\n oops]', encoding="utf-8")
    assert codes(validate_file(p)) == [("E102", 2)]


# --------------------------------------------------------------------------- re3d


def _brute_force_overlaps(path: Path) -> int:
    n = 0
    for _, r in iter_jsonl(path):
        es = r["entities"]
        for i in range(len(es)):
            for j in range(i + 1, len(es)):
                a, b = es[i], es[j]
                same = (a["start_offset"], a["end_offset"], a["label"]) == (
                    b["start_offset"],
                    b["end_offset"],
                    b["label"],
                )
                if not same and a["start_offset"] < b["end_offset"] and b["start_offset"] < a["end_offset"]:
                    n += 1
    return n


RE3D_MISMATCHES = {
    ("centcom.jsonl", 8, "/entities/23/text"),
    ("centcom.jsonl", 19, "/entities/12/text"),
    ("centcom.jsonl", 22, "/entities/6/text"),
    ("uk-government.jsonl", 2, "/entities/4/text"),
    ("uk-government.jsonl", 2, "/entities/5/text"),
}


def test_re3d_reports_exactly_the_five_recorded_text_mismatches_and_every_overlap() -> None:
    reports = validate_paths(RE3D)
    found = [
        (Path(f.path or "").name, f.line, f.pointer) for r in reports for f in r.findings if f.code == "E133"
    ]
    assert set(found) == RE3D_MISMATCHES and len(found) == 5
    for path, report in zip(RE3D, reports, strict=True):
        assert report.kind == "task"
        assert report.counts["E130"] == _brute_force_overlaps(path) > 0
        assert not report.ok  # overlaps are errors unless the recipe allows them
        assert not report.truncated
    total = Counter[str]()
    for r in reports:
        total.update(r.counts)
    assert total == Counter({"E130": 886, "E133": 5, "E123": 5, "W140": 3})


def test_re3d_with_a_recipe_that_allows_overlaps_keeps_only_the_real_errors() -> None:
    lax = Recipe(name="re3d", version="1", allow_overlapping=True)
    total = Counter[str]()
    for r in validate_paths(RE3D, recipe=lax):
        total.update(r.counts)
    assert total["E130"] == 0
    assert total["E133"] == 5 and total["E123"] == 5


# --------------------------------------------------------------------------- Doccano's examples

# Every file of Doccano's examples, and what validation says about it, with the reason. A file
# Doccano imports is valid; one it rejects (or imports only in part) fails for the same reason.
DOCCANO_EXAMPLES: dict[str, tuple[bool, set[str], str]] = {
    "export-relation_extraction.json": (True, set(), "a relation-extraction export: a valid task"),
    "import-relation_extraction.jsonl": (
        True,
        set(),
        "Doccano's relation import without relation ids: the ids are assigned in order",
    ),
    "export-sequence_labeling.jsonl": (True, set(), "sequence labeling ('label': [[start, end, label]])"),
    "import-sequence_labeling.jsonl": (
        False,
        {"E110"},
        "column_data/column_label are the upload form's placeholders; with its default columns "
        "(text, label) Doccano refuses each line: 'text field does not exist'",
    ),
    "import-sequence_labeling-overlapping.jsonl": (
        False,
        {"E131"},
        "the same span twice: Doccano's import reports one error and drops the second",
    ),
    "import-sequence_labeling.conll": (True, set(), "Doccano's CoNLL import format (token<TAB>tag)"),
    "import-sequence_labeling-invalid.conll": (
        False,
        {"E109"},
        "its first line is not token<TAB>tag: Doccano's parser stops there",
    ),
}


def test_every_doccano_example_is_accounted_for() -> None:
    files = {p.name for p in EXAMPLES.iterdir() if p.name not in ("LICENSE", "README.md")}
    assert files == set(DOCCANO_EXAMPLES)


@pytest.mark.parametrize("name", sorted(DOCCANO_EXAMPLES))
def test_doccano_examples_validate_or_fail_for_their_documented_reason(name: str) -> None:
    ok, expected_codes, _reason = DOCCANO_EXAMPLES[name]
    report = validate_file(EXAMPLES / name)
    assert report.ok is ok
    assert set(report.counts) == expected_codes


def test_doccano_relation_import_file_gets_relation_ids_in_order() -> None:
    from annotate.formats.jsonl import read_records

    ((_, rec),) = list(read_records(EXAMPLES / "import-relation_extraction.jsonl"))
    assert [(r.id, r.head, r.tail, r.label) for r in rec.relations] == [
        (0, 0, 1, "foundedAt"),
        (1, 0, 2, "foundedBy"),
        (2, 0, 3, "foundedBy"),
    ]


def test_doccano_sequence_labeling_reads_as_spans_with_surface_text() -> None:
    from annotate.formats.jsonl import read_records

    recs = [rec for _, rec in read_records(EXAMPLES / "export-sequence_labeling.jsonl")]
    got = [[(r.text[s.start : s.end], s.label) for s in r.entities] for r in recs]
    assert got == [
        [("EU", "ORG"), ("German", "MISC")],
        [("Peter Blackburn", "PERSON")],
        [("Obama", "PERSON")],
    ]


def test_doccano_conll_reads_as_doccano_does() -> None:
    # Doccano's own test of this file: ("JAPAN GET", [[0, 5, "LOC"]]), ("Nadim Ladki", [[0, 11, "PER"]]).
    report = validate_file(EXAMPLES / "import-sequence_labeling.conll")
    assert report.ok and report.n_records == 2
    from annotate.records.doccano_forms import iter_conll

    got = [
        (obj["text"], [[e["start_offset"], e["end_offset"], e["label"]] for e in obj["entities"]])
        for _, obj, f in iter_conll(EXAMPLES / "import-sequence_labeling.conll", "x")
        if f is None
    ]
    assert got == [("JAPAN GET", [[0, 5, "LOC"]]), ("Nadim Ladki", [[0, 11, "PER"]])]


def test_a_doccano_conll_i_tag_without_b_is_read_as_a_start_and_said(tmp_path: Path) -> None:
    p = tmp_path / "stray.conll"
    p.write_text("Nadim\tI-PER\nLadki\tI-PER\n\nX\tB-\n", encoding="utf-8")
    report = validate_file(p)
    assert [(f.code, f.line) for f in report.findings] == [("W143", 1), ("E109", 4)]
    assert report.n_records == 2


def test_a_doccano_relation_without_id_keeps_the_ids_it_has(tmp_path: Path) -> None:
    p = tmp_path / "mixed.jsonl"
    obj = {
        "text": "Ann met Bob.",
        "entities": [
            {"id": 5, "start_offset": 0, "end_offset": 3, "label": "P"},
            {"id": 7, "start_offset": 8, "end_offset": 11, "label": "P"},
        ],
        "relations": [
            {"from_id": 5, "to_id": 7, "type": "MET"},
            {"id": 0, "from_id": 7, "to_id": 5, "type": "MET"},
        ],
    }
    p.write_bytes(line(obj))
    assert validate_file(p).ok
    from annotate.formats.jsonl import read_records

    ((_, rec),) = list(read_records(p))
    assert sorted(r.id for r in rec.relations) == [0, 1]


def test_a_malformed_doccano_label_is_reported_not_dropped(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_bytes(line({"text": "abc", "label": [[0, 1, "X"], [0, 2]]}))
    report = validate_file(p)
    assert not report.ok
    assert {(f.code, f.pointer) for f in report.findings} == {("E110", "/entities/1")}


def test_nan_and_infinity_are_not_json(tmp_path: Path) -> None:
    r = rec("a")
    r["entities"][0]["score"] = float("nan")
    p = tmp_path / "nan.jsonl"
    p.write_text(json.dumps(r) + "\n" + json.dumps(rec("b")).replace("[]", "[Infinity]", 1) + "\n")
    assert codes(validate_file(p)) == [("E102", 1), ("E102", 2)]
    d = tmp_path / "nan.json"
    d.write_text('{\n"text": NaN}')
    assert codes(validate_file(d)) == [("E102", 1)]


def test_records_without_doc_id_collide_when_their_texts_are_equal(tmp_path: Path) -> None:
    from annotate.records.model import Record

    p = tmp_path / "noid.jsonl"
    same = {"text": "Zoë met Putin.", "entities": [], "relations": []}
    other = {"text": "Other.", "entities": [], "relations": []}
    p.write_bytes(line(same) + line(other) + line(same))
    report = validate_file(p)
    (f,) = report.findings
    assert (f.code, f.line, f.pointer) == ("E107", 3, "/text")
    assert Record.from_dict(same).doc_id in f.message


def test_push_reads_doccanos_own_files_as_tasks() -> None:
    from annotate.sync.tasks import load_tasks

    recipe = Recipe(name="any", version="1")
    for name in ("import-relation_extraction.jsonl", "export-sequence_labeling.jsonl"):
        good, refusals = load_tasks(EXAMPLES / name, recipe)
        assert refusals == [] and good
    good, refusals = load_tasks(EXAMPLES / "import-sequence_labeling.conll", recipe)
    assert [rec.text for _, rec in good] == ["JAPAN GET", "Nadim Ladki"] and refusals == []


def test_a_doccano_export_line_keeps_its_example_id_as_doc_id_and_meta(tmp_path: Path) -> None:
    from annotate.formats.jsonl import read_records

    p = tmp_path / "export.jsonl"
    obj = {
        "id": 12,
        "text": "Ann met Bob.",
        "entities": [{"id": 3, "start_offset": 0, "end_offset": 3, "label": "P"}],
        "relations": [],
        "Comments": [],
    }
    p.write_bytes(line(obj))
    assert validate_file(p).ok
    ((_, rec),) = list(read_records(p))
    assert rec.doc_id == "doccano:12" and rec.meta == {"doccano_id": 12, "Comments": []}
