"""Property tests: round trips on hard Unicode, the schema fast path, and chunked token alignment."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from annotate.formats.jsonl import read_records, write_records
from annotate.recipe import EntityLabel, Recipe, RelationType
from annotate.records import schemas
from annotate.records.model import Record, Relation, Span
from annotate.records.validate import (
    CHECKS,
    ERROR,
    TokenAligner,
    Validator,
    _align,
    _fast_schema_ok,
    validate_file,
    validate_records,
)

PIECES = [
    "Putin", "Kim Jong-un", "U.S.", "don't", "Putin's", "👍", "👩‍👩‍👧", "🇺🇸", "e\u0301", "Zoë", "n\u0303o",
    "\r\n", "\n\n", "\r", " ", "  ", "\t", "(", ")", ",", ".", "—", "…", "“", "”", "$5.00", "http://x.org/a?b=1",
    "a.m.", "ISIL", "Da'esh", "24K", "co-operate", "\u00a0", "\u200b",
]  # fmt: skip

texts = st.lists(
    st.one_of(
        st.sampled_from(PIECES), st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=4)
    ),
    min_size=1,
    max_size=25,
).map("".join)

LABELS = ("PERSON", "ORG", "GPE")
RECIPE = Recipe(
    name="p",
    version="1",
    labels=tuple(EntityLabel(x) for x in LABELS),
    relation_types=(RelationType("REL"),),
)


@st.composite
def valid_records(draw: st.DrawFn) -> Record:
    """A record with non-overlapping, in-range spans and relations between distinct spans."""
    text = draw(texts)
    assume(len(text) >= 1)
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=8))))
    bounds = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    spans = [
        Span(i, a, b, draw(st.sampled_from(LABELS)), text=text[a:b] if draw(st.booleans()) else None)
        for i, (a, b) in enumerate(bounds)
    ]
    rels = []
    if len(spans) >= 2:
        pairs = draw(
            st.lists(st.tuples(st.integers(0, len(spans) - 1), st.integers(0, len(spans) - 1)), max_size=4)
        )
        for k, (h, t) in enumerate(dict.fromkeys(p for p in pairs if p[0] != p[1])):
            rels.append(Relation(k, h, t, "REL", source="rule:x", score=0.5))
    return Record(text=text, doc_id=draw(st.text(min_size=1, max_size=5)), entities=spans, relations=rels)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rec=valid_records())
def test_a_valid_record_stays_valid_after_a_jsonl_round_trip(tmp_path: Path, rec: Record) -> None:
    before = validate_records([rec], kind="task", recipe=RECIPE)
    assert [f for f in before.findings if f.level == ERROR] == []
    path = tmp_path / "rt.jsonl"
    write_records(path, [rec], force=True)
    after = validate_file(path, kind="task", recipe=RECIPE)
    assert [(f.code, f.pointer, f.message) for f in after.findings] == [
        (f.code, f.pointer, f.message) for f in before.findings
    ]
    ((_, back),) = list(read_records(path))
    assert back == rec


def _valid_dict() -> dict[str, Any]:
    r = Record(
        text="Putin met Kim.",
        doc_id="d",
        entities=[Span(0, 0, 5, "PERSON", source="m", score=0.5, text="Putin"), Span(1, 10, 13, "PERSON")],
        relations=[Relation(0, 0, 1, "MET", source="r", score=1)],
        meta={"k": 1},
        example_id=1,
        annotator="a",
        confirmed=True,
        comments=[],
    )
    return r.to_dict()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3)),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=400, deadline=None)
@given(data=st.data(), kind=st.sampled_from(["task", "gold", "article"]))
def test_the_schema_fast_path_never_accepts_what_the_schema_rejects(data: st.DataObject, kind: str) -> None:
    obj = _valid_dict()
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(obj)))
        parent: Any = obj
        for k in path[:-1]:
            parent = parent[k]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values)
        if not _paths(obj):
            break
    obj = copy.deepcopy(obj)
    if _fast_schema_ok(obj, kind):
        assert list(schemas.validator(kind).iter_errors(obj)) == []


def test_the_fast_path_accepts_the_records_we_write() -> None:
    for kind in ("task", "gold", "article"):
        assert _fast_schema_ok(_valid_dict(), kind)


def _word_bounds(aligner: TokenAligner, text: str) -> tuple[list[int], list[int]]:
    """Token boundaries of the whole document, whitespace tokens left out (never a useful edge)."""
    doc = aligner.tokenizer(text)
    words = [t for t in doc if not t.is_space]
    return [t.idx for t in words], [t.idx + len(t) for t in words]


def _edges_are_text(text: str, s: int, e: int) -> bool:
    return not text[s].isspace() and not text[e - 1].isspace()


@settings(max_examples=300, deadline=None)
@given(text=texts, data=st.data())
def test_chunked_token_alignment_equals_whole_document_alignment(text: str, data: st.DataObject) -> None:
    assume(text.strip())
    aligner = TokenAligner.for_lang("en")
    starts, ends = _word_bounds(aligner, text)
    for _ in range(5):
        s = data.draw(st.integers(0, len(text) - 1))
        e = data.draw(st.integers(s + 1, len(text)))
        if _edges_are_text(text, s, e):
            assert aligner.alignment(text, s, e) == _align(starts, ends, s, e, 0, len(text)), (text, s, e)


def test_chunked_alignment_matches_on_the_real_corpus() -> None:
    root = Path(__file__).resolve().parent.parent
    aligner = TokenAligner.for_lang("en")
    n = 0
    for p in sorted((root / "corpus").glob("*.txt"))[:12]:
        text = p.read_text(encoding="utf-8")
        starts, ends = _word_bounds(aligner, text)
        for s in range(0, len(text) - 12, 7):
            for e in (s + 1, s + 5, s + 12):
                if not _edges_are_text(text, s, e):
                    continue
                assert aligner.alignment(text, s, e) == _align(starts, ends, s, e, 0, len(text)), (
                    p.name,
                    s,
                    e,
                )
                n += 1
    assert n > 1000


def test_re3d_spans_keep_their_findings_after_a_round_trip(tmp_path: Path) -> None:
    src = Path(__file__).parent / "data" / "re3d" / "uk-government.jsonl"
    before = validate_file(src)
    recs = [Record.from_dict(json.loads(line)) for line in src.read_text(encoding="utf-8").splitlines()]
    out = tmp_path / "uk.jsonl"
    write_records(out, recs)
    after = validate_file(out)
    assert [(f.code, f.line, f.pointer) for f in after.findings] == [
        (f.code, f.line, f.pointer) for f in before.findings
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".jsonl", ".json"]))
def test_arbitrary_bytes_give_findings_never_an_exception(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    report = validate_file(path, recipe=RECIPE)
    assert all(f.code in CHECKS for f in report.findings)


records_ish = st.dictionaries(
    st.sampled_from(["text", "entities", "relations", "doc_id", "doc_hash", "meta", "confirmed", "x"]),
    st.one_of(
        json_values,
        texts,
        st.lists(
            st.dictionaries(
                st.sampled_from(
                    ["id", "start_offset", "end_offset", "label", "text", "from_id", "to_id", "type"]
                ),
                st.one_of(
                    st.integers(-2, 30), st.floats(allow_nan=False), st.sampled_from(LABELS), st.none(), texts
                ),
            ),
            max_size=4,
        ),
    ),
)


@settings(max_examples=300, deadline=None)
@given(obj=records_ish, kind=st.sampled_from(["task", "gold", "article"]))
def test_any_json_record_gives_findings_never_an_exception(obj: dict[str, Any], kind: str) -> None:
    for f in Validator(kind, RECIPE).check(obj, 1):
        assert f.code in CHECKS and f.line == 1
