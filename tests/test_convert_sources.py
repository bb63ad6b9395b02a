"""`annotate convert` per source, on fixtures shaped by each tool's documentation (tests/data/<tool>/).

Each source's entities and relations must equal the source's by surface text and label, and
everything not carried over must be in the ledger with its reason.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotate.convert.convert import ConvertSummary, convert
from annotate.convert.detect import detect
from annotate.convert.options import ConvertOptions
from annotate.formats.jsonl import read_records
from annotate.records.model import Record
from annotate.records.validate import validate_file

DATA = Path(__file__).parent / "data"
Surface = tuple[list[tuple[str, str]], list[tuple[str, str, str]]]


def surface(rec: Record) -> Surface:
    """The record's spans as (text, label) and relations as (head text, type, tail text), in order."""
    by_id = rec.span_by_id()

    def text(i: int) -> str:
        s = by_id[i]
        return rec.text[s.start : s.end]

    return (
        [(rec.text[s.start : s.end], s.label) for s in rec.entities],
        [(text(r.head), r.label, text(r.tail)) for r in rec.relations],
    )


def run(tmp_path: Path, *inputs: Path, **kw: Any) -> tuple[ConvertSummary, list[Record]]:
    out = tmp_path / "out.jsonl"
    summary = convert(ConvertOptions(inputs=inputs, source=kw.pop("source", "auto"), out=out, **kw))
    recs = [r for _, r in read_records(out)]
    assert summary.records == len(recs)
    return summary, recs


def reasons(summary: ConvertSummary) -> Counter[str]:
    return Counter(f"{e.action}:{e.reason}" for e in summary.ledger.entries)


def lax_valid(path: Path) -> bool:
    from annotate.recipe import Recipe

    return validate_file(path, recipe=Recipe(name="x", version="1", allow_overlapping=True), tokens=False).ok


# --------------------------------------------------------------------------- Prodigy


def test_prodigy_accepted_answers_become_gold_with_hashes_and_annotators(tmp_path: Path) -> None:
    summary, recs = run(tmp_path, DATA / "prodigy" / "annotations.jsonl")
    assert summary.source == "prodigy" and summary.detected
    assert [surface(r) for r in recs] == [
        (
            [("Zoë Müller", "PERSON"), ("Putin", "PERSON"), ("Moscow", "GPE")],
            [("Zoë Müller", "MET", "Putin")],
        ),
        ([("Angela Merkel", "PERSON"), ("Brüssel", "GPE")], []),
        ([("Café de Flore", "FAC"), ("Flore", "PERSON"), ("Paris", "GPE")], []),
        ([("Sasha Smith", "PERSON")], []),
    ]
    assert [r.annotator for r in recs] == ["news-alice", "news-alice", "news-alice", "news-bob"]
    assert recs[0].doc_id == "prodigy:1201"
    assert recs[0].meta["prodigy"]["_task_hash"] == 5501 and recs[0].meta["source"] == "news"
    assert "\r\n" in recs[1].text
    assert len(recs[3].meta["prodigy"]["relations_between_unlabelled_tokens"]) == 2
    assert reasons(summary) == Counter(
        {
            "skipped:answer_reject": 1,
            "skipped:answer_ignore": 1,
            "kept_in_meta:relation_to_unlabelled_tokens": 2,
        }
    )
    assert lax_valid(tmp_path / "out.jsonl")


# --------------------------------------------------------------------------- Label Studio


def test_label_studio_gives_one_record_per_annotator_and_repairs_utf16_offsets(tmp_path: Path) -> None:
    summary, recs = run(tmp_path, DATA / "label-studio" / "export.json")
    assert summary.source == "label-studio"
    assert [(r.doc_id, r.annotator) for r in recs] == [
        ("label-studio:1", "alice@example.com"),
        ("label-studio:1", "2"),
        ("label-studio:2", "alice@example.com"),
    ]
    assert [surface(r) for r in recs] == [
        (
            [("Zoë Müller", "PERSON"), ("Putin", "PERSON"), ("Moscow", "GPE")],
            # direction "left" points from to_id to from_id
            [("Zoë Müller", "MET", "Putin"), ("Putin", "LOCATION_OF", "Moscow")],
        ),
        ([("Zoë Müller", "PERSON"), ("Moscow", "LOC")], [("Zoë Müller", "RELATION", "Moscow")]),
        (
            [
                ("Ana", "PERSON"),
                ("Zürich", "GPE"),
                ("Kyiv", "GPE"),
                ("Łódź", "GPE"),
                ("Ana visited Zürich", "EVENT"),
            ],
            [("Ana", "VISITED", "Zürich")],
        ),
    ]
    assert reasons(summary) == Counter(
        {
            "repaired:utf16_offsets": 5,
            "skipped:was_cancelled": 1,
            "skipped:type_choices": 1,
            "skipped:predictions_not_read": 1,
            "repaired:bidirectional_kept_from_to": 1,
            "repaired:relation_without_label": 1,
        }
    )
    assert lax_valid(tmp_path / "out.jsonl")


def test_label_studio_predictions_are_pre_annotations_with_their_model_and_score(tmp_path: Path) -> None:
    summary, recs = run(tmp_path, DATA / "label-studio" / "export.json", predictions=True)
    (rec,) = recs
    assert surface(rec) == ([("Putin", "PERSON")], [])
    assert not rec.is_gold
    assert (rec.entities[0].source, rec.entities[0].score) == ("model:ner-v1", 0.9)
    assert reasons(summary) == Counter({"skipped:annotations_not_read": 4})


def test_label_studio_offsets_that_match_neither_way_are_an_error(tmp_path: Path) -> None:
    from annotate.errors import DataError

    task = {
        "id": 9,
        "data": {"text": "😀 Ana"},
        "annotations": [
            {
                "completed_by": 1,
                "result": [
                    {
                        "id": "a",
                        "type": "labels",
                        "value": {"start": 0, "end": 2, "text": "Bob", "labels": ["P"]},
                    }
                ],
            }
        ],
    }
    p = tmp_path / "ls.json"
    p.write_text(json.dumps([task]), "utf-8")
    with pytest.raises(DataError, match="records 'Bob'"):
        run(tmp_path, p, source="label-studio")
    assert not (tmp_path / "out.jsonl").exists()


# --------------------------------------------------------------------------- brat


def test_brat_spans_and_relations_with_the_rest_kept_in_meta_and_counted(tmp_path: Path) -> None:
    summary, recs = run(tmp_path, DATA / "brat")
    assert summary.source == "brat"
    by_id = {r.doc_id: r for r in recs}
    assert surface(by_id["cafe"]) == (
        [("Café de Flore", "Facility"), ("Flore", "Person"), ("Paris", "Location")],
        [("Café de Flore", "Located", "Paris")],
    )
    news = by_id["news"]
    assert news.text == (DATA / "brat" / "news.txt").read_bytes().decode("utf-8")  # CRLF kept
    assert surface(news) == (
        [
            ("Zoë Müller", "Person"),
            ("Putin", "Person"),
            ("Moscow", "Location"),
            ("met", "Meeting"),
            ("Moscow", "Location"),
            ("Moscow", "Organization"),
        ],
        [("Zoë Müller", "Met", "Putin"), ("Putin", "Located", "Moscow")],
    )
    brat = news.meta["brat"]
    assert brat["discontinuous_spans"][0]["id"] == "T5" and brat["relations"][0]["id"] == "R3"
    assert brat["events"] == ["E1\tMeeting:T4 Participant1:T1 Participant2:T2"]
    assert reasons(summary) == Counter(
        {
            "kept_in_meta:discontinuous_span": 1,
            "kept_in_meta:relation_to_discontinuous_span": 1,
            "kept_in_meta:brat_event": 1,
            "kept_in_meta:brat_attribute": 1,
            "kept_in_meta:brat_note": 1,
            "kept_in_meta:brat_normalization": 1,
        }
    )
    assert lax_valid(tmp_path / "out.jsonl")


# --------------------------------------------------------------------------- CoNLL


def test_conll_2003_iob1_rebuilds_the_text_and_says_so(tmp_path: Path) -> None:
    summary, recs = run(tmp_path, DATA / "conll" / "conll2003-iob1.txt")
    assert [r.text for r in recs] == ["U.N. official Ekeus heads for Baghdad .", "San Francisco Bay Area ."]
    assert [surface(r)[0] for r in recs] == [
        [("U.N.", "ORG"), ("Ekeus", "PER"), ("Baghdad", "LOC")],
        # IOB1: B- only separates two entities of one label
        [("San Francisco", "LOC"), ("Bay Area", "LOC")],
    ]
    assert recs[0].meta["conll"]["scheme"] == "IOB1" and "rebuilt" in recs[0].meta["conll"]["text"]
    assert reasons(summary) == Counter({"skipped:conll_middle_columns": 1})


def test_two_column_iob2_with_crlf_gives_one_record_a_sentence(tmp_path: Path) -> None:
    summary, recs = run(tmp_path, DATA / "conll" / "two-column-iob2.conll")
    assert summary.source == "conll"
    assert [r.text for r in recs] == ["Zoë Müller visited Kraków .", "EU rejects German call ."]
    assert [surface(r)[0] for r in recs] == [
        [("Zoë Müller", "PER"), ("Kraków", "LOC")],
        [("EU", "ORG"), ("German", "MISC")],
    ]
    assert recs[0].meta["conll"]["scheme"] == "IOB2" and not summary.ledger.entries


def test_iob2_i_without_b_is_read_as_a_start_and_counted(tmp_path: Path) -> None:
    p = tmp_path / "stray.txt"
    p.write_text("Nadim B-PER\nLadki I-PER\nsaid O\nKyiv I-LOC\n", "utf-8")
    summary, (rec,) = run(tmp_path, p, source="conll", scheme="IOB2")
    assert surface(rec)[0] == [("Nadim Ladki", "PER"), ("Kyiv", "LOC")]
    assert reasons(summary) == Counter({"repaired:iob_i_without_b": 1})


# --------------------------------------------------------------------------- Doccano


def test_doccano_export_zip_with_one_file_per_user_gives_per_annotator_records(tmp_path: Path) -> None:
    summary, recs = run(tmp_path, DATA / "doccano" / "export-per-user.zip")
    assert summary.source == "doccano" and summary.annotators == 2
    assert [(r.annotator, r.example_id) for r in recs] == [("alice", 1), ("bob", 1), ("bob", 2)]
    assert [surface(r) for r in recs] == [
        (
            [("Zoë Müller", "PERSON"), ("Putin", "PERSON"), ("Moscow", "GPE")],
            [("Zoë Müller", "MET", "Putin")],
        ),
        ([("Zoë Müller", "PERSON"), ("Putin", "PERSON")], []),
        ([("Angela Merkel", "PERSON")], []),
    ]
    assert recs[1].comments == [{"user": None, "text": "is Zoë a journalist?", "created_at": None}]
    assert recs[0].meta == {"source": "news"} and recs[2].meta == {}  # the export's null meta dropped
    assert validate_file(tmp_path / "out.jsonl").ok


def test_doccano_export_zip_of_a_collaborative_sequence_labeling_project(tmp_path: Path) -> None:
    _, recs = run(tmp_path, DATA / "doccano" / "export-all.zip")
    assert [(r.annotator, r.example_id, r.doc_id) for r in recs] == [
        (None, 3, "doccano:3"),
        (None, 4, "doccano:4"),
    ]
    assert [surface(r)[0] for r in recs] == [
        [("Café de Flore", "FAC"), ("Paris", "GPE")],
        [("Putin", "PERSON")],
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "export-sequence_labeling.jsonl",
            [[("EU", "ORG"), ("German", "MISC")], [("Peter Blackburn", "PERSON")]],
        ),
        ("import-relation_extraction.jsonl", [[("Google", "ORG"), ("September 4, 1998", "DATE")]]),
        ("import-sequence_labeling.conll", [[("JAPAN", "LOC")], [("Nadim Ladki", "PER")]]),
        ("export-relation_extraction.json", [[("Google", "ORG"), ("September 4, 1998", "DATE")]]),
    ],
)
def test_doccanos_own_example_files_convert(tmp_path: Path, name: str, expected: list[Any]) -> None:
    summary, recs = run(tmp_path, DATA / "doccano-examples" / name)
    assert summary.source == "doccano"
    assert [surface(r)[0][:2] for r in recs][: len(expected)] == expected
    assert validate_file(tmp_path / "out.jsonl").ok


def test_doccano_relation_example_keeps_its_relations_by_surface(tmp_path: Path) -> None:
    _, (rec,) = run(tmp_path, DATA / "doccano-examples" / "import-relation_extraction.jsonl")
    assert surface(rec)[1] == [
        ("Google", "foundedAt", "September 4, 1998"),
        ("Google", "foundedBy", "Larry Page"),
        ("Google", "foundedBy", "Sergey Brin"),
    ]


# --------------------------------------------------------------------------- detection and options


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("prodigy/annotations.jsonl", "prodigy"),
        ("label-studio/export.json", "label-studio"),
        ("brat", "brat"),
        ("brat/news.ann", "brat"),
        ("conll/conll2003-iob1.txt", "conll"),
        ("conll/two-column-iob2.conll", "conll"),
        ("doccano/export-per-user.zip", "doccano"),
        ("doccano-examples/export-sequence_labeling.jsonl", "doccano"),
        ("doccano-examples/import-sequence_labeling.conll", "doccano"),
        ("re3d/centcom.jsonl", "doccano"),
    ],
)
def test_auto_detects_each_fixture_and_says_why(path: str, source: str) -> None:
    got, reason = detect((DATA / path,))
    assert got == source and reason


def test_label_map_renames_span_labels_and_relation_types_and_counts_them(tmp_path: Path) -> None:
    m = tmp_path / "map.json"
    m.write_text(json.dumps({"PERSON": "PER", "MET": "MEETS"}), "utf-8")
    summary, recs = run(tmp_path, DATA / "prodigy" / "annotations.jsonl", label_map=m)
    assert surface(recs[0]) == (
        [("Zoë Müller", "PER"), ("Putin", "PER"), ("Moscow", "GPE")],
        [("Zoë Müller", "MEETS", "Putin")],
    )
    assert summary.renamed == Counter({"span": 5, "relation": 1})


def test_report_lists_every_entry_and_the_summary_counts(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    summary, _ = run(tmp_path, DATA / "label-studio" / "export.json", report=report)
    data = json.loads(report.read_text("utf-8"))
    assert len(data["entries"]) == len(summary.ledger.entries) == 10
    assert sum(c["count"] for c in data["counts"]) == 10
    assert all(e["where"].startswith(str(DATA / "label-studio" / "export.json")) for e in data["entries"])


def test_prodigy_relation_endpoints_by_token_index_and_by_overlapping_span_label(tmp_path: Path) -> None:
    text = "Café de Flore, Paris"
    spans = [
        {"start": 0, "end": 13, "token_start": 0, "token_end": 2, "label": "FAC"},
        {"start": 0, "end": 13, "token_start": 0, "token_end": 2, "label": "ORG"},
        {"start": 15, "end": 20, "token_start": 4, "token_end": 4, "label": "GPE"},
    ]
    rels = [
        # no head_span/child_span: token indices only (the head is inside the first span)
        {"head": 1, "child": 4, "label": "IN"},
        {
            "head": 2,
            "child": 4,
            "label": "BASED_IN",
            "head_span": dict(spans[1]),
            "child_span": dict(spans[2]),
        },
    ]
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps({"text": text, "spans": spans, "relations": rels, "answer": "accept"}) + "\n")
    _, (rec,) = run(tmp_path, p, source="prodigy")
    labels = {s.id: s.label for s in rec.entities}
    assert [(labels[r.head], r.label, labels[r.tail]) for r in rec.relations] == [
        ("FAC", "IN", "GPE"),
        ("ORG", "BASED_IN", "GPE"),
    ]


ALPHABET = st.sampled_from(["a", "b", " ", "é", "e\u0301", "😀", "🇺🇦", "\r\n", "Z", "ß"])


@st.composite
def text_and_spans(draw: Any) -> tuple[str, list[tuple[int, int]]]:
    text = "".join(draw(st.lists(ALPHABET, min_size=1, max_size=20)))
    n = len(text)
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, n)), min_size=1, max_size=5))
    spans = sorted({(min(a, b), max(a, b)) for a, b in pairs if min(a, b) < max(a, b)})
    return text, spans or [(0, n)]


def utf16(text: str, i: int) -> int:
    return len(text[:i].encode("utf-16-le")) // 2


@settings(max_examples=150, deadline=None)
@given(text_and_spans(), st.booleans())
def test_label_studio_offsets_in_code_points_or_utf16_units_give_the_same_surfaces(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, list[tuple[int, int]]], old: bool
) -> None:
    text, spans = case
    tmp = tmp_path_factory.mktemp("ls")
    unit = (lambda i: utf16(text, i)) if old else (lambda i: i)
    result = [
        {
            "id": f"r{k}",
            "type": "labels",
            "value": {"start": unit(s), "end": unit(e), "text": text[s:e], "labels": ["X"]},
        }
        for k, (s, e) in enumerate(spans)
    ]
    p = tmp / "ls.json"
    p.write_text(
        json.dumps(
            [{"id": 1, "data": {"text": text}, "annotations": [{"completed_by": 1, "result": result}]}]
        )
    )
    summary, (rec,) = run(tmp, p, source="label-studio")
    assert sorted(surface(rec)[0]) == sorted((text[s:e], "X") for s, e in spans)
    if not old:
        assert sorted((s.start, s.end) for s in rec.entities) == spans and not summary.ledger.entries
