"""Export with worker processes (``n_process``): the same files as one process, chunk after chunk."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.tokens import DocBin

from annotate.errors import UsageError
from annotate.export import ExportOptions, export, export_records, plan, writing
from annotate.formats import spacy_docbin
from annotate.formats.jsonl import write_records
from annotate.formats.spacy_docbin import read_docbin
from annotate.records.model import Record, Span
from annotate.workers import can_fork
from tests.test_export_formats import keyed, messy_records
from tests.test_export_streaming import many_records

pytestmark = pytest.mark.skipif(not can_fork(), reason="worker processes are forked")

ALL = ["spacy", "conll", "brat", "hf", "jsonl"]
RE3D = sorted((Path(__file__).parent / "data" / "re3d").glob("*.jsonl"))


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def records() -> list[Record]:
    """Overlaps, misaligned spans, dangling relations, an empty text, unconfirmed documents, and
    doc_ids that brat must rename (repeated, or unsafe as file names)."""
    many = [dataclasses.replace(r, confirmed=i % 3 != 0) for i, r in enumerate(many_records(30))]
    out = [*messy_records(), *many, Record(text="", doc_id="empty")]
    twin = Record(text="Paris again.", doc_id="d3", entities=[Span(0, 0, 5, "Location")])
    unsafe = Record(text="Kyiv, later.", doc_id="a/b", entities=[Span(0, 0, 4, "Location")], confirmed=False)
    return [*out, twin, unsafe]


@pytest.mark.parametrize(("chunk", "only_confirmed"), [(1, False), (4, True), (64, False)])
def test_workers_write_every_format_byte_for_byte_as_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, only_confirmed: bool
) -> None:
    monkeypatch.setattr(writing, "CHUNK_DOCS", chunk)
    options = {"to": ALL, "split": "train=0.6,dev=0.2,test=0.2", "only_confirmed": only_confirmed}
    one = export_records(records(), tmp_path / "one", ExportOptions(**options))  # type: ignore[arg-type]
    three = export_records(records(), tmp_path / "three", ExportOptions(n_process=3, **options))  # type: ignore[arg-type]
    assert files(tmp_path / "three") == files(tmp_path / "one")
    assert three.manifest == one.manifest
    assert one.manifest["not_represented"] and one.manifest["alignment_changes"]
    assert bool(one.manifest["excluded"]) == only_confirmed


def test_workers_give_the_same_export_of_a_real_file_gated_and_read_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(b"".join(p.read_bytes() for p in RE3D))
    export(gold, tmp_path / "one", ExportOptions(to=ALL))
    # A file larger than KEEP_RECORDS is read again for pass 2, in this process.
    monkeypatch.setattr(plan, "KEEP_RECORDS", 10)
    monkeypatch.setattr(writing, "CHUNK_DOCS", 5)
    seen: list[int] = []
    report = export(gold, tmp_path / "two", ExportOptions(to=ALL, n_process=2), progress=seen.append)
    assert files(tmp_path / "two") == files(tmp_path / "one")
    assert sum(seen) == sum(report.split_docs.values()) == 71 and len(seen) > 1


def test_workers_fill_docbin_shards_as_one_process_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spacy_docbin, "SHARD_DOCS", 4)
    monkeypatch.setattr(writing, "CHUNK_DOCS", 3)
    recs = many_records(40)
    one = export_records(recs, tmp_path / "one", ExportOptions(split="train=0.7,dev=0.3"))
    two = export_records(recs, tmp_path / "two", ExportOptions(split="train=0.7,dev=0.3", n_process=2))
    assert two.manifest == one.manifest
    for split in one.split_docs:
        a, b = one.path("spacy", split), two.path("spacy", split)
        assert a.is_dir() and sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
        for shard in sorted(a.glob("*.spacy")):
            mine, theirs = DocBin().from_disk(b / shard.name), DocBin().from_disk(shard)
            assert len(mine) == len(theirs) <= 4
            # A shard gets the strings of the chunks its Docs came from: those of its Docs, at least.
            assert mine.strings >= theirs.strings
        assert [keyed(r) for r in read_docbin(b)] == [keyed(r) for r in read_docbin(a)]
        assert [r.text for r in read_docbin(b)] == [r.text for r in read_docbin(a)]


def test_n_process_must_be_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least 1"):
        export_records(many_records(2), tmp_path / "out", ExportOptions(n_process=0))
    assert not (tmp_path / "out").exists()


def test_a_dead_export_worker_is_a_clear_error_and_leaves_no_output(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    write_records(gold, many_records(12))
    script = tmp_path / "die.py"
    script.write_text(
        "import os, sys\n"
        "import annotate.export.writing as E\n"
        "def dying(shared, chunk):\n"
        "    os._exit(9)\n"
        "E._forked_chunk = dying\n"
        "from annotate.cli import app\n"
        "app(sys.argv[1:])\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(script), "export", str(gold), "--to", "spacy,conll", "--out", str(out)]
        + ["--n-process", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ANNOTATE_NO_PROGRESS": "1"},
    )
    assert done.returncode != 0, done.stderr
    assert "[E280]" in done.stderr and "export worker process died" in done.stderr
    assert "Traceback" not in done.stderr
    # Neither the output nor its temporary directory is left behind.
    assert set(tmp_path.iterdir()) == {gold, script}
