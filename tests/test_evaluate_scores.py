"""Evaluation on a hand-made case whose every count and score is worked out in the comments."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from annotate.cli import app
from annotate.errors import DataError
from annotate.quality.evaluate import PRF, evaluate, evaluate_doc, format_text
from annotate.records.model import Record, Relation, Span

TEXT = "Alice met Bob in Paris and London on Monday."
# Alice 0-5, met 6-9, Bob 10-13, Paris 17-22, "Paris and" 17-26, London 27-33, Monday 37-43.

GOLD = Record(
    text=TEXT,
    doc_id="d1",
    entities=[
        Span(0, 0, 5, "PER"),  # Alice
        Span(1, 10, 13, "PER"),  # Bob
        Span(2, 17, 22, "LOC"),  # Paris
        Span(3, 27, 33, "LOC"),  # London
        Span(4, 37, 43, "DATE"),  # Monday
    ],
    relations=[
        Relation(0, 0, 2, "CoLocated"),  # Alice -> Paris
        Relation(1, 1, 3, "CoLocated"),  # Bob -> London
        Relation(2, 0, 1, "CommWith"),  # Alice -> Bob
    ],
)

PRED = Record(
    text=TEXT,
    doc_id="d1",
    entities=[
        Span(10, 0, 5, "PER", source="model:sm"),  # kept
        Span(11, 10, 13, "ORG", source="model:sm"),  # relabelled ORG -> PER
        Span(12, 17, 26, "LOC", source="pattern:places.jsonl"),  # boundary-shifted ("Paris and")
        Span(13, 6, 9, "PER", source="model:sm"),  # deleted ("met")
        # London and Monday are missed: the annotator added them.
    ],
    relations=[
        Relation(20, 10, 12, "CoLocated", source="rule:svo"),  # kept (its tail was shifted)
        Relation(21, 10, 11, "Likes", source="rule:svo"),  # retyped Likes -> CommWith
        Relation(22, 13, 10, "CommWith", source="rule:title"),  # removed
    ],
)


def test_correction_effort_counts_each_kind_of_edit() -> None:
    d = evaluate_doc(PRED, GOLD)
    e = d.span_effort
    assert (e.kept, e.relabelled, e.shifted, e.deleted, e.added) == (1, 1, 1, 1, 2)
    assert d.pred_status == ["kept", "relabelled", "shifted", "deleted"]
    assert d.gold_status == ["kept", "relabelled", "shifted", "added", "added"]
    r = d.relation_effort
    # Bob -> London was added by hand; Alice -> Bob (CommWith) was the retyped "Likes".
    assert (r.kept, r.retyped, r.removed, r.added) == (1, 1, 1, 1)
    assert d.pred_relation_status == ["kept", "retyped", "removed"]
    assert d.gold_relation_status == ["kept", "added", "retyped"]


def test_strict_entity_scores_per_label_micro_and_macro() -> None:
    s = evaluate_doc(PRED, GOLD).entities["strict"]
    # PER: Alice right, "met" wrong, Bob missed -> P 1/2, R 1/2, F1 1/2.
    assert s.per_label["PER"] == PRF(tp=1, fp=1, fn=1)
    assert s.per_label["PER"].f1 == pytest.approx(0.5)
    assert s.per_label["ORG"] == PRF(tp=0, fp=1, fn=0)
    assert s.per_label["LOC"] == PRF(tp=0, fp=1, fn=2)
    assert s.per_label["DATE"] == PRF(tp=0, fp=0, fn=1)
    # micro: tp 1, fp 3, fn 4 -> P 1/4, R 1/5, F1 = 2*(1/4)(1/5)/(9/20) = 2/9.
    assert s.micro == PRF(1, 3, 4)
    assert s.micro.precision == pytest.approx(0.25)
    assert s.micro.recall == pytest.approx(0.2)
    assert s.micro.f1 == pytest.approx(2 / 9)
    # macro F1 over the 4 labels seen: (1/2 + 0 + 0 + 0) / 4.
    assert s.macro.f1 == pytest.approx(0.125)


def test_overlap_mode_credits_moved_boundaries_but_not_other_labels() -> None:
    s = evaluate_doc(PRED, GOLD).entities["overlap"]
    # "Paris and" LOC now matches Paris LOC; Bob as ORG still does not match Bob PER.
    assert s.per_label["LOC"] == PRF(tp=1, fp=0, fn=1)
    assert s.per_label["LOC"].f1 == pytest.approx(2 / 3)
    # micro: tp 2, fp 2, fn 3 -> P 1/2, R 2/5, F1 = 2*(1/2)(2/5)/(9/10) = 4/9.
    assert s.micro == PRF(2, 2, 3)
    assert s.micro.f1 == pytest.approx(4 / 9)
    # macro: (1/2 [PER] + 2/3 [LOC] + 0 [ORG] + 0 [DATE]) / 4 = 7/24.
    assert s.macro.f1 == pytest.approx(7 / 24)


def test_relation_is_correct_only_when_both_endpoints_and_type_match() -> None:
    d = evaluate_doc(PRED, GOLD)
    strict, overlap = d.relations["strict"], d.relations["overlap"]
    # Strict: the CoLocated tail "Paris and" is not Paris, so nothing is right: tp 0, fp 3, fn 3.
    assert strict.micro == PRF(0, 3, 3)
    assert strict.micro.f1 == 0.0
    # Overlap: Alice -> "Paris and" now counts; P = R = F1 = 1/3.
    assert overlap.per_label["CoLocated"] == PRF(tp=1, fp=0, fn=1)
    assert overlap.micro == PRF(1, 2, 2)
    assert overlap.micro.f1 == pytest.approx(1 / 3)


def test_provenance_says_which_source_produced_what() -> None:
    ev = evaluate([PRED], [GOLD])
    model = ev.span_provenance["model:sm"]
    assert (model.produced, model.kept, model.relabelled, model.shifted, model.deleted) == (3, 1, 1, 0, 1)
    assert model.precision == pytest.approx(1 / 3)
    pattern = ev.span_provenance["pattern:places.jsonl"]
    assert (pattern.produced, pattern.kept, pattern.shifted) == (1, 0, 1)
    svo, title = ev.relation_provenance["rule:svo"], ev.relation_provenance["rule:title"]
    assert (svo.produced, svo.kept, svo.relabelled, svo.deleted) == (2, 1, 1, 0)
    assert (title.produced, title.kept, title.deleted) == (1, 0, 1)
    assert dict(ev.relabels) == {("ORG", "PER"): 1}
    j = ev.to_dict()
    assert j["provenance"]["missed_spans"] == 2
    assert j["provenance"]["relations"]["rule:svo"] == {
        "produced": 2,
        "kept": 1,
        "retyped": 1,
        "removed": 0,
        "precision": 0.5,
    }


def test_document_whose_text_changed_is_reported_not_scored() -> None:
    other_gold = Record(text="Bob went home.", doc_id="d2", entities=[Span(0, 0, 3, "PER")])
    other_pred = Record(text="Bob went home!", doc_id="d2", entities=[Span(0, 0, 3, "ORG")])
    only_pred = Record(text="x", doc_id="d3")
    only_gold = Record(text="y", doc_id="d4")
    ev = evaluate([PRED, other_pred, only_pred], [GOLD, other_gold, only_gold])
    assert [d.doc_id for d in ev.docs] == ["d1"]
    assert ev.changed == ["d2"]
    assert ev.missing_pred == ["d4"]
    assert ev.missing_gold == ["d3"]
    # Only d1 counted: the changed document's wrong ORG does not appear anywhere.
    assert "ORG" in ev.entities["strict"].per_label
    assert ev.entities["strict"].micro == PRF(1, 3, 4)
    assert "text changed: d2" in format_text(ev)


def test_scores_pool_over_documents() -> None:
    perfect = Record(text="Bob ran.", doc_id="d2", entities=[Span(0, 0, 3, "PER")])
    ev = evaluate([PRED, perfect], [GOLD, perfect])
    # d1's tp 1, fp 3, fn 4 plus d2's tp 1.
    assert ev.entities["strict"].micro == PRF(2, 3, 4)
    assert ev.span_effort.kept == 2


def test_duplicate_document_is_a_data_error_with_its_line() -> None:
    with pytest.raises(DataError) as e:
        evaluate([PRED], [GOLD, GOLD])
    assert e.value.code == "E170"
    assert e.value.line == 2


def test_empty_prediction_has_zero_precision_and_recall_not_an_error() -> None:
    ev = evaluate([Record(text=TEXT, doc_id="d1")], [GOLD])
    assert ev.entities["strict"].micro == PRF(0, 0, 5)
    assert ev.entities["strict"].micro.precision == 0.0
    assert ev.span_effort.added == 5


spans = st.lists(
    st.tuples(st.integers(0, 30), st.integers(1, 8), st.sampled_from(["A", "B"])), max_size=8
).map(lambda xs: [Span(i, s, s + n, lab) for i, (s, n, lab) in enumerate(xs)])


@settings(max_examples=200, deadline=None)
@given(pred=spans, gold=spans)
def test_effort_accounts_for_every_span_and_strict_never_beats_overlap(
    pred: list[Span], gold: list[Span]
) -> None:
    text = "x" * 40
    d = evaluate_doc(
        Record(text=text, doc_id="d", entities=pred), Record(text=text, doc_id="d", entities=gold)
    )
    e = d.span_effort
    assert e.kept + e.relabelled + e.shifted + e.deleted == len(pred)
    assert e.kept + e.relabelled + e.shifted + e.added == len(gold)
    s, o = d.entities["strict"].micro, d.entities["overlap"].micro
    assert s.tp + s.fp == o.tp + o.fp == len(pred)
    assert s.tp + s.fn == o.tp + o.fn == len(gold)
    assert s.tp == e.kept
    assert s.tp <= o.tp


def _write(path, records) -> None:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")


def test_cli_json_report_has_the_worked_out_numbers(tmp_path) -> None:
    _write(tmp_path / "pred.jsonl", [PRED])
    _write(tmp_path / "gold.jsonl", [GOLD])
    r = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--pred",
            str(tmp_path / "pred.jsonl"),
            "--gold",
            str(tmp_path / "gold.jsonl"),
            "--format",
            "json",
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["entities"]["strict"]["micro"]["f1"] == round(2 / 9, 6)
    assert j["entities"]["overlap"]["macro"]["f1"] == round(7 / 24, 6)
    assert j["correction_effort"]["spans"] == {
        "kept": 1,
        "relabelled": 1,
        "boundary_shifted": 1,
        "deleted": 1,
        "added": 2,
        "edits": 5,
    }
    assert j["correction_effort"]["relations"]["retyped"] == 1


def test_cli_refuses_to_overwrite_the_html_report_without_force(tmp_path) -> None:
    _write(tmp_path / "pred.jsonl", [PRED])
    _write(tmp_path / "gold.jsonl", [GOLD])
    html = tmp_path / "report.html"
    html.write_text("mine", encoding="utf-8")
    args = ["evaluate", "--pred", str(tmp_path / "pred.jsonl"), "--gold", str(tmp_path / "gold.jsonl")]
    r = CliRunner().invoke(app, [*args, "--html", str(html)], catch_exceptions=False)
    assert r.exit_code == 2
    assert "E220" in r.stderr
    assert html.read_text(encoding="utf-8") == "mine"
    r = CliRunner().invoke(app, [*args, "--html", str(html), "--force"], catch_exceptions=False)
    assert r.exit_code == 0
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "kept, 1 deleted, 2 added, 1 relabelled, 1 boundary-shifted" in r.stdout


def test_cli_refuses_a_missing_file_before_reading_anything(tmp_path) -> None:
    _write(tmp_path / "gold.jsonl", [GOLD])
    r = CliRunner().invoke(
        app, ["evaluate", "--pred", str(tmp_path / "nope.jsonl"), "--gold", str(tmp_path / "gold.jsonl")]
    )
    assert r.exit_code == 2
    assert "[E201] --pred" in r.stderr and "nope.jsonl" in r.stderr


def test_cli_names_the_file_and_line_of_a_duplicate_document(tmp_path) -> None:
    _write(tmp_path / "pred.jsonl", [PRED])
    _write(tmp_path / "gold.jsonl", [GOLD, GOLD])
    r = CliRunner().invoke(
        app, ["evaluate", "--pred", str(tmp_path / "pred.jsonl"), "--gold", str(tmp_path / "gold.jsonl")]
    )
    assert r.exit_code == 1
    assert f"[E170] {tmp_path / 'gold.jsonl'}:2: doc_id 'd1' appears twice" in r.stderr


def _talks(head: int, tail: int, **kw) -> Record:
    text = "Alice called Bob."
    return Record(
        text=text,
        doc_id="t",
        entities=[Span(0, 0, 5, "PER", **kw), Span(1, 13, 16, "PER", **kw)],
        relations=[Relation(0, head, tail, "TALKS_TO")],
    )


def test_undirected_relation_types_match_either_way_round() -> None:
    pred, gold = _talks(0, 1, source="model:x"), _talks(1, 0)
    directed = evaluate_doc(pred, gold)
    assert directed.relations["strict"].micro == PRF(0, 1, 1)
    assert (directed.relation_effort.removed, directed.relation_effort.added) == (1, 1)
    both = evaluate_doc(pred, gold, undirected={"TALKS_TO"})
    assert both.relations["strict"].micro == PRF(1, 0, 0)
    assert both.relation_effort.kept == 1


def test_cli_takes_undirected_types_from_the_recipe(tmp_path) -> None:
    _write(tmp_path / "pred.jsonl", [_talks(0, 1)])
    _write(tmp_path / "gold.jsonl", [_talks(1, 0)])
    (tmp_path / "r.toml").write_text(
        'name = "r"\nversion = "1"\n[[labels]]\nname = "PER"\n'
        '[[relations]]\nname = "TALKS_TO"\ndirected = false\n',
        encoding="utf-8",
    )
    args = ["evaluate", "--pred", str(tmp_path / "pred.jsonl"), "--gold", str(tmp_path / "gold.jsonl")]
    r = CliRunner().invoke(app, [*args, "--format", "json"], catch_exceptions=False)
    assert json.loads(r.stdout)["relations"]["strict"]["micro"]["f1"] == 0.0
    r = CliRunner().invoke(
        app, [*args, "--format", "json", "-r", str(tmp_path / "r.toml")], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["relations"]["strict"]["micro"]["f1"] == 1.0
