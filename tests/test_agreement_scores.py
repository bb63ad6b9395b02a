"""Agreement: kappa and F1 against values worked out by hand."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.errors import DataError, UsageError
from annotate.quality.agreement import agreement, cohen_kappa, load_annotations, token_labels
from annotate.records.model import Record, Relation, Span

TEXT = "Alice met Bob in Paris"  # tokens: Alice met Bob in Paris
A = Record(
    text=TEXT,
    doc_id="d1",
    annotator="ann",
    entities=[Span(0, 0, 5, "PER"), Span(1, 10, 13, "PER"), Span(2, 17, 22, "LOC")],
    relations=[Relation(0, 0, 1, "CommWith")],
)
B = Record(
    text=TEXT,
    doc_id="d1",
    annotator="bea",
    entities=[Span(0, 0, 5, "PER"), Span(1, 10, 13, "ORG")],
    relations=[],
)
EASY = "Rome is old"


def easy(who: str) -> Record:
    return Record(text=EASY, doc_id="d2", annotator=who, entities=[Span(0, 0, 4, "LOC")])


def test_kappa_matches_the_textbook_example() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15. p_o = 35/50 = 0.7;
    # A says yes 25 times, B 30 times: p_e = (25*30 + 25*20) / 2500 = 0.5; kappa = 0.2/0.5 = 0.4.
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_edge_cases() -> None:
    assert cohen_kappa(["O", "O"], ["O", "O"]) == 1.0  # p_e = 1: identical constant labelling
    assert cohen_kappa([], []) == 1.0
    assert cohen_kappa(["A", "B"], ["B", "A"]) == pytest.approx(-1.0)  # p_o 0, p_e 1/2
    with pytest.raises(ValueError):
        cohen_kappa(["A"], [])


def test_token_labels_take_the_longest_covering_span() -> None:
    toks = [(0, 5), (6, 9), (10, 13)]
    spans = [Span(0, 0, 13, "ORG"), Span(1, 6, 9, "PER")]
    assert token_labels(spans, toks) == ["ORG", "ORG", "ORG"]
    assert token_labels([Span(0, 6, 9, "PER")], toks) == ["O", "PER", "O"]


def test_two_annotators_on_one_document() -> None:
    ag = agreement({"ann": {"d1": A}, "bea": {"d1": B}})
    (p,) = ag.pairs
    # Spans: Alice agrees; Bob PER/ORG and Paris disagree. tp 1, fp 1, fn 2:
    # P 1/2, R 1/3, F1 = 2*(1/2)(1/3)/(5/6) = 0.4.
    assert p.spans["strict"].micro.f1 == pytest.approx(0.4)
    assert p.spans["overlap"].micro.f1 == pytest.approx(0.4)
    # The only relation (ann's Alice -> Bob) has no counterpart: F1 0.
    assert p.relations["strict"].micro.f1 == 0.0
    # Tokens: ann PER O PER O LOC, bea PER O ORG O O. p_o = 3/5;
    # p_e = (PER 2*1 + O 2*3) / 25 = 8/25; kappa = (0.6 - 0.32) / 0.68 = 7/17.
    assert p.tokens == 5
    assert p.kappa == pytest.approx(7 / 17)


def test_means_over_three_annotators_and_the_lowest_documents() -> None:
    c = Record(text=TEXT, doc_id="d1", annotator="cy", entities=list(A.entities), relations=list(A.relations))
    ag = agreement(
        {
            "ann": {"d1": A, "d2": easy("ann")},
            "bea": {"d1": B, "d2": easy("bea")},
            "cy": {"d1": c, "d2": easy("cy")},
        }
    )
    assert [(p.a, p.b) for p in ag.pairs] == [("ann", "bea"), ("ann", "cy"), ("bea", "cy")]
    # Pooled per pair over d1 and d2 (d2 agrees: one more tp each).
    # ann/bea: tp 2, fp 1, fn 2 -> P 2/3, R 1/2, F1 4/7. ann/cy: 1. bea/cy: 4/7 again.
    assert ag.mean("span_f1") == pytest.approx((4 / 7 + 1 + 4 / 7) / 3)
    # d1 per-document strict F1: ann/bea 0.4, ann/cy 1, bea/cy 0.4 -> mean 0.6; d2 is 1.
    assert [d.doc_id for d in ag.documents] == ["d1", "d2"]
    assert ag.documents[0].span_f1 == pytest.approx(0.6)
    assert ag.documents[0].kappa == pytest.approx((7 / 17 + 1 + 7 / 17) / 3)
    assert ag.documents[1].span_f1 == 1.0


def test_document_whose_text_differs_is_not_scored() -> None:
    changed = Record(text=TEXT + ".", doc_id="d1", annotator="bea")
    ag = agreement({"ann": {"d1": A}, "bea": {"d1": changed}})
    assert ag.pairs[0].docs == 0
    assert ag.pairs[0].changed == ["d1"]


def test_one_annotator_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        agreement({"ann": {"d1": A}})


def _write(path, records) -> None:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")


def test_one_file_with_annotator_fields_or_one_file_per_annotator(tmp_path) -> None:
    _write(tmp_path / "all.jsonl", [A, B])
    assert sorted(load_annotations([tmp_path / "all.jsonl"])) == ["ann", "bea"]
    plain_a = Record(text=TEXT, doc_id="d1", entities=list(A.entities))
    _write(tmp_path / "first.jsonl", [plain_a])
    _write(tmp_path / "second.jsonl", [Record(text=TEXT, doc_id="d1")])
    assert sorted(load_annotations([tmp_path / "first.jsonl", tmp_path / "second.jsonl"])) == [
        "first",
        "second",
    ]
    _write(tmp_path / "dup.jsonl", [A, A])
    with pytest.raises(DataError) as e:
        load_annotations([tmp_path / "dup.jsonl"])
    assert e.value.line == 2


def test_cli_prints_pairs_means_and_lowest_documents(tmp_path) -> None:
    _write(tmp_path / "all.jsonl", [A, B, easy("ann"), easy("bea")])
    r = CliRunner().invoke(
        app, ["agreement", str(tmp_path / "all.jsonl"), "--format", "json"], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["annotators"] == ["ann", "bea"]
    assert j["pairs"][0]["kappa"] == round(
        cohen_kappa(
            ["PER", "O", "PER", "O", "LOC", "LOC", "O", "O"], ["PER", "O", "ORG", "O", "O", "LOC", "O", "O"]
        ),
        6,
    )
    assert [d["doc_id"] for d in j["lowest_documents"]] == ["d1", "d2"]
    r = CliRunner().invoke(
        app, ["agreement", str(tmp_path / "all.jsonl"), "--lowest", "1"], catch_exceptions=False
    )
    assert "lowest agreement (of 2 documents)" in r.stdout
    assert "d2" not in r.stdout.split("lowest agreement")[1]


def test_cli_with_a_single_annotator_exits_2(tmp_path) -> None:
    _write(tmp_path / "one.jsonl", [A])
    r = CliRunner().invoke(app, ["agreement", str(tmp_path / "one.jsonl")])
    assert r.exit_code == 2
    assert "at least two annotators" in r.stderr
