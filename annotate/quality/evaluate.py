"""Score pre-annotations against corrected gold: P/R/F1, correction effort and provenance.

Pure: records in, an :class:`Evaluation` out. Documents are matched by ``doc_id``; one whose
``doc_hash`` differs between the two sides had its text changed in annotation, so its
offsets cannot be compared and it is reported, not scored.

Definitions (the tests pin them):

* **strict** entity match: same offsets and same label. **overlap** match: same label and the
  character ranges share at least one character. Matching is one-to-one (a gold span is
  credited to at most one predicted span), so precision and recall count the same pairs.
* A relation is correct when its type matches and both endpoints match the gold relation's
  endpoints in the same mode (strict or overlap). Relations are directed, except the types
  passed as ``undirected`` (a recipe's ``directed = false``), which match either way round.
* micro = counts pooled over labels; macro = unweighted mean over every label seen on either
  side, so a label the model never predicts still pulls macro down.
* Correction effort aligns each predicted span with at most one gold span, in this order:
  **kept** (same offsets and label), **relabelled** (same offsets, other label),
  **boundary-shifted** (same label, overlapping, other offsets). Remaining predicted spans were
  **deleted**, remaining gold spans **added**. A span both relabelled and moved counts as one
  deletion plus one addition: the annotator redrew it. So ``kept + relabelled + shifted +
  deleted`` = predicted spans and ``kept + relabelled + shifted + added`` = gold spans.
* A relation is **kept** when its endpoints align (as above) with a gold relation's endpoints
  and the type is the same, **retyped** when only the type differs; otherwise it was
  **removed** (predicted only) or **added** (gold only).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from annotate.errors import DataError
from annotate.formats.jsonl import read_records
from annotate.records.model import Record, Relation, Span

MODES = ("strict", "overlap")
UNKNOWN_SOURCE = "(unknown)"

# Alignment statuses, shared with the HTML report.
KEPT = "kept"
RELABELLED = "relabelled"
SHIFTED = "shifted"
DELETED = "deleted"
ADDED = "added"


@dataclass(frozen=True)
class PRF:
    """True positives, false positives and false negatives, with P/R/F1 derived from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 0.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 0.0 when there is no gold."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: PRF) -> PRF:
        return PRF(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
        }


@dataclass(frozen=True)
class Macro:
    """Unweighted means over labels."""

    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
        }


@dataclass(frozen=True)
class Scores:
    """Per-label counts plus their micro and macro summaries."""

    per_label: dict[str, PRF]

    @property
    def micro(self) -> PRF:
        total = PRF()
        for prf in self.per_label.values():
            total = total + prf
        return total

    @property
    def macro(self) -> Macro:
        if not self.per_label:
            return Macro()
        n = len(self.per_label)
        vals = list(self.per_label.values())
        return Macro(
            sum(v.precision for v in vals) / n,
            sum(v.recall for v in vals) / n,
            sum(v.f1 for v in vals) / n,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "micro": self.micro.to_dict(),
            "macro": self.macro.to_dict(),
            "per_label": {k: v.to_dict() for k, v in sorted(self.per_label.items())},
        }


def add_scores(a: Scores, b: Scores) -> Scores:
    """Return the label-wise sum of two Scores."""
    labels = set(a.per_label) | set(b.per_label)
    return Scores({k: a.per_label.get(k, PRF()) + b.per_label.get(k, PRF()) for k in labels})


@dataclass(frozen=True)
class SpanEffort:
    kept: int = 0
    relabelled: int = 0
    shifted: int = 0
    deleted: int = 0
    added: int = 0

    @property
    def edits(self) -> int:
        """Spans the annotator had to touch."""
        return self.relabelled + self.shifted + self.deleted + self.added

    def __add__(self, o: SpanEffort) -> SpanEffort:
        return SpanEffort(
            self.kept + o.kept,
            self.relabelled + o.relabelled,
            self.shifted + o.shifted,
            self.deleted + o.deleted,
            self.added + o.added,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "kept": self.kept,
            "relabelled": self.relabelled,
            "boundary_shifted": self.shifted,
            "deleted": self.deleted,
            "added": self.added,
            "edits": self.edits,
        }


@dataclass(frozen=True)
class RelationEffort:
    kept: int = 0
    retyped: int = 0
    removed: int = 0
    added: int = 0

    @property
    def edits(self) -> int:
        return self.retyped + self.removed + self.added

    def __add__(self, o: RelationEffort) -> RelationEffort:
        return RelationEffort(
            self.kept + o.kept, self.retyped + o.retyped, self.removed + o.removed, self.added + o.added
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "kept": self.kept,
            "retyped": self.retyped,
            "removed": self.removed,
            "added": self.added,
            "edits": self.edits,
        }


@dataclass
class DocResult:
    """One scored document: the two sides, how each span was aligned, and its scores."""

    doc_id: str
    text: str
    pred: list[Span]
    gold: list[Span]
    pred_relations: list[Relation]
    gold_relations: list[Relation]
    # Status of each predicted span (kept/relabelled/shifted/deleted) and gold span
    # (kept/relabelled/shifted/added), index-aligned with ``pred`` and ``gold``.
    pred_status: list[str]
    gold_status: list[str]
    # Status of each predicted relation (kept/retyped/removed) and gold relation (kept/retyped/added).
    pred_relation_status: list[str]
    gold_relation_status: list[str]
    entities: dict[str, Scores]
    relations: dict[str, Scores]
    span_effort: SpanEffort
    relation_effort: RelationEffort
    # Index of each aligned predicted span -> index of its gold span (kept/relabelled/shifted).
    pred_to_gold: dict[int, int] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "entities": {m: self.entities[m].micro.to_dict() for m in MODES},
            "relations": {m: self.relations[m].micro.to_dict() for m in MODES},
            "span_effort": self.span_effort.to_dict(),
            "relation_effort": self.relation_effort.to_dict(),
        }


@dataclass
class SourceCounts:
    """What happened to the spans (or relations) one source produced."""

    produced: int = 0
    kept: int = 0
    relabelled: int = 0
    shifted: int = 0
    deleted: int = 0

    @property
    def precision(self) -> float:
        """Share of this source's output that the annotators kept unchanged."""
        return self.kept / self.produced if self.produced else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "produced": self.produced,
            "kept": self.kept,
            "relabelled": self.relabelled,
            "boundary_shifted": self.shifted,
            "deleted": self.deleted,
            "precision": round(self.precision, 6),
        }


@dataclass
class Evaluation:
    """The whole comparison of a prediction file with a gold file."""

    docs: list[DocResult]
    # Documents present on both sides whose text differs: reported, not scored.
    changed: list[str]
    # Gold documents with no prediction, and predicted documents with no gold (not scored).
    missing_pred: list[str]
    missing_gold: list[str]
    entities: dict[str, Scores]
    relations: dict[str, Scores]
    span_effort: SpanEffort
    relation_effort: RelationEffort
    # Keyed by span.source / relation.source ("model:...", "pattern:...", "rule:...").
    span_provenance: dict[str, SourceCounts]
    relation_provenance: dict[str, SourceCounts]
    # (predicted label, gold label) -> how often an annotator relabelled one into the other.
    relabels: Counter[tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written by ``annotate evaluate --format json``."""
        return {
            "documents": {
                "scored": len(self.docs),
                "text_changed": list(self.changed),
                "missing_prediction": list(self.missing_pred),
                "missing_gold": list(self.missing_gold),
            },
            "entities": {m: self.entities[m].to_dict() for m in MODES},
            "relations": {m: self.relations[m].to_dict() for m in MODES},
            "correction_effort": {
                "spans": self.span_effort.to_dict(),
                "relations": self.relation_effort.to_dict(),
                "relabels": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(self.relabels.items())],
            },
            "provenance": {
                "spans": {k: v.to_dict() for k, v in sorted(self.span_provenance.items())},
                "relations": {
                    k: {
                        "produced": v.produced,
                        "kept": v.kept,
                        "retyped": v.relabelled,
                        "removed": v.deleted,
                        "precision": round(v.precision, 6),
                    }
                    for k, v in sorted(self.relation_provenance.items())
                },
                "missed_spans": self.span_effort.added,
                "missed_relations": self.relation_effort.added,
            },
            "per_document": [d.to_dict() for d in self.docs],
        }


# --- matching -------------------------------------------------------------------------------


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _overlap_len(a: Span, b: Span) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def span_matches(p: Span, g: Span, mode: str) -> bool:
    """Return whether predicted span ``p`` matches gold span ``g`` in ``mode``."""
    if p.label != g.label:
        return False
    if mode == "strict":
        return p.start == g.start and p.end == g.end
    return _overlaps(p, g)


def _greedy(
    pairs: list[tuple[tuple[Any, ...], int, int]], used_p: set[int], used_g: set[int]
) -> list[tuple[int, int]]:
    """One-to-one matching: take candidate pairs best first, skipping indices already used."""
    out = []
    for _, i, j in sorted(pairs):
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        out.append((i, j))
    return out


def match_spans(pred: Sequence[Span], gold: Sequence[Span], mode: str) -> list[tuple[int, int]]:
    """Return one-to-one ``(pred index, gold index)`` matches in ``mode``.

    Candidates are taken exact-first, then by larger overlap, so an exact match is never
    lost to a mere overlap.
    """
    pairs = []
    for i, p in enumerate(pred):
        for j, g in enumerate(gold):
            if span_matches(p, g, mode):
                exact = p.start == g.start and p.end == g.end
                pairs.append(((0 if exact else 1, -_overlap_len(p, g), i, j), i, j))
    return _greedy(pairs, set(), set())


def _prf_by_label(
    pred_labels: Sequence[str], gold_labels: Sequence[str], matches: Iterable[tuple[int, int]]
) -> Scores:
    tp: Counter[str] = Counter()
    mp, mg = set(), set()
    for i, j in matches:
        tp[gold_labels[j]] += 1
        mp.add(i)
        mg.add(j)
    fp = Counter(lbl for i, lbl in enumerate(pred_labels) if i not in mp)
    fn = Counter(lbl for j, lbl in enumerate(gold_labels) if j not in mg)
    labels = set(pred_labels) | set(gold_labels)
    return Scores({k: PRF(tp[k], fp[k], fn[k]) for k in labels})


def score_spans(pred: Sequence[Span], gold: Sequence[Span], mode: str) -> Scores:
    """Per-label P/R/F1 of ``pred`` against ``gold`` in ``mode``."""
    return _prf_by_label([p.label for p in pred], [g.label for g in gold], match_spans(pred, gold, mode))


def match_relations(
    pred: Record, gold: Record, mode: str, undirected: Collection[str] = ()
) -> list[tuple[int, int]]:
    """One-to-one ``(pred relation index, gold relation index)`` matches in ``mode``.

    Relation types in ``undirected`` also match with head and tail swapped. Relations whose
    endpoints are missing from the record are ignored on both sides (``annotate validate``
    reports them).
    """
    pt = pred.relation_triples()
    gt = gold.relation_triples()
    pairs = []
    for i, (ph, ptl, pr) in enumerate(pt):
        for j, (gh, gtl, gr) in enumerate(gt):
            if pr.label != gr.label:
                continue
            if span_matches(ph, gh, mode) and span_matches(ptl, gtl, mode):
                exact = ph.key == gh.key and ptl.key == gtl.key
            elif gr.label in undirected and span_matches(ph, gtl, mode) and span_matches(ptl, gh, mode):
                exact = ph.key == gtl.key and ptl.key == gh.key
            else:
                continue
            pairs.append(((0 if exact else 1, i, j), i, j))
    return _greedy(pairs, set(), set())


def score_relations(pred: Record, gold: Record, mode: str, undirected: Collection[str] = ()) -> Scores:
    """Per-type P/R/F1 of the relations of ``pred`` against ``gold`` in ``mode``."""
    return _prf_by_label(
        [r.label for _, _, r in pred.relation_triples()],
        [r.label for _, _, r in gold.relation_triples()],
        match_relations(pred, gold, mode, undirected),
    )


# --- correction effort ----------------------------------------------------------------------


def align_for_effort(
    pred: Sequence[Span], gold: Sequence[Span]
) -> tuple[list[str], list[str], dict[int, int]]:
    """Return (status of each pred span, status of each gold span, pred index -> gold index).

    Kept pairs are taken first, then relabelled, then boundary-shifted (see the module doc).
    """
    pstat = [DELETED] * len(pred)
    gstat = [ADDED] * len(gold)
    used_p: set[int] = set()
    used_g: set[int] = set()
    pmap: dict[int, int] = {}
    kept = [((i, j), i, j) for i, p in enumerate(pred) for j, g in enumerate(gold) if p.key == g.key]
    relab = [
        ((i, j), i, j)
        for i, p in enumerate(pred)
        for j, g in enumerate(gold)
        if p.start == g.start and p.end == g.end and p.label != g.label
    ]
    shifted = [
        ((-_overlap_len(p, g), i, j), i, j)
        for i, p in enumerate(pred)
        for j, g in enumerate(gold)
        if p.label == g.label and _overlaps(p, g) and (p.start, p.end) != (g.start, g.end)
    ]
    for status, pairs in ((KEPT, kept), (RELABELLED, relab), (SHIFTED, shifted)):
        for i, j in _greedy(pairs, used_p, used_g):
            pstat[i] = gstat[j] = status
            pmap[i] = j
    return pstat, gstat, pmap


def _relation_effort(
    pred: Record, gold: Record, pmap: dict[int, int], undirected: Collection[str] = ()
) -> tuple[list[str], list[str], RelationEffort]:
    """Align relations through the span alignment; return statuses and counts."""
    pidx = {s.id: i for i, s in enumerate(pred.entities)}
    gidx = {s.id: j for j, s in enumerate(gold.entities)}
    prels = [r for r in pred.relations if r.head in pidx and r.tail in pidx]
    grels = [r for r in gold.relations if r.head in gidx and r.tail in gidx]
    pstat = ["removed"] * len(prels)
    gstat = [ADDED] * len(grels)
    used_p: set[int] = set()
    used_g: set[int] = set()

    def same_ends(pr: Relation, gr: Relation) -> bool:
        h, t = pmap.get(pidx[pr.head]), pmap.get(pidx[pr.tail])
        if h == gidx[gr.head] and t == gidx[gr.tail]:
            return True
        swappable = pr.label in undirected or gr.label in undirected
        return swappable and h == gidx[gr.tail] and t == gidx[gr.head]

    kept = [
        ((i, j), i, j)
        for i, pr in enumerate(prels)
        for j, gr in enumerate(grels)
        if same_ends(pr, gr) and pr.label == gr.label
    ]
    retyped = [
        ((i, j), i, j)
        for i, pr in enumerate(prels)
        for j, gr in enumerate(grels)
        if same_ends(pr, gr) and pr.label != gr.label
    ]
    n_kept = n_retyped = 0
    for status, pairs in ((KEPT, kept), ("retyped", retyped)):
        for i, j in _greedy(pairs, used_p, used_g):
            pstat[i] = gstat[j] = status
            if status == KEPT:
                n_kept += 1
            else:
                n_retyped += 1
    effort = RelationEffort(
        kept=n_kept,
        retyped=n_retyped,
        removed=pstat.count("removed"),
        added=gstat.count(ADDED),
    )
    return pstat, gstat, effort


# --- documents and files --------------------------------------------------------------------


def evaluate_doc(pred: Record, gold: Record, *, undirected: Collection[str] = ()) -> DocResult:
    """Compare one predicted record with its gold record (same text).

    Relation types in ``undirected`` (a recipe's ``directed = false`` types) match either way round.
    """
    pstat, gstat, pmap = align_for_effort(pred.entities, gold.entities)
    effort = SpanEffort(
        kept=pstat.count(KEPT),
        relabelled=pstat.count(RELABELLED),
        shifted=pstat.count(SHIFTED),
        deleted=pstat.count(DELETED),
        added=gstat.count(ADDED),
    )
    prstat, grstat, reffort = _relation_effort(pred, gold, pmap, undirected)
    pid = {s.id for s in pred.entities}
    gid = {s.id for s in gold.entities}
    return DocResult(
        doc_id=gold.doc_id,
        text=gold.text,
        pred=list(pred.entities),
        gold=list(gold.entities),
        pred_relations=[r for r in pred.relations if r.head in pid and r.tail in pid],
        gold_relations=[r for r in gold.relations if r.head in gid and r.tail in gid],
        pred_status=pstat,
        gold_status=gstat,
        pred_relation_status=prstat,
        gold_relation_status=grstat,
        entities={m: score_spans(pred.entities, gold.entities, m) for m in MODES},
        relations={m: score_relations(pred, gold, m, undirected) for m in MODES},
        span_effort=effort,
        relation_effort=reffort,
        pred_to_gold=pmap,
        meta=dict(gold.meta),
    )


def _index(records: Iterable[tuple[int, Record]], name: str) -> dict[str, Record]:
    out: dict[str, Record] = {}
    first: dict[str, int] = {}
    for lineno, rec in records:
        if rec.doc_id in out:
            raise DataError(
                f"doc_id {rec.doc_id!r} appears twice (first on line {first[rec.doc_id]})",
                path=name,
                line=lineno,
                code="E170",
                hint="evaluate compares one prediction with one gold record per document; "
                "for several annotators use `annotate agreement`",
            )
        out[rec.doc_id] = rec
        first[rec.doc_id] = lineno
    return out


def evaluate(
    pred: Iterable[Record | tuple[int, Record]],
    gold: Iterable[Record | tuple[int, Record]],
    *,
    pred_name: str = "predictions",
    gold_name: str = "gold",
    undirected: Collection[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Compare predicted records with gold records; return the whole :class:`Evaluation`.

    Either side may be records or ``(line number, record)`` pairs (as ``read_records`` yields),
    which make the duplicate-document error name its file (``*_name``) and line.
    """
    p = _index(_numbered(pred), pred_name)
    g = _index(_numbered(gold), gold_name)
    docs: list[DocResult] = []
    changed: list[str] = []
    for doc_id, grec in g.items():
        prec = p.get(doc_id)
        if prec is None:
            continue
        if prec.doc_hash != grec.doc_hash:
            changed.append(doc_id)
            continue
        docs.append(evaluate_doc(prec, grec, undirected=undirected))
        if progress is not None:
            progress(1)
    return summarize(
        docs,
        changed=changed,
        missing_pred=[d for d in g if d not in p],
        missing_gold=[d for d in p if d not in g],
    )


def _numbered(items: Iterable[Record | tuple[int, Record]]) -> Iterable[tuple[int, Record]]:
    for n, item in enumerate(items, start=1):
        if isinstance(item, Record):
            yield n, item
        else:
            lineno, rec = item
            yield lineno, rec


def summarize(
    docs: list[DocResult], *, changed: list[str], missing_pred: list[str], missing_gold: list[str]
) -> Evaluation:
    """Pool per-document results into one Evaluation."""
    ents = {m: Scores({}) for m in MODES}
    rels = {m: Scores({}) for m in MODES}
    seffort = SpanEffort()
    reffort = RelationEffort()
    sprov: dict[str, SourceCounts] = {}
    rprov: dict[str, SourceCounts] = {}
    relabels: Counter[tuple[str, str]] = Counter()
    for d in docs:
        for m in MODES:
            ents[m] = add_scores(ents[m], d.entities[m])
            rels[m] = add_scores(rels[m], d.relations[m])
        seffort = seffort + d.span_effort
        reffort = reffort + d.relation_effort
        for i, (span, status) in enumerate(zip(d.pred, d.pred_status, strict=True)):
            c = sprov.setdefault(span.source or UNKNOWN_SOURCE, SourceCounts())
            c.produced += 1
            _bump(c, status)
            if status == RELABELLED:
                relabels[(span.label, d.gold[d.pred_to_gold[i]].label)] += 1
        for rel, status in zip(d.pred_relations, d.pred_relation_status, strict=True):
            c = rprov.setdefault(rel.source or UNKNOWN_SOURCE, SourceCounts())
            c.produced += 1
            _bump(c, {"retyped": RELABELLED, "removed": DELETED}.get(status, status))
    return Evaluation(
        docs=docs,
        changed=changed,
        missing_pred=missing_pred,
        missing_gold=missing_gold,
        entities=ents,
        relations=rels,
        span_effort=seffort,
        relation_effort=reffort,
        span_provenance=sprov,
        relation_provenance=rprov,
        relabels=relabels,
    )


def _bump(c: SourceCounts, status: str) -> None:
    if status == KEPT:
        c.kept += 1
    elif status == RELABELLED:
        c.relabelled += 1
    elif status == SHIFTED:
        c.shifted += 1
    else:
        c.deleted += 1


def evaluate_files(
    pred_path: str | os.PathLike[str],
    gold_path: str | os.PathLike[str],
    *,
    undirected: Collection[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Read a prediction (task) file and a gold file and evaluate them."""
    return evaluate(
        read_records(pred_path),
        read_records(gold_path),
        pred_name=str(pred_path),
        gold_name=str(gold_path),
        undirected=undirected,
        progress=progress,
    )


def format_text(ev: Evaluation) -> str:
    """A plain-text report: summary, per-label table, correction effort, provenance."""
    lines: list[str] = []
    out = lines.append
    out(
        f"documents: {len(ev.docs)} scored, {len(ev.changed)} text changed (not scored), "
        f"{len(ev.missing_pred)} without prediction, {len(ev.missing_gold)} without gold"
    )
    for doc_id in ev.changed:
        out(f"  text changed: {doc_id}")
    for kind, scores in (("entities", ev.entities), ("relations", ev.relations)):
        out("")
        out(f"{kind}        P      R      F1   (strict | overlap)")
        for m in MODES:
            mi, ma = scores[m].micro, scores[m].macro
            out(f"  {m:8} micro {mi.precision:.3f}  {mi.recall:.3f}  {mi.f1:.3f}   macro F1 {ma.f1:.3f}")
        out(f"  {'label':24} {'gold':>5} {'pred':>5}  {'P':>6} {'R':>6} {'F1':>6}  {'F1 ovl':>6}")
        strict, overlap = scores["strict"].per_label, scores["overlap"].per_label
        for label in sorted(strict):
            s, o = strict[label], overlap.get(label, PRF())
            out(
                f"  {label:24} {s.tp + s.fn:5d} {s.tp + s.fp:5d}  "
                f"{s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f}  {o.f1:6.3f}"
            )
    se, re_ = ev.span_effort, ev.relation_effort
    out("")
    out(
        f"correction effort, spans: {se.kept} kept, {se.deleted} deleted, {se.added} added, "
        f"{se.relabelled} relabelled, {se.shifted} boundary-shifted"
    )
    out(
        f"correction effort, relations: {re_.kept} kept, {re_.added} added, {re_.removed} removed, "
        f"{re_.retyped} retyped"
    )
    for (a, b), n in ev.relabels.most_common(10):
        out(f"  relabelled {a} -> {b}: {n}")
    out("")
    width = max([24, *(len(k) for k in ev.span_provenance), *(len(k) for k in ev.relation_provenance)])
    out(f"{'provenance (spans)':{width + 2}} produced   kept  relab  shift  deleted  kept%")
    for src, c in sorted(ev.span_provenance.items()):
        out(
            f"  {src:{width}} {c.produced:8d} {c.kept:6d} {c.relabelled:6d} {c.shifted:6d} {c.deleted:8d}  "
            f"{100 * c.precision:5.1f}"
        )
    out(f"  {'missed (added by hand)':{width}} {se.added:8d}")
    if ev.relation_provenance:
        out(f"{'provenance (relations)':{width + 2}} produced   kept  retyped  removed  kept%")
        for src, c in sorted(ev.relation_provenance.items()):
            out(
                f"  {src:{width}} {c.produced:8d} {c.kept:6d} {c.relabelled:8d} {c.deleted:8d}  "
                f"{100 * c.precision:5.1f}"
            )
        out(f"  {'missed (added by hand)':{width}} {re_.added:8d}")
    return "\n".join(lines) + "\n"
