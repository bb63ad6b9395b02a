"""Export gold records to training formats, by document splits, with nothing lost without a report.

``export()`` reads and gates a gold JSONL file; ``export_records()`` does the work on records in
memory (``annotate train`` calls it to make its DocBins). Both write one directory atomically:

    DIR/manifest.json
    DIR/spacy/<split>.spacy    DIR/conll/<split>.conll    DIR/hf/<split>.jsonl + labels.json
    DIR/brat/<split>/<doc>.txt|.ann + annotation.conf       DIR/jsonl/<split>.jsonl

For every format the manifest's totals add up: spans in = written + reported, and the same
for relations; every reported span or relation is listed with its reason.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import annotate
from annotate.alignment import ALIGNMENT_MODES, DEFAULT_ALIGNMENT, AlignmentMode, Token
from annotate.errors import AnnotateError, ConfigError, DataError, UsageError
from annotate.fileio import atomic_dir, is_stdio
from annotate.formats import brat, conll, hf, spacy_docbin
from annotate.formats.jsonl import read_records, write_records
from annotate.model import Record
from annotate.overlaps import OVERLAP_POLICIES, OverlapPolicy
from annotate.prepared import PreparedDoc, Tally, prepare
from annotate.recipe import Recipe
from annotate.splits import DEFAULT_SPLIT, assign_splits, parse_split, rarest_label

FORMATS = ("spacy", "conll", "brat", "hf", "jsonl")
TOKEN_FORMATS = ("spacy", "conll", "hf")
MANIFEST = "manifest.json"
# Validation findings that make a file unsafe to read at all; everything else (overlaps,
# misaligned spans, recorded-text mismatches, ...) export survives and reports.
BLOCKING_FINDINGS = ("E102", "E103", "E104", "E105", "E110")


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
) -> ExportReport:
    """Export a gold JSONL file; return the report (also written as ``manifest.json``).

    The file is first validated: it is refused only when a record cannot be read safely (bad
    JSON or encoding, not an object, schema errors). Every other finding is counted in the
    manifest, and export reports what it could not write.
    """
    name = "<stdin>" if is_stdio(input_path) else str(input_path)
    validation: dict[str, Any] | None = None
    if validate and not is_stdio(input_path):
        validation = _gate(input_path, recipe)
    records = [(f"{Path(name).name}:{lineno}", rec) for lineno, rec in read_records(input_path)]
    source: dict[str, Any] = {
        "file": Path(name).name,
        "sha256": None if is_stdio(input_path) else file_sha256(input_path),
        "records": len(records),
    }
    if validation is not None:
        source["validation"] = validation
    return export_records(
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
    )


def _gate(path: str | os.PathLike[str], recipe: Recipe | None) -> dict[str, Any]:
    from annotate.validate import validate_file  # imported here: jsonschema is only needed when gating

    report = validate_file(path, recipe=recipe)
    blocking = [f for f in report.findings if f.code in BLOCKING_FINDINGS]
    if blocking:
        first = "; ".join(str(f) for f in blocking[:3])
        more = f" (and {len(blocking) - 3} more)" if len(blocking) > 3 else ""
        raise DataError(
            f"{len(blocking)} records cannot be read safely: {first}{more}",
            hint=f"run `annotate validate {path}` for every finding",
            code="E180",
        )
    return {
        "kind": report.kind,
        "errors": report.n_errors,
        "warnings": report.n_warnings,
        "counts": dict(sorted(report.counts.items())),
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
) -> ExportReport:
    """Write ``records`` (or ``(source, record)`` pairs) in each format of ``to``; return the report.

    For DocBins to train on: ``export_records(records, dir, to=["spacy"],
    split="train=0.9,dev=0.1")`` then ``report.path("spacy", "train")``.
    """
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
    lang = recipe.lang if recipe is not None else "en"
    nlp = _blank(lang)
    priority = recipe.label_names if recipe is not None else ()

    pairs = [(r if isinstance(r, tuple) else (f"record:{n}", r)) for n, r in enumerate(records, start=1)]
    kept: list[tuple[str, Record]] = []
    excluded: list[dict[str, Any]] = []
    for src, rec in pairs:
        if only_confirmed and rec.confirmed is not True:
            excluded.append(
                {
                    "doc_id": rec.doc_id,
                    "source": src,
                    "reason": "not_confirmed",
                    "spans": len(rec.entities),
                    "relations": len(rec.relations),
                }
            )
        else:
            kept.append((src, rec))

    preps: list[PreparedDoc] = []
    for src, rec in kept:
        doc = nlp.make_doc(rec.text)
        tokens = [Token(t.idx, t.idx + len(t.text), t.is_space) for t in doc]
        preps.append(
            prepare(rec, source=src, tokens=tokens, alignment=alignment, overlap=overlap, priority=priority)
        )
        if progress is not None:
            progress(1)

    label_freq = Counter(s.label for p in preps for s in p.record.entities)
    keys = [p.record.doc_hash for p in preps]
    strata = (
        [rarest_label([s.label for s in p.record.entities], label_freq) for p in preps] if stratify else None
    )
    where = assign_splits(keys, ratios, seed=seed, strata=strata)
    by_split: dict[str, list[PreparedDoc]] = {name: [] for name in ratios}
    for p in preps:
        p.split = where[p.record.doc_hash]
        by_split[p.split].append(p)

    labels = sorted(set(label_freq) | set(priority))
    rel_labels = sorted(
        {r.label for p in preps for r in p.record.relations} | set(recipe.relation_names if recipe else ())
    )
    warnings = [
        f"split {name!r} has no documents" for name, docs in by_split.items() if not docs and ratios[name] > 0
    ]
    dup_ids = [k for k, v in Counter(p.doc_id for p in preps).items() if v > 1]
    if dup_ids:
        warnings.append(f"{len(dup_ids)} doc_ids appear more than once (e.g. {dup_ids[0]!r})")

    target = Path(out_dir)
    tallies: dict[str, Tally] = {}
    with atomic_dir(target, force=force) as tmp:
        for fmt in formats:
            sub = tmp / fmt
            if fmt == "spacy":
                tallies[fmt] = spacy_docbin.write_split_docbins(by_split, sub, nlp, span_key=span_key)
            elif fmt == "conll":
                tallies[fmt] = conll.write_split_conll(by_split, sub)
            elif fmt == "hf":
                tallies[fmt] = hf.write_split_hf(by_split, sub, labels)
            elif fmt == "brat":
                tallies[fmt] = brat.write_split_brat(by_split, sub, labels, rel_labels)
            else:
                tallies[fmt] = _write_split_jsonl(by_split, sub)
        for fmt, tally in tallies.items():
            if not tally.balanced:
                # A bug, not a data problem: refuse to leave output that lost something unreported.
                raise AnnotateError(f"{fmt}: totals do not add up: {tally.summary()}", code="E189")
        manifest = _manifest(
            formats=formats,
            tallies=tallies,
            by_split=by_split,
            ratios=ratios,
            seed=seed,
            stratify=stratify,
            alignment=alignment,
            overlap=overlap,
            only_confirmed=only_confirmed,
            recipe=recipe,
            lang=lang,
            span_key=span_key,
            input_info=input_info,
            excluded=excluded,
            warnings=warnings,
            preps=preps,
        )
        (tmp / MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return ExportReport(
        out_dir=target,
        tallies=tallies,
        split_docs={name: len(docs) for name, docs in by_split.items()},
        excluded_docs=len(excluded),
        manifest=manifest,
        warnings=warnings,
    )


@functools.lru_cache(maxsize=4)
def _blank(lang: str) -> Any:
    """Return a blank pipeline (a tokenizer) for ``lang``; cached, as building one takes a while."""
    import spacy

    try:
        return spacy.blank(lang)
    except (ImportError, KeyError, ValueError) as e:
        raise ConfigError(f"spaCy has no tokenizer for language {lang!r} ({e})", code="E273") from None


def _write_split_jsonl(by_split: Mapping[str, Sequence[PreparedDoc]], out_dir: Path) -> Tally:
    """Write the records cleaned (unusable spans and dangling relations removed) as ``<split>.jsonl``."""
    tally = Tally("jsonl")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, preps in by_split.items():
        cleaned = []
        for p in preps:
            tally.add_doc(p)
            tally.omissions.extend(p.invalid_span_omissions("jsonl") + p.dangling_omissions("jsonl"))
            ents = [s for i, s in enumerate(p.record.entities) if i not in p.invalid]
            rels = [r for j, r in enumerate(p.record.relations) if j in p.endpoints]
            tally.spans_written += len(ents)
            tally.relations_written += len(rels)
            cleaned.append(p.record.with_annotations(ents, rels))
        write_records(out_dir / f"{name}.jsonl", cleaned)
        tally.files[name] = f"{name}.jsonl"
    return tally


def _split_counts(preps: Sequence[PreparedDoc]) -> dict[str, Any]:
    spans = Counter(s.label for p in preps for s in p.record.entities)
    rels = Counter(r.label for p in preps for r in p.record.relations)
    return {
        "docs": len(preps),
        "spans": sum(spans.values()),
        "relations": sum(rels.values()),
        "labels": dict(sorted(spans.items())),
        "relation_labels": dict(sorted(rels.items())),
    }


def _manifest(
    *,
    formats: Sequence[str],
    tallies: Mapping[str, Tally],
    by_split: Mapping[str, Sequence[PreparedDoc]],
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
    preps: Sequence[PreparedDoc],
) -> dict[str, Any]:
    """Return the manifest: deterministic (no clock), so one input and options give one output."""
    token_formats = [f for f in formats if f in TOKEN_FORMATS]
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
            "docs": len(preps),
            "excluded_docs": len(excluded),
            "splits": {name: _split_counts(docs) for name, docs in by_split.items()},
        },
        "totals": {fmt: tallies[fmt].summary() for fmt in formats},
        "spans_omitted_by_doc": omitted_by_doc,
        "not_represented": [o.to_dict() for fmt in formats for o in tallies[fmt].omissions],
        "alignment_changes": [c.to_dict() for p in preps for c in p.changes] if token_formats else [],
        "notes": [n for p in preps for n in p.notes],
        "excluded": excluded,
        "warnings": warnings,
    }
