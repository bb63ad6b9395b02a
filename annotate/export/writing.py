"""Pass 2 of an export: tokenise each document once and hand it to every format's writer.

:func:`open_writers` opens one streaming writer per format; :func:`write_documents` prepares
each document (:func:`annotate.formats.prepared.prepare`) and gives it to all of them, in this
process or, with ``n_process`` > 1, in forked workers. Each worker renders a chunk of
documents with a *partial* copy of every writer (in memory, with tallies of its own); this
process takes the chunks back in order and each writer ``absorb()``s them, so files, tallies
and manifest are those of one process.
"""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.errors import AnnotateError, ConfigError, DataError
from annotate.export.options import ExportOptions
from annotate.export.plan import ExportPlan
from annotate.fileio import dumps_line
from annotate.formats import brat, conll, hf, spacy_docbin
from annotate.formats.alignment import AlignmentMode, TokenTable
from annotate.formats.overlaps import OverlapPolicy
from annotate.formats.prepared import PreparedDoc, SplitFiles, Tally, prepare
from annotate.records.model import Record
from annotate.workers import can_fork, map_in_order

#: With worker processes, the most documents a worker writes at a time (a chunk).
CHUNK_DOCS = 64


@functools.lru_cache(maxsize=4)
def blank(lang: str) -> Any:
    """Return a blank pipeline (a tokenizer) for ``lang``; cached, as building one takes a while."""
    import spacy

    try:
        return spacy.blank(lang)
    except (ImportError, KeyError, ValueError) as e:
        raise ConfigError(f"spaCy has no tokenizer for language {lang!r} ({e})", code="E273") from None


def doc_tokens(doc: Any) -> TokenTable:
    """Return the character ranges of a Doc's tokens, read from its arrays in one call
    (much faster than a Python attribute lookup per token)."""
    from spacy.attrs import IDX, IS_SPACE, LENGTH

    if len(doc) == 0:
        return TokenTable([], [], [])
    starts, lengths, spaces = doc.to_array([IDX, LENGTH, IS_SPACE]).T.tolist()
    return TokenTable(starts, list(map(operator.add, starts, lengths)), list(map(bool, spaces)))


def open_writers(
    out_dir: Path, options: ExportOptions, plan: ExportPlan, nlp: Any, stack: contextlib.ExitStack
) -> dict[str, Any]:
    """Return a writer per format, each writing under ``out_dir/<format>`` and closed by ``stack``."""
    splits = list(options.ratios)
    writers: dict[str, Any] = {}
    for fmt in options.formats:
        sub = out_dir / fmt
        if fmt == "spacy":
            writers[fmt] = spacy_docbin.DocBinWriter(sub, nlp, plan.split_sizes, span_key=options.span_key)
        elif fmt == "conll":
            writers[fmt] = conll.ConllWriter(sub, splits)
        elif fmt == "hf":
            writers[fmt] = hf.HfWriter(sub, splits, plan.labels)
        elif fmt == "brat":
            writers[fmt] = brat.BratWriter(sub, splits, plan.labels, plan.rel_labels)
        else:
            writers[fmt] = JsonlWriter(sub, splits)
        stack.enter_context(writers[fmt])
    return writers


def finish_writers(writers: Mapping[str, Any]) -> dict[str, Tally]:
    """Close every writer; return its tally. Raises E189 when a format's totals do not add up."""
    tallies = {fmt: writer.finish() for fmt, writer in writers.items()}
    for fmt, tally in tallies.items():
        if not tally.balanced:
            # A bug, not a data problem: refuse to leave output that lost something unreported.
            raise AnnotateError(f"{fmt}: totals do not add up: {tally.summary()}", code="E189")
    return tallies


@dataclass(frozen=True)
class DocWriter:
    """How pass 2 prepares a document for the writers: the same in this process and in workers."""

    nlp: Any
    alignment: AlignmentMode
    overlap: OverlapPolicy
    priority: Sequence[str]
    token_formats: bool

    def write(
        self,
        src: str,
        rec: Record,
        split: str,
        writers: Mapping[str, Any],
        changes: list[dict[str, Any]],
        notes: list[dict[str, Any]],
    ) -> None:
        """Tokenise and prepare one record, hand it to every writer, and collect its reports."""
        doc = self.nlp.make_doc(rec.text)
        prep = prepare(
            rec,
            source=src,
            tokens=doc_tokens(doc),
            alignment=self.alignment,
            overlap=self.overlap,
            priority=self.priority,
        )
        prep.split = split
        if self.token_formats:
            changes.extend(c.to_dict() for c in prep.changes)
        notes.extend(prep.notes)
        for writer in writers.values():
            writer.add(prep, split, doc)


@dataclass
class Written:
    """What pass 2 wrote besides the files: documents, alignment changes and notes, in order."""

    docs: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def write_documents(
    docs: Iterator[tuple[str, Record, str]],
    n_docs: int,
    writers: Mapping[str, Any],
    job: DocWriter,
    *,
    n_process: int,
    progress: Callable[[int], None] | None,
) -> Written:
    """Write the ``n_docs`` ``(source, record, split)`` of ``docs`` with every writer; return the rest.

    Raises DataError E180 when ``docs`` does not hold ``n_docs`` documents (the input changed).
    """
    written = Written()
    n_workers = min(n_process, n_docs) if can_fork() else 1
    if n_workers > 1:
        for part in _forked_parts(docs, n_docs, n_workers, (job, writers)):
            for fmt, writer in writers.items():
                writer.absorb(part.writers[fmt])
            written.changes.extend(part.changes)
            written.notes.extend(part.notes)
            written.docs += part.docs
            if progress is not None:
                progress(part.docs)
    else:
        for src, rec, name in docs:
            job.write(src, rec, name, writers, written.changes, written.notes)
            written.docs += 1
            if progress is not None:
                progress(1)
    if written.docs != n_docs:
        raise DataError("the input changed while it was exported", code="E180")
    return written


def _forked_parts(
    docs: Iterator[tuple[str, Record, str]],
    n_docs: int,
    n_workers: int,
    shared: tuple[DocWriter, Mapping[str, Any]],
) -> Iterator[_Part]:
    """Yield what ``n_workers`` forked workers make of ``docs``, a chunk at a time, in order."""
    # About four chunks a worker, so that they finish close together; at most CHUNK_DOCS.
    size = max(1, min(CHUNK_DOCS, -(-n_docs // (4 * n_workers))))
    return map_in_order(_forked_chunk, _chunks(docs, size), n_workers, shared=shared, what="export")


@dataclass
class _Part:
    """What a worker made of one chunk: each writer's output (``take()``) and the reports."""

    writers: dict[str, Any]
    changes: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    docs: int


def _forked_chunk(shared: tuple[DocWriter, Mapping[str, Any]], chunk: list[tuple[str, Record, str]]) -> _Part:
    """In a worker: write one chunk with partial copies of the writers; return what they hold."""
    job, writers = shared
    partial = {fmt: writer.partial() for fmt, writer in writers.items()}
    changes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for src, rec, split in chunk:
        job.write(src, rec, split, partial, changes, notes)
    return _Part({fmt: w.take() for fmt, w in partial.items()}, changes, notes, len(chunk))


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Yield ``items`` in lists of ``size`` (the last may be shorter)."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class JsonlWriter(SplitFiles):
    """Write the records cleaned (unusable spans and dangling relations removed) as ``<split>.jsonl``,
    as they come."""

    def __init__(self, out_dir: Path, splits: Sequence[str]) -> None:
        super().__init__(out_dir, splits, ".jsonl", "jsonl")

    def add(self, p: PreparedDoc, split: str, doc: object = None) -> None:
        tally = self.tallies[split]
        tally.add_doc(p)
        tally.omissions.extend(p.invalid_span_omissions("jsonl") + p.dangling_omissions("jsonl"))
        ents = [s for i, s in enumerate(p.record.entities) if i not in p.invalid]
        rels = [r for j, r in enumerate(p.record.relations) if j in p.endpoints]
        tally.spans_written += len(ents)
        tally.relations_written += len(rels)
        self._files[split].write(dumps_line(p.record.with_annotations(ents, rels).to_dict()) + "\n")

    def finish(self) -> Tally:
        self._stack.close()
        return Tally.merge("jsonl", [self.tallies[s] for s in self.splits])
