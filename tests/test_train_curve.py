"""annotate train --curve: four steps on growing shares of the same training split, one dev
split, a table and a plot, and clear errors for gold that cannot make a curve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.errors import DataError
from annotate.quality.curve import CurvePoint, CurveResult, step_sizes
from tests.test_train_pipeline import RECIPE_TOML, gold_records

runner = CliRunner()


def run_curve(tmp_path: Path, gold: Path, *extra: str) -> tuple[int, str]:
    (tmp_path / "tiny.toml").write_text(RECIPE_TOML, encoding="utf-8")
    args = ["train", str(gold), "-r", str(tmp_path / "tiny.toml"), "-o", str(tmp_path / "curve"), "--curve"]
    r = runner.invoke(app, [*args, *extra])
    return r.exit_code, r.stderr + r.stdout


def write(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in gold_records()[:n]), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_curve_has_four_steps_on_nested_subsets_and_one_dev_split(tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    code, out = run_curve(tmp_path, write(tmp_path / "gold.jsonl", 12), "--max-steps", "3")
    assert code == 0, out
    summary = json.loads((tmp_path / "curve" / "curve.json").read_text(encoding="utf-8"))
    points = summary["points"]
    assert [p["fraction"] for p in points] == [0.25, 0.5, 0.75, 1.0]
    docs = [p["train_docs"] for p in points]
    assert docs == sorted(docs) and docs[0] >= 1 and docs[-1] + summary["dev_docs"] == 12
    assert all("ents_f" in p["dev_scores"] for p in points)
    vocab = spacy.blank("en").vocab
    corpus = tmp_path / "curve" / "corpus"
    bins = [DocBin().from_disk(corpus / f"train-{k:04d}.spacy") for k in docs]
    ids = [{d.user_data["doc_id"] for d in b.get_docs(vocab)} for b in bins]
    assert all(a < b for a, b in zip(ids, ids[1:], strict=False))  # each step adds documents
    for p in points:
        assert (tmp_path / "curve" / p["model_best"] / "config.cfg").is_file()
    html = (tmp_path / "curve" / "curve.html").read_text(encoding="utf-8")
    assert '<section id="curve">' in html and "<svg" in html and html.count("<circle") == 12
    assert summary["verdict"] in out and ("still gaining" in out or "flat" in out)
    assert "100%" in out and "ΔF1" in out


def test_an_empty_gold_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "gold.jsonl").write_text("", encoding="utf-8")
    code, out = run_curve(tmp_path, tmp_path / "gold.jsonl")
    assert code == 1
    assert "no records to train on" in out and "gold.jsonl" in out and "Traceback" not in out
    assert not (tmp_path / "curve").exists()


def test_a_share_of_no_document_is_a_clear_error_before_any_training(tmp_path: Path) -> None:
    code, out = run_curve(tmp_path, write(tmp_path / "gold.jsonl", 3), "--dev", "0.3")
    assert code == 1, out
    assert "[E193]" in out and "is 0 documents" in out and "at least 4 training documents" in out
    assert "Traceback" not in out
    assert not (tmp_path / "curve").exists()


def test_a_curve_without_a_dev_split_is_refused(tmp_path: Path) -> None:
    # --dev 0 trains on every document; a curve needs its one dev split.
    code, out = run_curve(tmp_path, write(tmp_path / "gold.jsonl", 12), "--dev", "0")
    assert code != 0, out
    assert "[E276]" in out and "--dev must lie between 0 (exclusive) and 1" in out
    assert "Traceback" not in out
    assert not (tmp_path / "curve").exists()


def test_step_sizes_round_down_and_refuse_zero() -> None:
    assert step_sizes(10, (0.25, 0.5, 0.75, 1.0), "g") == [2, 5, 7, 10]
    assert step_sizes(4, (0.25, 0.5, 0.75, 1.0), "g") == [1, 2, 3, 4]
    with pytest.raises(DataError, match="25% of the 3 training documents is 0"):
        step_sizes(3, (0.25, 0.5, 0.75, 1.0), "g")


def point(fraction: float, f1: float) -> CurvePoint:
    return CurvePoint(fraction, int(fraction * 40), 10, 1.0, {"ents_p": f1, "ents_r": f1, "ents_f": f1})


def test_the_verdict_says_whether_the_last_step_still_gained(tmp_path: Path) -> None:
    steps = [point(0.25, 0.3), point(0.5, 0.4), point(0.75, 0.45)]
    gaining = CurveResult(tmp_path, 9, [*steps, point(1.0, 0.5)])
    assert gaining.still_gaining and gaining.verdict().startswith("still gaining")
    flat = CurveResult(tmp_path, 9, [*steps[:2], point(0.75, 0.5), point(1.0, 0.503)])
    assert not flat.still_gaining and flat.verdict().startswith("flat")
    assert "30 to 40 training documents: dev F1 +0.003" in flat.verdict()
