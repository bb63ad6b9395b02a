"""Pass 1 of an export: which split each document goes to, the label lists, and what is left out.

:func:`plan_export` reads the records once, one at a time, keeping only what the split
assignment and the writers' label lists need (each text's hash, and labels when stratifying),
so memory stays flat in the number of documents. An input of at most ``KEEP_RECORDS`` records
is kept for pass 2, so a small file is parsed once; a larger one is read again, and
:meth:`ExportPlan.documents` checks it did not change in between.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from annotate.errors import DataError
from annotate.export.options import ExportOptions
from annotate.export.splits import assign_splits, rarest_label
from annotate.records.model import Record

#: Records of an input kept in memory from the first pass to the second (a larger input is
#: read twice): about 20 MB of news articles.
KEEP_RECORDS = 1000


@dataclass
class SplitCounts:
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


@dataclass
class ExportPlan:
    """What pass 1 found: each document's split, the label lists, the excluded records, warnings."""

    n_records: int
    where: dict[str, str]  # document hash -> split name
    split_sizes: dict[str, int]
    labels: list[str]
    rel_labels: list[str]
    excluded: list[dict[str, Any]]
    warnings: list[str]
    # The records themselves when the input was small enough to keep, else None.
    kept: list[tuple[str, Record]] | None
    # Per split, what pass 2 wrote: filled as :meth:`documents` yields.
    counts: dict[str, SplitCounts]

    @property
    def n_to_write(self) -> int:
        return sum(self.split_sizes.values())

    def documents(
        self, pairs: Iterable[tuple[str, Record]], options: ExportOptions
    ) -> Iterator[tuple[str, Record, str]]:
        """Yield ``(source, record, split)`` of every record to write, in input order (pass 2).

        Raises DataError E180 when a record was not there in pass 1.
        """
        for src, rec in self.kept if self.kept is not None else pairs:
            if options.excluded_reason(rec) is not None:
                continue
            name = self.where.get(rec.doc_hash)
            if name is None:
                raise DataError("the input changed while it was exported", path=src, code="E180")
            self.counts[name].add(rec)
            yield src, rec, name


@dataclass
class _Seen:
    """What pass 1 gathers, record by record."""

    keys: list[str] = field(default_factory=list)
    doc_labels: list[list[str]] = field(default_factory=list)
    label_freq: Counter[str] = field(default_factory=Counter)
    rel_labels: set[str] = field(default_factory=set)
    id_count: Counter[str] = field(default_factory=Counter)
    excluded: list[dict[str, Any]] = field(default_factory=list)


def plan_export(pairs: Iterable[tuple[str, Record]], options: ExportOptions) -> ExportPlan:
    """Read ``pairs`` once and return the plan: splits, label lists, excluded records, warnings."""
    recipe = options.recipe
    seen = _Seen(rel_labels=set(recipe.relation_names if recipe else ()))
    n_records = 0
    # A small input is kept for pass 2 (memory stays bounded: at most KEEP_RECORDS records).
    kept: list[tuple[str, Record]] | None = []
    for src, rec in pairs:
        n_records += 1
        if kept is not None:
            kept.append((src, rec))
            if len(kept) > KEEP_RECORDS:
                kept = None
        _see(seen, src, rec, options)
    where, split_sizes = _assign(seen, options)
    return ExportPlan(
        n_records=n_records,
        where=where,
        split_sizes=split_sizes,
        labels=sorted(set(seen.label_freq) | set(options.priority)),
        rel_labels=sorted(seen.rel_labels),
        excluded=seen.excluded,
        warnings=_warnings(split_sizes, options.ratios, seen.id_count),
        kept=kept,
        counts={name: SplitCounts() for name in options.ratios},
    )


def _see(seen: _Seen, src: str, rec: Record, options: ExportOptions) -> None:
    """Note what the split and the label lists need of one record, or why it is excluded."""
    reason = options.excluded_reason(rec)
    if reason is not None:
        seen.excluded.append(
            {
                "doc_id": rec.doc_id,
                "source": src,
                "reason": reason,
                "spans": len(rec.entities),
                "relations": len(rec.relations),
            }
        )
        return
    seen.keys.append(rec.doc_hash)
    ents = [s.label for s in rec.entities]
    seen.label_freq.update(ents)
    if options.stratify:
        seen.doc_labels.append(ents)
    seen.rel_labels.update(r.label for r in rec.relations)
    seen.id_count[rec.doc_id] += 1


def _assign(seen: _Seen, options: ExportOptions) -> tuple[dict[str, str], dict[str, int]]:
    """Return each document hash's split, and how many documents each split holds."""
    ratios = options.ratios
    strata = (
        [rarest_label(labels, seen.label_freq) for labels in seen.doc_labels] if options.stratify else None
    )
    where = assign_splits(seen.keys, ratios, seed=options.seed, strata=strata)
    split_sizes = dict.fromkeys(ratios, 0)
    for key in seen.keys:
        split_sizes[where[key]] += 1
    return where, split_sizes


def _warnings(
    split_sizes: Mapping[str, int], ratios: Mapping[str, float], id_count: Counter[str]
) -> list[str]:
    """Return the warnings of pass 1: empty splits, and doc_ids that repeat."""
    warnings = [
        f"split {name!r} has no documents" for name, n in split_sizes.items() if not n and ratios[name] > 0
    ]
    dup_ids = [k for k, v in id_count.items() if v > 1]
    if dup_ids:
        warnings.append(f"{len(dup_ids)} doc_ids appear more than once (e.g. {dup_ids[0]!r})")
    return warnings
