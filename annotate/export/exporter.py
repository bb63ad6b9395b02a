"""Export gold records to training formats, by document splits, with nothing lost without a report.

``export()`` reads and gates a gold JSONL file; ``export_records()`` does the work on records
(``annotate train`` calls it to make its DocBins). Both write one directory atomically:

    DIR/manifest.json
    DIR/spacy/<split>.spacy (or DIR/spacy/<split>/NNN.spacy shards for a large split)
    DIR/conll/<split>.conll    DIR/hf/<split>.jsonl + labels.json
    DIR/brat/<split>/<doc>.txt|.ann + annotation.conf       DIR/jsonl/<split>.jsonl

Memory stays flat in the number of documents: a first pass over the input reads only what the
split needs (each text's hash, and labels when stratifying); a second pass tokenises each
document once, prepares it and hands it to every format's writer, which writes as it goes.
A file's first pass is also its validation gate. An input of at most ``KEEP_RECORDS`` records
is kept from the first pass for the second, so a small file is parsed once; a larger one is
read again.

With ``n_process`` > 1, the second pass sends chunks of documents to forked workers, each of
which tokenises and prepares them and renders them with a *partial* copy of every writer (in
memory, with tallies of its own). This process takes the chunks back in order and each writer
``absorb()``s them, so files, tallies and manifest are those of one process.

For every format the manifest's totals add up: spans in = written + reported, and the same
for relations; every reported span or relation is listed with its reason.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import operator
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import annotate
from annotate.errors import AnnotateError, ConfigError, DataError, UsageError
from annotate.export.splits import DEFAULT_SPLIT, assign_splits, parse_split, rarest_label
from annotate.fileio import atomic_dir, dumps_line, is_stdio
from annotate.formats import brat, conll, hf, spacy_docbin
from annotate.formats.alignment import ALIGNMENT_MODES, DEFAULT_ALIGNMENT, AlignmentMode, TokenTable
from annotate.formats.jsonl import read_records, read_validated
from annotate.formats.overlaps import OVERLAP_POLICIES, OverlapPolicy
from annotate.formats.prepared import PreparedDoc, SplitFiles, Tally, prepare
from annotate.recipe import Recipe
from annotate.records.model import Record
from annotate.workers import can_fork, map_in_order

FORMATS = ("spacy", "conll", "brat", "hf", "jsonl")
TOKEN_FORMATS = ("spacy", "conll", "hf")
MANIFEST = "manifest.json"
# Validation findings that make a file unsafe to read at all; everything else (overlaps,
# misaligned spans, recorded-text mismatches, ...) export survives and reports.
BLOCKING_FINDINGS = ("E102", "E103", "E104", "E105", "E110")
#: Records of an input kept in memory from the first pass to the second (a larger input is
#: read twice): about 20 MB of news articles.
KEEP_RECORDS = 1000
#: With worker processes, the most documents a worker writes at a time (a chunk).
CHUNK_DOCS = 64


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


def parse_formats(values: Iterable[str]) -> tuple[str, ...]:
    """Return the distinct formats named in ``values`` (``spacy,conll`` or repeated), in order."""
    out: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in FORMATS:
                raise UsageError(
                    f"unknown format {name!r}", hint=f"choose from {', '.join(FORMATS)}", code="E271"
                )
            if name not in out:
                out.append(name)
    if not out:
        raise UsageError(
            "no output format given", hint=f"pass --to with one of {', '.join(FORMATS)}", code="E271"
        )
    return tuple(out)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return ``sha256:<hex>`` of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def export(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    to: Sequence[str] = ("spacy",),
    split: str | Mapping[str, float] = DEFAULT_SPLIT,
    seed: int = 0,
    alignment: AlignmentMode = DEFAULT_ALIGNMENT,
    overlap: OverlapPolicy = "longest",
    only_confirmed: bool = False,
    recipe: Recipe | None = None,
    span_key: str = spacy_docbin.DEFAULT_SPAN_KEY,
    stratify: bool = False,
    force: bool = False,
    validate: bool = True,
    progress: Callable[[int], None] | None = None,
    n_process: int = 1,
) -> ExportReport:
    """Export a gold JSONL file; return the report (also written as ``manifest.json``).

    The file is first validated (``validate=False`` skips that, for a caller that has just
    validated it): it is refused only when a record cannot be read safely (bad JSON or
    encoding, not an object, schema errors). Every other finding is counted in the manifest,
    and export reports what it could not write. The file is read twice (see the module
    docstring); stdin is read into memory once. ``n_process`` > 1 tokenises, aligns and
    renders the documents in that many forked worker processes, a chunk at a time; this
    process writes the chunks in order, so the output is the same as with one process (a
    DocBin shard of a split larger than ``SHARD_DOCS`` may list a few more strings).
    """
    name = "<stdin>" if is_stdio(input_path) else str(input_path)
    records: Iterable[tuple[str, Record]]
    gated: _GatedFileRecords | None = None
    if is_stdio(input_path):
        records = list(_file_records(input_path, name))
    elif validate:
        records = gated = _GatedFileRecords(input_path, name, recipe)
    else:
        records = _FileRecords(input_path, name)
    sha = None if is_stdio(input_path) else file_sha256(input_path)

    def source(n_records: int) -> dict[str, Any]:
        info: dict[str, Any] = {"file": Path(name).name, "sha256": sha, "records": n_records}
        if gated is not None:
            info["validation"] = gated.summary()
        return info

    return _export(
        records,
        out_dir,
        to=to,
        split=split,
        seed=seed,
        alignment=alignment,
        overlap=overlap,
        only_confirmed=only_confirmed,
        recipe=recipe,
        span_key=span_key,
        stratify=stratify,
        force=force,
        input_info=source,
        progress=progress,
        n_process=n_process,
    )


def _file_records(path: str | os.PathLike[str], name: str) -> Iterator[tuple[str, Record]]:
    for lineno, rec in read_records(path):
        yield f"{Path(name).name}:{lineno}", rec


class _FileRecords:
    """The ``(file:line, Record)`` pairs of a JSONL file, read afresh on each iteration."""

    def __init__(self, path: str | os.PathLike[str], name: str) -> None:
        self.path, self.name = path, name

    def __iter__(self) -> Iterator[tuple[str, Record]]:
        return _file_records(self.path, self.name)


class _GatedFileRecords(_FileRecords):
    """A JSONL file's pairs whose first reading is also its validation gate.

    The first iteration validates each record as it parses it (``iter_validated``) and, at its
    end, refuses the file when a record cannot be read safely (bad JSON or encoding, not an
    object, schema errors). Export's first pass writes nothing, so the refusal comes before any
    output. Later iterations read the file as ``_FileRecords`` does.
    """

    def __init__(self, path: str | os.PathLike[str], name: str, recipe: Recipe | None) -> None:
        super().__init__(path, name)
        self.recipe = recipe
        self.report: Any = None

    def __iter__(self) -> Iterator[tuple[str, Record]]:
        if self.report is not None:
            return super().__iter__()
        return self._first()

    def _first(self) -> Iterator[tuple[str, Record]]:
        from annotate.records.validate import ValidationReport

        self.report = report = ValidationReport(path=self.name, kind="task")
        base = Path(self.name).name
        unreadable: DataError | None = None
        # tokens=False: token alignment is only a warning to the gate, and export aligns every
        # span itself and reports each change, so checking it here would tokenise every text twice.
        for lineno, rec in read_validated(self.path, report, recipe=self.recipe, tokens=False):
            if isinstance(rec, DataError):
                # Not an object (a finding, E105, the gate refuses below) or not a record.
                unreadable = unreadable or rec
                continue
            yield f"{base}:{lineno}", rec
        blocking = [f for f in report.findings if f.code in BLOCKING_FINDINGS]
        if blocking:
            first = "; ".join(str(f) for f in blocking[:3])
            more = f" (and {len(blocking) - 3} more)" if len(blocking) > 3 else ""
            raise DataError(
                f"{len(blocking)} records cannot be read safely: {first}{more}",
                hint=f"run `annotate validate {self.path}` for every finding",
                code="E180",
            )
        if unreadable is not None:
            raise unreadable

    def summary(self) -> dict[str, Any]:
        """The gate's counts, for the manifest."""
        r = self.report
        return {
            "kind": r.kind,
            "errors": r.n_errors,
            "warnings": r.n_warnings,
            "counts": dict(sorted(r.counts.items())),
        }


def export_records(
    records: Iterable[Record | tuple[str, Record]],
    out_dir: str | os.PathLike[str],
    *,
    to: Sequence[str] = ("spacy",),
    split: str | Mapping[str, float] = DEFAULT_SPLIT,
    seed: int = 0,
    alignment: AlignmentMode = DEFAULT_ALIGNMENT,
    overlap: OverlapPolicy = "longest",
    only_confirmed: bool = False,
    recipe: Recipe | None = None,
    span_key: str = spacy_docbin.DEFAULT_SPAN_KEY,
    stratify: bool = False,
    force: bool = False,
    input_info: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    n_process: int = 1,
) -> ExportReport:
    """Write ``records`` (or ``(source, record)`` pairs) in each format of ``to``; return the report.

    For DocBins to train on: ``export_records(records, dir, to=["spacy"],
    split="train=0.9,dev=0.1")`` then ``report.path("spacy", "train")`` (a ``.spacy`` file, or
    a directory of shards for a large split; spaCy reads either). ``records`` is read twice
    when it is a collection; a one-shot iterator is first gathered into a list.
    """
    if isinstance(records, Iterator):
        records = list(records)
    return _export(
        _Numbered(records),
        out_dir,
        to=to,
        split=split,
        seed=seed,
        alignment=alignment,
        overlap=overlap,
        only_confirmed=only_confirmed,
        recipe=recipe,
        span_key=span_key,
        stratify=stratify,
        force=force,
        input_info=(lambda _n: input_info) if input_info is not None else None,
        progress=progress,
        n_process=n_process,
    )


class _Numbered:
    """``(source, Record)`` pairs of a re-iterable collection of records or pairs."""

    def __init__(self, records: Iterable[Record | tuple[str, Record]]) -> None:
        self.records = records

    def __iter__(self) -> Iterator[tuple[str, Record]]:
        for n, r in enumerate(self.records, start=1):
            yield r if isinstance(r, tuple) else (f"record:{n}", r)


@dataclass
class _SplitCounts:
    """Documents, spans and relations by label in one split (for the manifest)."""

    docs: int = 0
    spans: Counter[str] = field(default_factory=Counter)
    relations: Counter[str] = field(default_factory=Counter)

    def add(self, rec: Record) -> None:
        self.docs += 1
        self.spans.update(s.label for s in rec.entities)
        self.relations.update(r.label for r in rec.relations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs": self.docs,
            "spans": sum(self.spans.values()),
            "relations": sum(self.relations.values()),
            "labels": dict(sorted(self.spans.items())),
            "relation_labels": dict(sorted(self.relations.items())),
        }


def _export(
    pairs: Iterable[tuple[str, Record]],
    out_dir: str | os.PathLike[str],
    *,
    to: Sequence[str],
    split: str | Mapping[str, float],
    seed: int,
    alignment: AlignmentMode,
    overlap: OverlapPolicy,
    only_confirmed: bool,
    recipe: Recipe | None,
    span_key: str,
    stratify: bool,
    force: bool,
    input_info: Callable[[int], dict[str, Any] | None] | None,
    progress: Callable[[int], None] | None,
    n_process: int,
) -> ExportReport:
    """Export re-iterable ``pairs`` in two passes; return the report. ``input_info`` is given
    the number of records read and returns the manifest's ``input``."""
    formats = parse_formats([to] if isinstance(to, str) else to)
    # A mapping goes through the same checks as the command-line form.
    spec = split if isinstance(split, str) else ",".join(f"{k}={float(v)!r}" for k, v in split.items())
    ratios = parse_split(spec)
    if alignment not in ALIGNMENT_MODES:
        raise UsageError(
            f"unknown alignment {alignment!r}", hint=f"choose from {', '.join(ALIGNMENT_MODES)}", code="E272"
        )
    if overlap not in OVERLAP_POLICIES:
        raise UsageError(
            f"unknown overlap policy {overlap!r}",
            hint=f"choose from {', '.join(OVERLAP_POLICIES)}",
            code="E272",
        )
    if overlap == "priority" and recipe is None:
        raise UsageError(
            "--overlap priority takes the label order from a recipe", hint="pass --recipe", code="E272"
        )
    if not span_key:
        raise UsageError("the span key must not be empty", code="E272")
    if n_process < 1:
        raise UsageError("--n-process must be at least 1", code="E272")
    lang = recipe.lang if recipe is not None else "en"
    nlp = _blank(lang)
    priority = recipe.label_names if recipe is not None else ()

    def excluded_reason(rec: Record) -> str | None:
        return "not_confirmed" if only_confirmed and rec.confirmed is not True else None

    # Pass 1: only what the split assignment and the label lists need, one record at a time.
    n_records = 0
    excluded: list[dict[str, Any]] = []
    keys: list[str] = []
    doc_labels: list[list[str]] = []
    label_freq: Counter[str] = Counter()
    rel_label_set: set[str] = set(recipe.relation_names if recipe else ())
    id_count: Counter[str] = Counter()
    # A small input is kept for pass 2 (memory stays bounded: at most KEEP_RECORDS records).
    kept: list[tuple[str, Record]] | None = []
    for src, rec in pairs:
        n_records += 1
        if kept is not None:
            kept.append((src, rec))
            if len(kept) > KEEP_RECORDS:
                kept = None
        reason = excluded_reason(rec)
        if reason is not None:
            excluded.append(
                {
                    "doc_id": rec.doc_id,
                    "source": src,
                    "reason": reason,
                    "spans": len(rec.entities),
                    "relations": len(rec.relations),
                }
            )
            continue
        keys.append(rec.doc_hash)
        ents = [s.label for s in rec.entities]
        label_freq.update(ents)
        if stratify:
            doc_labels.append(ents)
        rel_label_set.update(r.label for r in rec.relations)
        id_count[rec.doc_id] += 1
    strata = [rarest_label(labels, label_freq) for labels in doc_labels] if stratify else None
    where = assign_splits(keys, ratios, seed=seed, strata=strata)
    split_sizes = dict.fromkeys(ratios, 0)
    for key in keys:
        split_sizes[where[key]] += 1
    del keys, doc_labels, strata

    labels = sorted(set(label_freq) | set(priority))
    rel_labels = sorted(rel_label_set)
    warnings = [
        f"split {name!r} has no documents" for name, n in split_sizes.items() if not n and ratios[name] > 0
    ]
    dup_ids = [k for k, v in id_count.items() if v > 1]
    if dup_ids:
        warnings.append(f"{len(dup_ids)} doc_ids appear more than once (e.g. {dup_ids[0]!r})")
    del id_count

    token_formats = [f for f in formats if f in TOKEN_FORMATS]
    counts = {name: _SplitCounts() for name in ratios}
    changes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    target = Path(out_dir)
    tallies: dict[str, Tally] = {}
    n_docs = 0
    with atomic_dir(target, force=force) as tmp, contextlib.ExitStack() as stack:
        writers: dict[str, Any] = {}
        for fmt in formats:
            sub = tmp / fmt
            if fmt == "spacy":
                writers[fmt] = spacy_docbin.DocBinWriter(sub, nlp, split_sizes, span_key=span_key)
            elif fmt == "conll":
                writers[fmt] = conll.ConllWriter(sub, list(ratios))
            elif fmt == "hf":
                writers[fmt] = hf.HfWriter(sub, list(ratios), labels)
            elif fmt == "brat":
                writers[fmt] = brat.BratWriter(sub, list(ratios), labels, rel_labels)
            else:
                writers[fmt] = _JsonlWriter(sub, list(ratios))
            stack.enter_context(writers[fmt])

        # Pass 2: tokenise each document once; every writer writes it as it comes.
        def to_write() -> Iterator[tuple[str, Record, str]]:
            for src, rec in kept if kept is not None else pairs:
                if excluded_reason(rec) is not None:
                    continue
                name = where.get(rec.doc_hash)
                if name is None:
                    raise DataError("the input changed while it was exported", path=src, code="E180")
                counts[name].add(rec)
                yield src, rec, name

        job = _Pass2(nlp, alignment, overlap, priority, bool(token_formats))
        n_to_write = sum(split_sizes.values())
        n_workers = min(n_process, n_to_write) if can_fork() else 1
        if n_workers > 1:
            chunk = max(1, min(CHUNK_DOCS, -(-n_to_write // (4 * n_workers))))
            chunks = _chunks(to_write(), chunk)
            shared = (job, writers)
            for part in map_in_order(_forked_chunk, chunks, n_workers, shared=shared, what="export"):
                for fmt, writer in writers.items():
                    writer.absorb(part.writers[fmt])
                changes.extend(part.changes)
                notes.extend(part.notes)
                n_docs += part.docs
                if progress is not None:
                    progress(part.docs)
        else:
            for src, rec, name in to_write():
                job.write(src, rec, name, writers, changes, notes)
                n_docs += 1
                if progress is not None:
                    progress(1)
        if n_docs != n_to_write:
            raise DataError("the input changed while it was exported", code="E180")
        for fmt, writer in writers.items():
            tallies[fmt] = writer.finish()
        for fmt, tally in tallies.items():
            if not tally.balanced:
                # A bug, not a data problem: refuse to leave output that lost something unreported.
                raise AnnotateError(f"{fmt}: totals do not add up: {tally.summary()}", code="E189")
        manifest = _manifest(
            formats=formats,
            tallies=tallies,
            counts=counts,
            n_docs=n_docs,
            ratios=ratios,
            seed=seed,
            stratify=stratify,
            alignment=alignment,
            overlap=overlap,
            only_confirmed=only_confirmed,
            recipe=recipe,
            lang=lang,
            span_key=span_key,
            input_info=input_info(n_records) if input_info is not None else None,
            excluded=excluded,
            warnings=warnings,
            changes=changes,
            notes=notes,
        )
        (tmp / MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return ExportReport(
        out_dir=target,
        tallies=tallies,
        split_docs=split_sizes,
        excluded_docs=len(excluded),
        manifest=manifest,
        warnings=warnings,
    )


def doc_tokens(doc: Any) -> TokenTable:
    """Return the character ranges of a Doc's tokens, read from its arrays in one call
    (much faster than a Python attribute lookup per token)."""
    from spacy.attrs import IDX, IS_SPACE, LENGTH

    if len(doc) == 0:
        return TokenTable([], [], [])
    starts, lengths, spaces = doc.to_array([IDX, LENGTH, IS_SPACE]).T.tolist()
    return TokenTable(starts, list(map(operator.add, starts, lengths)), list(map(bool, spaces)))


@dataclass(frozen=True)
class _Pass2:
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
class _Part:
    """What a worker made of one chunk: each writer's output (``take()``) and the reports."""

    writers: dict[str, Any]
    changes: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    docs: int


def _forked_chunk(shared: tuple[_Pass2, Mapping[str, Any]], chunk: list[tuple[str, Record, str]]) -> _Part:
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


@functools.lru_cache(maxsize=4)
def _blank(lang: str) -> Any:
    """Return a blank pipeline (a tokenizer) for ``lang``; cached, as building one takes a while."""
    import spacy

    try:
        return spacy.blank(lang)
    except (ImportError, KeyError, ValueError) as e:
        raise ConfigError(f"spaCy has no tokenizer for language {lang!r} ({e})", code="E273") from None


class _JsonlWriter(SplitFiles):
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


def _manifest(
    *,
    formats: Sequence[str],
    tallies: Mapping[str, Tally],
    counts: Mapping[str, _SplitCounts],
    n_docs: int,
    ratios: Mapping[str, float],
    seed: int,
    stratify: bool,
    alignment: str,
    overlap: str,
    only_confirmed: bool,
    recipe: Recipe | None,
    lang: str,
    span_key: str,
    input_info: dict[str, Any] | None,
    excluded: list[dict[str, Any]],
    warnings: list[str],
    changes: list[dict[str, Any]],
    notes: list[dict[str, Any]],
) -> dict[str, Any]:
    """Return the manifest: deterministic (no clock), so one input and options give one output."""
    omitted_by_doc: dict[str, dict[str, int]] = {}
    for fmt in formats:
        per_doc = Counter(o.doc_id for o in tallies[fmt].omissions if o.kind == "span")
        omitted_by_doc[fmt] = dict(sorted(per_doc.items()))
    return {
        "tool": {"name": "annotate", "version": annotate.__version__},
        "input": input_info or {"file": None, "sha256": None},
        "recipe": recipe.id if recipe is not None else None,
        "options": {
            "formats": list(formats),
            "alignment": alignment,
            "overlap": overlap,
            "only_confirmed": only_confirmed,
            "tokenizer": f"spacy.blank({lang!r})",
            "span_key": span_key,
        },
        "split": {
            "seed": seed,
            "ratios": dict(ratios),
            "stratify": stratify,
            "by": "sha256 of the document text",
        },
        "counts": {
            "docs": n_docs,
            "excluded_docs": len(excluded),
            "splits": {name: c.to_dict() for name, c in counts.items()},
        },
        "totals": {fmt: tallies[fmt].summary() for fmt in formats},
        "spans_omitted_by_doc": omitted_by_doc,
        "not_represented": [o.to_dict() for fmt in formats for o in tallies[fmt].omissions],
        "alignment_changes": changes,
        "notes": notes,
        "excluded": excluded,
        "warnings": warnings,
    }
