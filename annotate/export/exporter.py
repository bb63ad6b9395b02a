"""Export gold records to training formats, by document splits, with nothing lost without a report.

``export()`` reads and gates a gold JSONL file; ``export_records()`` does the work on records
(``annotate train`` calls it to make its DocBins). Both write one directory atomically:

    DIR/manifest.json
    DIR/spacy/<split>.spacy (or DIR/spacy/<split>/NNN.spacy shards for a large split)
    DIR/conll/<split>.conll    DIR/hf/<split>.jsonl + labels.json
    DIR/brat/<split>/<doc>.txt|.ann + annotation.conf       DIR/jsonl/<split>.jsonl

An export is four steps, each in its own module: the gate (:mod:`~annotate.export.gate`, the
input file, validated as it is first read), the split (:mod:`~annotate.export.plan`, pass 1:
each document's split and the label lists), writing per format
(:mod:`~annotate.export.writing`, pass 2: each document tokenised once, in one process or in
forked chunks) and the manifest (:mod:`~annotate.export.manifest`). Memory stays flat in the
number of documents: pass 1 keeps only what the split needs, and every writer writes as it goes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.export.gate import open_input
from annotate.export.manifest import MANIFEST, build_manifest, write_manifest
from annotate.export.options import ExportOptions
from annotate.export.plan import plan_export
from annotate.export.writing import DocWriter, blank, finish_writers, open_writers, write_documents
from annotate.fileio import atomic_dir
from annotate.formats.prepared import Tally
from annotate.records.model import Record


@dataclass
class ExportReport:
    """What an export wrote: per-format tallies, documents per split, and the manifest."""

    out_dir: Path
    tallies: dict[str, Tally]
    split_docs: dict[str, int]
    excluded_docs: int
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return all(t.balanced for t in self.tallies.values())

    def path(self, fmt: str, split: str) -> Path:
        """Return the path of one format's file (or directory) for one split."""
        return self.out_dir / fmt / self.tallies[fmt].files[split]


def export(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: ExportOptions | None = None,
    *,
    validate: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Export a gold JSONL file; return the report (also written as ``manifest.json``).

    ``options`` defaults to ``ExportOptions()``. The file is first validated (``validate=False``
    skips that, for a caller that has just validated it): it is refused only when a record
    cannot be read safely (bad JSON or encoding, not an object, schema errors). Every other
    finding is counted in the manifest, and export reports what it could not write. The file is
    read twice (see :mod:`annotate.export.plan`); stdin is read into memory once.
    ``options.n_process`` > 1 tokenises, aligns and renders the documents in that many forked
    worker processes, a chunk at a time; this process writes the chunks in order, so the output
    is the same as with one process (a DocBin shard of a split larger than ``SHARD_DOCS`` may
    list a few more strings).
    """
    options = options or ExportOptions()
    source = open_input(input_path, recipe=options.recipe, validate=validate)
    return _export(source.records, out_dir, options, input_info=source.info, progress=progress)


def export_records(
    records: Iterable[Record | tuple[str, Record]],
    out_dir: str | os.PathLike[str],
    options: ExportOptions | None = None,
    *,
    input_info: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write ``records`` (or ``(source, record)`` pairs) in each format asked; return the report.

    For DocBins to train on: ``export_records(records, dir, ExportOptions(to=["spacy"],
    split="train=0.9,dev=0.1"))`` then ``report.path("spacy", "train")`` (a ``.spacy`` file, or
    a directory of shards for a large split; spaCy reads either). ``records`` is read twice
    when it is a collection; a one-shot iterator is first gathered into a list.
    """
    options = options or ExportOptions()
    if isinstance(records, Iterator):
        records = list(records)
    info = (lambda _n: input_info) if input_info is not None else None
    return _export(_Numbered(records), out_dir, options, input_info=info, progress=progress)


class _Numbered:
    """``(source, Record)`` pairs of a re-iterable collection of records or pairs."""

    def __init__(self, records: Iterable[Record | tuple[str, Record]]) -> None:
        self.records = records

    def __iter__(self) -> Iterator[tuple[str, Record]]:
        for n, r in enumerate(self.records, start=1):
            yield r if isinstance(r, tuple) else (f"record:{n}", r)


def _export(
    pairs: Iterable[tuple[str, Record]],
    out_dir: str | os.PathLike[str],
    options: ExportOptions,
    *,
    input_info: Callable[[int], dict[str, Any] | None] | None,
    progress: Callable[[int], None] | None,
) -> ExportReport:
    """Export re-iterable ``pairs`` in two passes; return the report. ``input_info`` is given
    the number of records read and returns the manifest's ``input``."""
    nlp = blank(options.lang)
    # Pass 1, and the gate when ``pairs`` is a gated file: it writes nothing, so a refusal
    # leaves no output.
    plan = plan_export(pairs, options)
    job = DocWriter(nlp, options.alignment, options.overlap, options.priority, bool(options.token_formats))
    target = Path(out_dir)
    with atomic_dir(target, force=options.force) as tmp, contextlib.ExitStack() as stack:
        writers = open_writers(tmp, options, plan, nlp, stack)
        docs = plan.documents(pairs, options)
        written = write_documents(
            docs, plan.n_to_write, writers, job, n_process=options.n_process, progress=progress
        )
        tallies = finish_writers(writers)
        info = input_info(plan.n_records) if input_info is not None else None
        manifest = build_manifest(options, plan, written, tallies, info)
        write_manifest(tmp, manifest)
    return ExportReport(
        out_dir=target,
        tallies=tallies,
        split_docs=plan.split_sizes,
        excluded_docs=len(plan.excluded),
        manifest=manifest,
        warnings=plan.warnings,
    )


def format_summary(report: ExportReport) -> str:
    """A short plain-text summary of an export: documents per split, and each format's totals."""
    splits = ", ".join(f"{name} {n}" for name, n in report.split_docs.items())
    lines = [
        f"wrote {report.out_dir}: {sum(report.split_docs.values())} docs ({splits}), "
        f"{report.excluded_docs} excluded"
    ]
    for fmt, t in report.tallies.items():
        spans = f"{t.spans_in} in, {t.spans_written} written, {t.spans_reported} reported"
        rels = f"{t.relations_in} in, {t.relations_written} written, {t.relations_reported} reported"
        lines.append(f"  {fmt}: spans {spans}; relations {rels}")
    lines.extend(f"warning: {warning}" for warning in report.warnings)
    lines.append(f"every reported span and relation is listed in {report.out_dir / MANIFEST}")
    return "\n".join(lines) + "\n"
