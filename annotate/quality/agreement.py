"""Inter-annotator agreement: pairwise span and relation F1, and Cohen's kappa on tokens.

Pure: records in, an :class:`Agreement` out. Annotators are compared in pairs on the documents
both labelled (same ``doc_id``; a document whose text differs between them is reported, not
scored). F1 between two annotators is symmetric, so neither needs to be "gold".

Cohen's kappa is computed on token-level labels: the text is tokenised with
``spacy.blank(lang)``, whitespace tokens are skipped, and each token gets the label of the
span covering it (``O`` when none). Where spans overlap, the longest covering span wins
(then the earliest, then the label in alphabetical order), so every token has exactly one label.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.errors import DataError, UsageError
from annotate.formats.jsonl import read_records
from annotate.quality.evaluate import MODES, Scores, add_scores, score_relations, score_spans
from annotate.records.model import Record, Span

OUTSIDE = "O"


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Return Cohen's kappa of two equally long label sequences.

    kappa = (p_o - p_e) / (1 - p_e). When p_e is 1 (both used one and the same label for
    every item) agreement is perfect and kappa is defined as 1.0; an empty input gives 1.0 too.
    """
    if len(a) != len(b):
        raise ValueError("label sequences differ in length")
    n = len(a)
    if n == 0:
        return 1.0
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if pe >= 1.0:
        return 1.0
    return (po - pe) / (1 - pe)


def token_labels(spans: Iterable[Span], tokens: Sequence[tuple[int, int]]) -> list[str]:
    """Return one label per token ``(start, end)``: the covering span's label, or ``O``."""
    ordered = sorted(spans, key=lambda s: (-(s.end - s.start), s.start, s.label))
    out = []
    for ts, te in tokens:
        label = OUTSIDE
        for s in ordered:
            if s.start < te and ts < s.end:
                label = s.label
                break
        out.append(label)
    return out


@dataclass
class PairAgreement:
    """Agreement of two annotators over the documents both labelled."""

    a: str
    b: str
    docs: int
    # Pooled over the shared documents, b scored against a (F1 is the same either way round).
    spans: dict[str, Scores]
    relations: dict[str, Scores]
    kappa: float
    tokens: int
    changed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "documents": self.docs,
            "text_changed": list(self.changed),
            "span_f1": {m: round(self.spans[m].micro.f1, 6) for m in MODES},
            "relation_f1": {m: round(self.relations[m].micro.f1, 6) for m in MODES},
            "kappa": round(self.kappa, 6),
            "tokens": self.tokens,
        }


@dataclass(frozen=True)
class DocAgreement:
    """One document's agreement, averaged over the pairs of annotators who both labelled it."""

    doc_id: str
    pairs: int
    span_f1: float
    overlap_f1: float
    kappa: float
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "doc_id": self.doc_id,
            "pairs": self.pairs,
            "span_f1": round(self.span_f1, 6),
            "span_f1_overlap": round(self.overlap_f1, 6),
            "kappa": round(self.kappa, 6),
        }
        if self.title:
            d["title"] = self.title
        return d


@dataclass
class Agreement:
    annotators: list[str]
    pairs: list[PairAgreement]
    # Worst first.
    documents: list[DocAgreement]

    def mean(self, what: str, mode: str = "strict") -> float:
        """Mean over pairs of ``span_f1``, ``relation_f1`` or ``kappa``; 0.0 with no pairs."""
        if not self.pairs:
            return 0.0
        vals = [
            p.kappa if what == "kappa" else (p.spans if what == "span_f1" else p.relations)[mode].micro.f1
            for p in self.pairs
        ]
        return sum(vals) / len(vals)

    def to_dict(self, *, lowest: int = 10) -> dict[str, Any]:
        return {
            "annotators": self.annotators,
            "mean": {
                "span_f1": {m: round(self.mean("span_f1", m), 6) for m in MODES},
                "relation_f1": {m: round(self.mean("relation_f1", m), 6) for m in MODES},
                "kappa": round(self.mean("kappa"), 6),
            },
            "pairs": [p.to_dict() for p in self.pairs],
            "lowest_documents": [d.to_dict() for d in self.documents[:lowest]],
        }


def _f1_or_perfect(scores: Scores) -> float:
    # Two annotators who both left a document empty agree on it completely.
    m = scores.micro
    return 1.0 if m.tp + m.fp + m.fn == 0 else m.f1


class _Tokens:
    def __init__(self, lang: str) -> None:
        import spacy

        try:
            self.nlp = spacy.blank(lang)
        except Exception as e:  # spaCy raises ImportError/KeyError flavours for unknown codes
            raise UsageError(
                f"spaCy has no language {lang!r}", hint="pass --lang with a code spaCy knows"
            ) from e
        self.cache: dict[str, list[tuple[int, int]]] = {}

    def __call__(self, text: str) -> list[tuple[int, int]]:
        if text not in self.cache:
            doc = self.nlp.make_doc(text)
            self.cache[text] = [(t.idx, t.idx + len(t.text)) for t in doc if not t.is_space]
        return self.cache[text]


def agreement(
    annotations: dict[str, dict[str, Record]], *, lang: str = "en", undirected: Collection[str] = ()
) -> Agreement:
    """Compare every pair of annotators; ``annotations`` maps annotator -> doc_id -> record.

    Relation types in ``undirected`` count as the same relation either way round.
    """
    names = sorted(annotations)
    if len(names) < 2:
        raise UsageError(
            f"agreement needs at least two annotators, found {len(names)}",
            hint="pass two or more gold files, or one file whose records carry different `annotator` values",
        )
    tok = _Tokens(lang)
    per_doc = _PerDoc()
    pairs = [
        _compare_pair(a, b, annotations[a], annotations[b], tok=tok, undirected=undirected, per_doc=per_doc)
        for a, b in itertools.combinations(names, 2)
    ]
    return Agreement(annotators=names, pairs=pairs, documents=per_doc.worst_first())


class _PerDoc:
    """Each document's scores from every pair of annotators who labelled it, and its title."""

    def __init__(self) -> None:
        self.scores: dict[str, list[tuple[float, float, float]]] = {}
        self.titles: dict[str, str] = {}

    def add(self, doc_id: str, rec: Record, span_f1: float, overlap_f1: float, kappa: float) -> None:
        self.scores.setdefault(doc_id, []).append((span_f1, overlap_f1, kappa))
        title = rec.meta.get("title")
        if isinstance(title, str):
            self.titles[doc_id] = title

    def worst_first(self) -> list[DocAgreement]:
        """Return each document's agreement averaged over its pairs, the lowest first."""
        docs = [
            DocAgreement(
                doc_id=d,
                pairs=len(v),
                span_f1=sum(x[0] for x in v) / len(v),
                overlap_f1=sum(x[1] for x in v) / len(v),
                kappa=sum(x[2] for x in v) / len(v),
                title=self.titles.get(d),
            )
            for d, v in self.scores.items()
        ]
        docs.sort(key=lambda d: (d.span_f1, d.kappa, d.doc_id))
        return docs


def _compare_pair(
    a: str,
    b: str,
    da: dict[str, Record],
    db: dict[str, Record],
    *,
    tok: _Tokens,
    undirected: Collection[str],
    per_doc: _PerDoc,
) -> PairAgreement:
    """Return the agreement of annotators ``a`` and ``b`` on the documents both labelled,
    adding each document's scores to ``per_doc``."""
    spans = {m: Scores({}) for m in MODES}
    rels = {m: Scores({}) for m in MODES}
    la: list[str] = []
    lb: list[str] = []
    changed = []
    n = 0
    for doc_id in sorted(set(da) & set(db)):
        ra, rb = da[doc_id], db[doc_id]
        if ra.doc_hash != rb.doc_hash:
            changed.append(doc_id)
            continue
        n += 1
        doc_spans = {m: score_spans(rb.entities, ra.entities, m) for m in MODES}
        for m in MODES:
            spans[m] = add_scores(spans[m], doc_spans[m])
            rels[m] = add_scores(rels[m], score_relations(rb, ra, m, undirected))
        toks = tok(ra.text)
        ta, tb = token_labels(ra.entities, toks), token_labels(rb.entities, toks)
        la += ta
        lb += tb
        strict, overlap = _f1_or_perfect(doc_spans["strict"]), _f1_or_perfect(doc_spans["overlap"])
        per_doc.add(doc_id, ra, strict, overlap, cohen_kappa(ta, tb))
    return PairAgreement(
        a=a,
        b=b,
        docs=n,
        spans=spans,
        relations=rels,
        kappa=cohen_kappa(la, lb),
        tokens=len(la),
        changed=changed,
    )


def load_annotations(paths: Sequence[str | os.PathLike[str]]) -> dict[str, dict[str, Record]]:
    """Read gold files into annotator -> doc_id -> record.

    A record's ``annotator`` names its annotator; records without one take their file's name
    (without extension). So one ``pull --per-annotator`` file, or one file per annotator, both work.
    """
    out: dict[str, dict[str, Record]] = {}
    where: dict[tuple[str, str], str] = {}
    for path in paths:
        stem = Path(path).stem if str(path) != "-" else "stdin"
        for lineno, rec in read_records(path):
            who = rec.annotator or stem
            docs = out.setdefault(who, {})
            if rec.doc_id in docs:
                raise DataError(
                    f"annotator {who!r} has doc_id {rec.doc_id!r} twice "
                    f"(first at {where[(who, rec.doc_id)]})",
                    path=str(path),
                    line=lineno,
                    code="E171",
                )
            docs[rec.doc_id] = rec
            where[(who, rec.doc_id)] = f"{path}:{lineno}"
    return out


def agreement_files(
    paths: Sequence[str | os.PathLike[str]], *, lang: str = "en", undirected: Collection[str] = ()
) -> Agreement:
    """Read gold files and compare their annotators."""
    return agreement(load_annotations(paths), lang=lang, undirected=undirected)


def format_text(ag: Agreement, *, lowest: int = 10) -> str:
    """A plain-text agreement report."""
    lines = [f"annotators: {', '.join(ag.annotators)}"]
    lines.append(
        f"mean over {len(ag.pairs)} pairs: span F1 {ag.mean('span_f1'):.3f} strict, "
        f"{ag.mean('span_f1', 'overlap'):.3f} overlap; relation F1 {ag.mean('relation_f1'):.3f} strict, "
        f"{ag.mean('relation_f1', 'overlap'):.3f} overlap; kappa {ag.mean('kappa'):.3f}"
    )
    lines.append("")
    lines.append(
        f"  {'pair':36} {'docs':>5} {'span F1':>8} {'overlap':>8} {'rel F1':>7} {'rel ovl':>7} {'kappa':>6}"
    )
    for p in ag.pairs:
        pair = f"{p.a} / {p.b}"
        lines.append(
            f"  {pair:36} {p.docs:5d} {p.spans['strict'].micro.f1:8.3f} {p.spans['overlap'].micro.f1:8.3f} "
            f"{p.relations['strict'].micro.f1:7.3f} {p.relations['overlap'].micro.f1:7.3f} {p.kappa:6.3f}"
        )
        if p.changed:
            lines.append(f"    text differs, not scored: {', '.join(p.changed)}")
    if ag.documents:
        lines.append("")
        lines.append(f"lowest agreement (of {len(ag.documents)} documents):")
        for d in ag.documents[:lowest]:
            title = f"  {d.title}" if d.title else ""
            lines.append(
                f"  {d.doc_id:36} span F1 {d.span_f1:.3f}  overlap {d.overlap_f1:.3f}  "
                f"kappa {d.kappa:.3f}{title}"
            )
    return "\n".join(lines) + "\n"


__all__ = [
    "Agreement",
    "DocAgreement",
    "PairAgreement",
    "agreement",
    "agreement_files",
    "cohen_kappa",
    "format_text",
    "load_annotations",
    "token_labels",
]
