"""``annotate convert``: read another tool's files into our records, write them atomically, say what happened.

Steps: check the inputs and that the outputs may be written; pick the source (``--from auto``
detects it and says why); read every input into records (each source module checks each span
and relation as it goes and counts what it skips or repairs in the ledger); rename labels by
``--label-map``; give repeated doc ids a suffix (counted); check the records as ``validate``
would; write the records (and ``--report``) atomically. Any error leaves no output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from annotate.convert import brat, conll, doccano, label_studio, prodigy
from annotate.convert.detect import detect
from annotate.convert.ledger import KEPT_IN_META, REPAIRED, SKIPPED, Ledger
from annotate.convert.options import AUTO, SOURCES, ConvertOptions
from annotate.errors import DataError, UsageError
from annotate.fileio import atomic_write, check_writable, dumps_line, is_stdio
from annotate.records.model import Record, Span

READERS: dict[str, Callable[[ConvertOptions, Ledger], Iterator[Record]]] = {
    doccano.NAME: doccano.read,
    prodigy.NAME: prodigy.read,
    label_studio.NAME: label_studio.read,
    brat.NAME: brat.read,
    conll.NAME: conll.read,
}
assert set(READERS) == set(SOURCES)
SHOWN_PROBLEMS = 10


@dataclass
class ConvertSummary:
    """What a conversion did: the source (and why, if detected), the counts and the ledger."""

    source: str
    detected: str | None
    out: Path
    records: int = 0
    spans: int = 0
    relations: int = 0
    annotators: int = 0
    overlapping: int = 0
    renamed: Counter[str] = field(default_factory=Counter)
    ledger: Ledger = field(default_factory=Ledger)
    report: Path | None = None

    def lines(self) -> list[str]:
        """The summary the CLI prints, one line a fact."""
        by = f" by {self.annotators} annotators" if self.annotators else ""
        out = [f"source: {self.source}" + (f" (detected: {self.detected})" if self.detected else "")]
        out.append(
            f"converted: {self.records} records{by}, {self.spans} spans, "
            f"{self.relations} relations -> {self.out}"
        )
        names = {SKIPPED: "skipped", REPAIRED: "repaired", KEPT_IN_META: "kept in meta"}
        for (action, item, reason), n in sorted(self.ledger.counts().items()):
            out.append(f"{names[action]}: {n} {item}(s): {reason}")
        for kind, n in sorted(self.renamed.items()):
            out.append(f"renamed by --label-map: {n} {kind}(s)")
        if self.overlapping:
            out.append(
                f"note: {self.overlapping} records have overlapping spans; "
                "pushing them needs a recipe with allow_overlapping = true"
            )
        if self.report is not None:
            out.append(f"report: {self.report} lists each item skipped, repaired or kept in meta")
        return out

    def to_dict(self) -> dict[str, object]:
        counts = [
            {"action": a, "item": i, "reason": r, "count": n}
            for (a, i, r), n in sorted(self.ledger.counts().items())
        ]
        return {
            "source": self.source,
            "detected": self.detected,
            "out": str(self.out),
            "records": self.records,
            "spans": self.spans,
            "relations": self.relations,
            "renamed": dict(self.renamed),
            "counts": counts,
            "entries": [e.to_dict() for e in self.ledger.entries],
        }


def convert(options: ConvertOptions) -> ConvertSummary:
    """Convert the inputs into ``options.out``; return the summary. Raises on bad input, writing nothing."""
    check_inputs(options)
    source, reason = pick_source(options)
    label_map = load_label_map(options.label_map) if options.label_map else {}
    summary = ConvertSummary(source=source, detected=reason, out=options.out, report=options.report)
    records = list(READERS[source](options, summary.ledger))
    records = [rename_labels(r, label_map, summary.renamed) for r in records]
    records = unique_doc_ids(records, summary.ledger)
    check_records(records)
    count_into(summary, records)
    write_outputs(options, records, summary)
    return summary


def check_inputs(options: ConvertOptions) -> None:
    """UsageError for a missing input or an unknown source; OutputExistsError before any work."""
    if options.source != AUTO and options.source not in SOURCES:
        raise UsageError(f"unknown --from {options.source!r}", hint=f"one of: {', '.join((*SOURCES, AUTO))}")
    if not options.inputs:
        raise UsageError("no input given")
    for path in options.inputs:
        if is_stdio(path):
            if options.source == AUTO:
                raise UsageError("cannot detect the format of stdin", hint="name it with --from")
        elif not path.exists():
            raise DataError("no such file or folder", path=str(path), code="E101")
    check_writable(options.out, force=options.force)
    if options.report is not None:
        check_writable(options.report, force=options.force)


def pick_source(options: ConvertOptions) -> tuple[str, str | None]:
    """Return the source and, when detected, the reason."""
    if options.source != AUTO:
        return options.source, None
    return detect(options.inputs)


def load_label_map(path: Path) -> dict[str, str]:
    """Return the ``{"OLD": "NEW"}`` map of a JSON file; DataError if it is not one."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read the label map ({e})", path=str(path), code="E101") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()
    ):
        raise DataError(
            'a label map is a JSON object of names: {"PER": "PERSON", ...}', path=str(path), code="E170"
        )
    return data


def rename_labels(record: Record, label_map: dict[str, str], renamed: Counter[str]) -> Record:
    """Return the record with its span labels and relation types renamed by ``label_map``."""
    if not label_map:
        return record
    spans = [replace(s, label=label_map.get(s.label, s.label)) for s in record.entities]
    rels = [replace(r, label=label_map.get(r.label, r.label)) for r in record.relations]
    renamed["span"] += sum(1 for s in record.entities if s.label in label_map)
    renamed["relation"] += sum(1 for r in record.relations if r.label in label_map)
    return replace(record, entities=spans, relations=rels)


def unique_doc_ids(records: list[Record], ledger: Ledger) -> list[Record]:
    """Give a repeated ``(doc_id, annotator)`` the suffix ``#2``, ``#3``...; each is counted."""
    seen: Counter[tuple[str, str | None]] = Counter()
    out: list[Record] = []
    for rec in records:
        key = (rec.doc_id, rec.annotator)
        seen[key] += 1
        if seen[key] > 1:
            new_id = f"{rec.doc_id}#{seen[key]}"
            ledger.repair("document", "duplicate_doc_id_renamed", rec.doc_id, f"{rec.doc_id} is {new_id}")
            rec = replace(rec, doc_id=new_id)
        out.append(rec)
    return out


def check_records(records: list[Record]) -> None:
    """Check the records as ``validate`` would (overlaps and self-loops allowed); DataError if any fails."""
    from annotate.recipe import Recipe
    from annotate.records.validate import ERROR, validate_records

    lax = Recipe(name="convert", version="1", allow_overlapping=True, allow_self_loops=True)
    problems: list[str] = []
    for kind in ("task", "gold"):
        group = [r for r in records if (kind == "gold") == r.is_gold]
        report = validate_records(group, kind=kind, recipe=lax, path="<converted>", tokens=False)
        problems += [
            f"{group[(f.line or 1) - 1].doc_id}: {f.message}" for f in report.findings if f.level == ERROR
        ]
    if problems:
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        raise DataError(f"{len(problems)} converted records would not be valid: {shown}", code="E170")


def count_into(summary: ConvertSummary, records: list[Record]) -> None:
    summary.records = len(records)
    summary.spans = sum(len(r.entities) for r in records)
    summary.relations = sum(len(r.relations) for r in records)
    summary.annotators = len({r.annotator for r in records if r.annotator is not None})
    summary.overlapping = sum(1 for r in records if has_overlap(r.entities))


def has_overlap(spans: list[Span]) -> bool:
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    return any(b.start < a.end for a, b in zip(ordered, ordered[1:], strict=False))


def write_outputs(options: ConvertOptions, records: list[Record], summary: ConvertSummary) -> None:
    """Write the records and the report; both appear only if both are written."""
    with atomic_write(options.out, force=options.force) as f:
        for rec in records:
            f.write(dumps_line(rec.to_dict()) + "\n")
        if options.report is not None:
            with atomic_write(options.report, force=options.force) as r:
                json.dump(summary.to_dict(), r, ensure_ascii=False, indent=2)
                r.write("\n")
