"""Adjudication: several annotators' versions of each document into one gold, or a conflict.

:func:`adjudicate` is pure: per-annotator records in, an :class:`Adjudication` out; the file
entries (:func:`adjudicate_file`, :func:`resolve`, :func:`write_adjudication`) read and write
around it. A span is its offsets and label; a relation its two spans and type. With
``unanimous`` a document is agreed when every annotator who did it holds the same spans and
relations. With ``majority`` an item goes to the gold when more than half of them hold it and
is overruled when fewer than half do; an item exactly half of them hold is a tie, which leaves
the document in conflict (with two annotators, majority is unanimity). An agreed document gives
one gold record, its provenance in ``meta["adjudication"]`` (who did it, who agreed); every
other document gives one conflict record: each annotator's version, what they agree on, and
each disputed item with who said it.

After a review (``annotate pull`` of the review project), :func:`resolve` puts the reviewed
documents in place of the conflicts: one record per document, none left in conflict.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from annotate.errors import TeamError, UsageError
from annotate.fileio import check_writable, iter_jsonl, write_jsonl
from annotate.formats.jsonl import read_records
from annotate.quality.agreement import load_annotations
from annotate.records.model import Record, Relation, Span

STRATEGIES = ("unanimous", "majority")
ADJUDICATION = "adjudication"

SpanKey = tuple[int, int, str]
RelKey = tuple[SpanKey, SpanKey, str]


@dataclass
class Adjudication:
    """The gold of the agreed documents, the conflicts, and the counts the CLI prints."""

    strategy: str
    min_annotators: int = 2
    gold: list[Record] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    spans_disputed: int = 0
    relations_disputed: int = 0
    overruled: int = 0  # items a majority left out (majority only)
    too_few: int = 0  # conflicts because fewer than ``min_annotators`` did the document
    resolved: int = 0  # conflicts settled by a review (with ``resolve``)

    @property
    def agreed(self) -> int:
        return len(self.gold) - self.resolved


def _keys(rec: Record) -> tuple[set[SpanKey], set[RelKey]]:
    return {s.key for s in rec.entities}, {(h.key, t.key, r.label) for h, t, r in rec.relation_triples()}


def _votes(versions: dict[str, Record]) -> tuple[dict[SpanKey, list[str]], dict[RelKey, list[str]]]:
    """Return who holds each span and each relation."""
    spans: dict[SpanKey, list[str]] = {}
    rels: dict[RelKey, list[str]] = {}
    for who in sorted(versions):
        sk, rk = _keys(versions[who])
        for k in sk:
            spans.setdefault(k, []).append(who)
        for r in rk:
            rels.setdefault(r, []).append(who)
    return spans, rels


def _split(votes: dict[Any, list[str]], n: int, strategy: str) -> tuple[list[Any], list[Any], list[Any]]:
    """Return the items (sorted) that are agreed, disputed and overruled among ``n`` annotators."""
    agreed, disputed, overruled = [], [], []
    for item, who in sorted(votes.items()):
        if len(who) == n or (strategy == "majority" and 2 * len(who) > n):
            agreed.append(item)
        elif strategy == "majority" and 2 * len(who) < n:
            overruled.append(item)
        else:
            disputed.append(item)
    return agreed, disputed, overruled


def build_record(base: Record, spans: Iterable[SpanKey], rels: Iterable[RelKey], **extra: Any) -> Record:
    """Return ``base``'s document with exactly these spans and relations, numbered afresh."""
    ordered = sorted(set(spans))
    ids = {k: i for i, k in enumerate(ordered)}
    entities = [Span(i, s, e, label) for i, (s, e, label) in enumerate(ordered)]
    relations = [Relation(i, ids[h], ids[t], typ) for i, (h, t, typ) in enumerate(sorted(set(rels)))]
    return Record(
        text=base.text,
        doc_id=base.doc_id,
        doc_hash=base.doc_hash,
        entities=entities,
        relations=relations,
        meta=dict(base.meta),
        **extra,
    )


def adjudicate(
    annotations: dict[str, dict[str, Record]], *, strategy: str = "unanimous", min_annotators: int = 2
) -> Adjudication:
    """Adjudicate ``annotations`` (annotator -> doc_id -> record) document by document.

    A document fewer than ``min_annotators`` did (its other annotators have not confirmed it
    yet, say) is a conflict, never agreed by default.
    """
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}", hint="one of: " + ", ".join(STRATEGIES))
    if min_annotators < 1:
        raise UsageError("--min-annotators must be at least 1")
    out = Adjudication(strategy, min_annotators=min_annotators)
    by_doc: dict[str, dict[str, Record]] = {}
    for who, docs in annotations.items():
        for doc_id, rec in docs.items():
            by_doc.setdefault(doc_id, {})[who] = rec
    for doc_id in sorted(by_doc):
        _one(by_doc[doc_id], out)
    return out


def _one(versions: dict[str, Record], out: Adjudication) -> None:
    """Adjudicate one document's versions into ``out``: a gold record or a conflict."""
    names = sorted(versions)
    base = versions[names[0]]
    if len({v.doc_hash for v in versions.values()}) > 1:
        out.conflicts.append(_conflict(versions, [], [], [], [], reason="the annotators' texts differ"))
        return
    if len(names) < out.min_annotators:
        out.too_few += 1
        reason = f"only {len(names)} annotator(s) did it, at least {out.min_annotators} wanted"
        out.conflicts.append(_conflict(versions, [], [], [], [], reason=reason))
        return
    span_votes, rel_votes = _votes(versions)
    spans, spans_out, spans_over = _split(span_votes, len(names), out.strategy)
    rels, rels_out, rels_over = _split(rel_votes, len(names), out.strategy)
    if spans_out or rels_out:
        out.spans_disputed += len(spans_out)
        out.relations_disputed += len(rels_out)
        disputed = (
            [(k, span_votes[k]) for k in spans_out],
            [(k, rel_votes[k]) for k in rels_out],
        )
        out.conflicts.append(_conflict(versions, spans, rels, *disputed, reason="the annotators disagree"))
        return
    out.overruled += len(spans_over) + len(rels_over)
    agreed_by = [w for w in names if _keys(versions[w]) == (set(spans), set(rels))]
    gold = build_record(base, spans, rels, confirmed=all(bool(v.confirmed) for v in versions.values()))
    gold.meta[ADJUDICATION] = {
        "strategy": out.strategy,
        "annotators": names,
        "agreed_by": agreed_by,
        "overruled": len(spans_over) + len(rels_over),
    }
    out.gold.append(gold)


def _span_json(text: str, key: SpanKey) -> dict[str, Any]:
    s, e, label = key
    return {"start_offset": s, "end_offset": e, "label": label, "text": text[s:e]}


def _conflict(
    versions: dict[str, Record],
    spans: list[SpanKey],
    rels: list[RelKey],
    disputed_spans: list[tuple[SpanKey, list[str]]],
    disputed_rels: list[tuple[RelKey, list[str]]],
    *,
    reason: str,
) -> dict[str, Any]:
    """Return the conflict record of one document."""
    names = sorted(versions)
    base = versions[names[0]]

    def others(who: list[str]) -> list[str]:
        return [n for n in names if n not in who]

    return {
        "doc_id": base.doc_id,
        "doc_hash": base.doc_hash,
        "text": base.text,
        "meta": base.meta,
        "reason": reason,
        "annotators": names,
        "agreed": {
            "entities": [_span_json(base.text, k) for k in spans],
            "relations": [
                {"head": _span_json(base.text, h), "tail": _span_json(base.text, t), "type": typ}
                for h, t, typ in rels
            ],
        },
        "disputed": {
            "entities": [
                {**_span_json(base.text, k), "by": who, "not_by": others(who)} for k, who in disputed_spans
            ],
            "relations": [
                {
                    "head": _span_json(base.text, h),
                    "tail": _span_json(base.text, t),
                    "type": typ,
                    "by": who,
                    "not_by": others(who),
                }
                for (h, t, typ), who in disputed_rels
            ],
        },
        "versions": {n: versions[n].to_dict() for n in names},
    }


def agreed_task(conflict: dict[str, Any]) -> Record:
    """Return a conflict's document with only what its annotators agree on (a review's task)."""
    text = conflict["text"]
    base = Record(
        text=text, doc_id=conflict["doc_id"], doc_hash=conflict["doc_hash"], meta=dict(conflict["meta"])
    )

    def key(d: dict[str, Any]) -> SpanKey:
        return (int(d["start_offset"]), int(d["end_offset"]), str(d["label"]))

    spans = [key(e) for e in conflict["agreed"]["entities"]]
    rels = [(key(r["head"]), key(r["tail"]), str(r["type"])) for r in conflict["agreed"]["relations"]]
    return build_record(base, spans, rels)


def adjudicate_file(
    path: str | os.PathLike[str],
    *,
    strategy: str,
    out: str | os.PathLike[str],
    conflicts: str | os.PathLike[str],
    force: bool = False,
    min_annotators: int = 2,
) -> Adjudication:
    """Read a per-annotator gold file and adjudicate it (nothing is written yet).

    The outputs are checked first: an existing one is refused unless ``force``.
    """
    check_writable(out, force=force)
    check_writable(conflicts, force=force)
    return adjudicate(load_annotations([path]), strategy=strategy, min_annotators=min_annotators)


def write_adjudication(
    adj: Adjudication,
    *,
    out: str | os.PathLike[str],
    conflicts: str | os.PathLike[str] | None,
    force: bool = False,
) -> None:
    """Write the gold (and the conflicts, when a path is given), each atomically."""
    write_jsonl(out, (r.to_dict() for r in adj.gold), force=force)
    if conflicts is not None:
        write_jsonl(conflicts, adj.conflicts, force=force)


def resolve(
    path: str | os.PathLike[str],
    *,
    strategy: str,
    conflicts: str | os.PathLike[str],
    resolved: str | os.PathLike[str],
    out: str | os.PathLike[str],
    force: bool = False,
    min_annotators: int = 2,
) -> Adjudication:
    """Return the final gold: the agreed documents of ``path`` plus the reviewed conflicts.

    ``conflicts`` must be exactly the conflicts of ``path`` (TeamError otherwise: a file of
    another project or strategy), and ``resolved`` must hold each of them, confirmed, once.
    """
    check_writable(out, force=force)
    adj = adjudicate(load_annotations([path]), strategy=strategy, min_annotators=min_annotators)
    expected = {c["doc_id"]: c["doc_hash"] for c in adj.conflicts}
    given = {str(c.get("doc_id")): c.get("doc_hash") for _, c in iter_jsonl(conflicts) if isinstance(c, dict)}
    if given != expected:
        raise TeamError(
            f"{conflicts} is not the conflicts of {path} with strategy {strategy}: "
            f"{len(set(given) ^ set(expected))} document(s) differ",
            hint="pass the conflicts file that `annotate adjudicate` wrote for this input",
        )
    reviewed = _reviewed(resolved, expected)
    annotators = {c["doc_id"]: c["annotators"] for c in adj.conflicts}
    for doc_id in sorted(expected):
        rec = reviewed[doc_id]
        final = build_record(
            rec,
            (s.key for s in rec.entities),
            ((h.key, t.key, r.label) for h, t, r in rec.relation_triples()),
            confirmed=True,
        )
        final.meta[ADJUDICATION] = {"strategy": "review", "annotators": annotators[doc_id]}
        adj.gold.append(final)
        adj.resolved += 1
    adj.gold.sort(key=lambda r: r.doc_id)
    return adj


def _reviewed(resolved: str | os.PathLike[str], expected: dict[str, str]) -> dict[str, Record]:
    """Return the reviewed record of each conflict; TeamError when any is missing or foreign."""
    reviewed: dict[str, Record] = {}
    for lineno, rec in read_records(resolved):
        if rec.doc_id not in expected or rec.doc_hash != expected[rec.doc_id]:
            raise TeamError(
                f"{resolved}:{lineno}: {rec.doc_id!r} is not one of the conflicts (another project?)",
                hint="pull the review project that `annotate adjudicate --review-project` made",
            )
        if rec.doc_id in reviewed:
            raise TeamError(f"{resolved}:{lineno}: {rec.doc_id!r} is there twice")
        reviewed[rec.doc_id] = rec
    missing = sorted(set(expected) - set(reviewed))
    unconfirmed = sorted(d for d, r in reviewed.items() if not r.confirmed)
    if missing or unconfirmed:
        raise TeamError(
            f"{len(missing)} conflict(s) missing from {resolved} and {len(unconfirmed)} not confirmed "
            f"by the reviewer, e.g. {(missing + unconfirmed)[0]!r}",
            hint="the reviewer confirms each document once settled; then pull the review project again",
        )
    return reviewed
