"""preannotate --order uncertainty: the same records, most uncertain first, the same bytes on
every run and with --n-process; the beam's probabilities and how a document is scored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.errors import DataError
from annotate.nlp.preannotate import preannotate
from annotate.nlp.uncertainty import (
    DISAGREEMENT,
    METHOD_BEAM,
    METHOD_SOURCES,
    SpanView,
    by_uncertainty,
    score_document,
)
from annotate.recipe import load_recipe
from annotate.records.model import Record
from tests import test_preannotate_run as run_tests
from tests.test_preannotate_run import DOCS, NEWS, ROOT, cli

corpus = run_tests.corpus  # the same documents as the run tests, as a fixture
RE3D = ROOT / "tests" / "data" / "re3d" / "us-state-department.jsonl"
runner = CliRunner()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def without_uncertainty(record: dict[str, Any]) -> str:
    meta = {k: v for k, v in record["meta"].items() if k != "uncertainty"}
    return json.dumps(dict(record, meta=meta), sort_keys=True)


def test_ordered_output_is_the_same_records_sorted_by_score(corpus: Path, tmp_path: Path) -> None:
    plain, ordered, again = tmp_path / "p.jsonl", tmp_path / "o.jsonl", tmp_path / "o2.jsonl"
    cli(str(corpus), "--recipe", str(NEWS), "--out", str(plain))
    cli(str(corpus), "--recipe", str(NEWS), "--out", str(ordered), "--order", "uncertainty")
    cli(str(corpus), "-r", str(NEWS), "-o", str(again), "--order", "uncertainty", "--batch-size", "1")
    assert ordered.read_bytes() == again.read_bytes()
    records = lines(ordered)
    assert sorted(map(without_uncertainty, records)) == sorted(map(without_uncertainty, lines(plain)))
    keys = [(-r["meta"]["uncertainty"]["score"], r["doc_id"]) for r in records]
    assert keys == sorted(keys)
    assert len({k[0] for k in keys}) > 1  # the scores tell the documents apart
    for r in records:
        u = r["meta"]["uncertainty"]
        assert u["method"] == METHOD_BEAM and 0 <= u["score"] <= 1 and u["tokens"] > 0
    assert "uncertainty" not in lines(plain)[0]["meta"]


@pytest.mark.slow
def test_two_processes_give_the_same_ordered_bytes_as_one(corpus: Path, tmp_path: Path) -> None:
    for i in range(6):
        (corpus / f"x{i}.txt").write_text(DOCS["c.txt"] + f" It met {i} times in Kazan.", encoding="utf-8")
    one, two = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    common = ["--recipe", str(NEWS), "--batch-size", "2", "--order", "uncertainty"]
    cli(str(corpus), *common, "--out", str(one))
    cli(str(corpus), *common, "--out", str(two), "--n-process", "2")
    assert one.read_bytes() == two.read_bytes()


def test_the_beam_agrees_with_the_greedy_ner_and_spreads_its_doubt(tmp_path: Path) -> None:
    """spaCy's own beam_parse sums raw scores and, with a greedy-trained NER, prefers absurd
    55-token DATE spans on this text; normalised, the beam's likely spans are the NER's spans."""
    first = json.loads(RE3D.read_text(encoding="utf-8").splitlines()[1])
    (tmp_path / "in.jsonl").write_text(json.dumps({"doc_id": "x", "text": first["text"]}) + "\n")
    recipe = load_recipe(ROOT / "bench" / "quality" / "re3d-baseline.toml")
    run = preannotate([str(tmp_path / "in.jsonl")], recipe, uncertainty=True)
    nlp = run.pipeline.nlp
    (record,) = list(run.records)
    doc = nlp(first["text"])
    beam = doc.user_data["annotate.beam"]
    likely = {(s, e, label) for s, e, label, p in beam if p > 0.5}
    greedy = {(e.start, e.end, e.label_) for e in doc.ents}
    assert len(likely & greedy) >= 0.9 * len(greedy)
    assert max(e - s for s, e, _ in likely) < 10
    u = record.meta["uncertainty"]
    assert 0 < u["expected_errors"] < len(record.entities)
    assert 0 < u["least_sure"] < 1


def test_a_patterns_only_pipeline_scores_source_disagreement(corpus: Path) -> None:
    run = preannotate([str(corpus / "b.txt")], load_recipe(NEWS), model="blank:en", uncertainty=True)
    (record,) = list(run.records)
    assert record.meta["uncertainty"]["method"] == METHOD_SOURCES
    assert "annotate_beam_scores" not in run.pipeline.nlp.pipe_names


def test_a_document_score_counts_doubt_per_token() -> None:
    spans = [SpanView(0, 5, "ORG", True), SpanView(10, 15, "GPE", True), SpanView(20, 25, "ORG", False)]
    marginals = {(0, 5, "ORG"): 0.9, (10, 15, "GPE"): 0.6, (10, 15, "ORG"): 0.3}
    u = score_document(spans, [], marginals, [], frozenset({"GPE"}), tokens=10)
    # 0.1 + 0.4 for the proposed model spans, 0.3 for the label left out; the ORG pattern
    # span is not judged, since the model cannot give ORG here.
    assert u["expected_errors"] == pytest.approx(0.8)
    assert u["score"] == pytest.approx(0.08)
    assert u["least_sure"] == pytest.approx(0.6)
    assert u["decisions"] == 4
    judged = score_document(spans, [], marginals, [], frozenset({"GPE", "ORG"}), tokens=10)
    assert judged["expected_errors"] == pytest.approx(1.8)  # the model never proposed 20-25 ORG


def test_relations_are_as_sure_as_their_arguments_and_rules_that_disagree_count() -> None:
    spans = [SpanView(0, 5, "ORG", True), SpanView(10, 15, "GPE", True)]
    marginals = {(0, 5, "ORG"): 1.0, (10, 15, "GPE"): 0.75}
    one = score_document(spans, [(0, 1, "IN")], marginals, [], frozenset(), tokens=1)
    assert one["expected_errors"] == pytest.approx(0.25 + 0.25)
    two = score_document(spans, [(0, 1, "IN"), (1, 0, "HAS")], marginals, [], frozenset(), tokens=1)
    assert two["expected_errors"] == pytest.approx(0.25 + 2 * DISAGREEMENT)
    lost = score_document([], [], None, [(0, 3, "ORG")], frozenset(), tokens=4)
    assert lost["method"] == METHOD_SOURCES and lost["score"] == pytest.approx(DISAGREEMENT / 4)


def record(doc_id: str, score: float | None) -> Record:
    meta = {} if score is None else {"uncertainty": {"score": score}}
    return Record(text=f"text of {doc_id}", doc_id=doc_id, meta=meta)


def test_sorting_breaks_ties_by_doc_id_and_needs_every_score() -> None:
    recs = [record("b", 0.5), record("c", 0.1), record("a", 0.5), record("d", 0.9)]
    assert [r.doc_id for r in by_uncertainty(recs)] == ["d", "a", "b", "c"]
    assert [r.to_dict() for r in by_uncertainty(recs[::-1])] == [r.to_dict() for r in by_uncertainty(recs)]
    with pytest.raises(DataError, match="no meta.uncertainty"):
        list(by_uncertainty([record("a", 0.5), record("b", None)]))


def test_an_unknown_order_is_a_usage_error(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["preannotate", str(corpus), "-r", str(NEWS), "-o", str(out), "--order", "x"])
    assert result.exit_code == 2
    assert "unknown --order" in result.stderr and "Traceback" not in result.output
    assert not out.exists()
