"""How unsure the pre-annotation of a document is, to give annotators the most useful ones first.

Every choice the pre-annotation makes about a span is a *decision*: a span it proposes, or a
span it could have proposed and did not. Each decision has a probability of being wrong, its
uncertainty ``u``:

- the model: the beam NER (``beam_parse``, width :data:`BEAM_WIDTH`) gives the probability
  ``p`` of every span and label it considered, summed over the beam's parses and mapped
  through the recipe's label map. A proposed span is wrong with ``1 - p``, a span left out
  with ``p``.
- the patterns against the model: a pattern span with a label the model can give is judged
  by the model the same way (``1 - p``); a pattern span that lost to another source is a
  disagreement (``u = 0.5`` unless the model judged it).
- the relation rules: a relation is only as sure as its arguments (``u`` is that of its least
  sure span), and two relation types for the same pair are a disagreement (``u >= 0.5``).

The document's score is the sum of the ``u`` (the expected number of wrong decisions, if the
probabilities are calibrated) divided by its number of tokens: the expected corrections per
token read, since reading is what costs the annotator most. See docs/active-learning.md.

:func:`scorer_for` puts a component before the NER that stores the beam's spans in the Doc
(so it runs in the worker processes with ``--n-process`` too) and returns the
:class:`Scorer`, which turns them, and the merged spans and relations, into
``meta.uncertainty``; :func:`by_uncertainty` sorts records most uncertain first with bounded
memory.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from annotate.errors import DataError
from annotate.recipe.model import recipe_label_of
from annotate.records.model import Record

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc
    from spacy.tokens import Span as SpacySpan

    from annotate.recipe import Recipe

BEAM_SCORER = "annotate_beam_scores"
BEAM_WIDTH = 16
# Parses whose score falls this far below the best are pruned (spaCy's beam_density).
BEAM_DENSITY = 0.0001
# Scores are rounded so that the order cannot depend on the last bits of a float (BLAS
# threads and batch shapes differ between one process and several).
DIGITS = 6
DISAGREEMENT = 0.5
METHOD_BEAM = "beam-ner"
METHOD_SOURCES = "source-disagreement"
_USER_DATA_KEY = "annotate.beam"

# A span as (start_char, end_char, label).
SpanKey = tuple[int, int, str]
# A merged span (start, end, label, source) or a relation (head, tail, label, source).
Annotation = tuple[int, int, str, str]


@dataclass(frozen=True)
class SpanView:
    """What the scorer knows of one merged span: offsets, label, and whether the model made it."""

    start: int
    end: int
    label: str
    from_model: bool

    @property
    def key(self) -> SpanKey:
        return (self.start, self.end, self.label)


def _register_beam_scorer() -> None:
    from spacy.language import Language

    if BEAM_SCORER not in Language.factories:
        Language.factory(BEAM_SCORER, func=lambda nlp, name: _BeamScorer(nlp))


class _BeamScorer:
    """Pipeline component, just before the NER: the beam's spans with their probabilities.

    It runs before the NER because the NER's own entities would constrain the beam; the beam
    parse reads the tok2vec output already in ``doc.tensor`` and leaves the Doc unchanged.
    """

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp

    def __call__(self, doc: Doc) -> Doc:
        ner: Any = self.nlp.get_pipe("ner")
        scored = ner.scored_ents([normalised_beam(ner, doc)])[0]
        doc.user_data[_USER_DATA_KEY] = sorted(
            (start, end, label, float(p)) for (start, end, label), p in scored.items()
        )
        return doc


def normalised_beam(ner: Any, doc: Doc) -> Any:
    """Return the beam of ``ner`` over ``doc`` with each step's scores as log-probabilities.

    Why not ``ner.beam_parse``: it adds the model's raw scores along a parse. A greedy-trained
    NER (en_core_web_sm's, and what ``annotate train`` writes) is trained on one step's softmax
    only, so raw scores of different paths do not compare: on re3d text its beam preferred
    55-token DATE spans the greedy NER never proposes. With each step's scores turned into
    log-probabilities the beam's best parse agreed with the greedy parse on 363 of 368 spans.
    One document per beam: its scores then do not depend on how documents are batched.
    """
    import numpy

    # A compiled module: it has no type stubs for mypy to read.
    from spacy.pipeline._parser_internals import _beam_utils  # type: ignore[attr-defined]

    batch = _beam_utils.BeamBatch(
        ner.moves, ner.moves.init_batch([doc]), None, BEAM_WIDTH, density=BEAM_DENSITY
    )
    model = ner.model.predict([doc])
    while not batch.is_done:
        states = batch.get_unfinished_states()
        if not states:
            break
        scores = model.predict(states)
        top = scores.max(axis=1, keepdims=True)
        log_z = top + numpy.log(numpy.exp(scores - top).sum(axis=1, keepdims=True))
        batch.advance(numpy.ascontiguousarray(scores - log_z, dtype="float32"))
    model.clear_memory()
    return list(batch)[0]


@dataclass
class Scorer:
    """Scores documents for one recipe and pipeline (see :func:`scorer_for`)."""

    label_map: dict[str, str]
    labels: frozenset[str]
    judged: frozenset[str]  # recipe labels the model can give: it judges pattern spans of these
    pattern_keys: list[str]  # the Doc.spans keys of the pattern sources
    model_source: str
    trim: Callable[[SpacySpan], tuple[int, int, int, int] | None]

    def score(self, doc: Doc, spans: Sequence[Annotation], relations: Sequence[Annotation]) -> dict[str, Any]:
        """Return ``meta.uncertainty`` of a document from its merged spans and relations."""
        views = [SpanView(s, e, label, src == self.model_source) for s, e, label, src in spans]
        kept = {v.key for v in views}
        lost = [
            (s.start_char, s.end_char, s.label_)
            for key in self.pattern_keys
            for s in doc.spans[key]
            if (s.start_char, s.end_char, s.label_) not in kept
        ]
        marginals = self.marginals(doc) if _USER_DATA_KEY in doc.user_data else None
        triples = [(h, t, label) for h, t, label, _ in relations]
        return score_document(views, triples, marginals, lost, self.judged, doc_tokens(doc))

    def marginals(self, doc: Doc) -> dict[SpanKey, float]:
        """Return the beam's probability of each span, in characters and recipe labels.

        Labels the recipe does not take mean "no span" and are left out; model labels that map
        to the same recipe label add up. Edge punctuation is trimmed as for the model's spans.
        """
        from spacy.tokens import Span as SpacySpan

        out: dict[SpanKey, float] = defaultdict(float)
        for start, end, label, p in doc.user_data[_USER_DATA_KEY]:
            mapped = self.recipe_label(label)
            trimmed = self.trim(SpacySpan(doc, start, end)) if mapped is not None else None
            if mapped is not None and trimmed is not None:
                out[(trimmed[2], trimmed[3], mapped)] += p
        return {k: min(1.0, v) for k, v in out.items()}

    def recipe_label(self, label: str) -> str | None:
        """Return the recipe label of a model label, or None if the recipe does not take it."""
        return recipe_label_of(label, self.label_map, self.labels)


def scorer_for(
    nlp: Language,
    recipe: Recipe,
    *,
    pattern_keys: Sequence[str],
    model_source: str,
    has_ner: bool,
    trim: Callable[[SpacySpan], tuple[int, int, int, int] | None],
) -> Scorer:
    """Return the Scorer for ``recipe``; with ``has_ner`` add the beam scorer before the NER."""
    label_map = dict(recipe.pipeline.label_map) if recipe.pipeline is not None else {}
    labels = frozenset(recipe.label_names)
    judged: frozenset[str] = frozenset()
    if has_ner:
        _register_beam_scorer()
        if BEAM_SCORER not in nlp.pipe_names:
            nlp.add_pipe(BEAM_SCORER, before="ner")
        model_labels = set(getattr(nlp.get_pipe("ner"), "labels", ()))
        judged = frozenset(
            mapped for x in model_labels if (mapped := recipe_label_of(x, label_map, labels)) is not None
        )
    return Scorer(label_map, labels, judged, list(pattern_keys), model_source, trim)


def doc_tokens(doc: Doc) -> int:
    """Return the number of tokens an annotator reads (whitespace tokens aside)."""
    return sum(1 for t in doc if not t.is_space)


def _span_uncertainty(
    spans: Sequence[SpanView], marginals: dict[SpanKey, float] | None, judged: frozenset[str]
) -> tuple[list[float], list[float]]:
    """Return each merged span's uncertainty, and those of the spans the model left out."""
    own: list[float] = []
    for s in spans:
        if marginals is not None and (s.from_model or s.label in judged):
            own.append(1.0 - marginals.get(s.key, 0.0))
        else:
            own.append(0.0)
    kept = {s.key for s in spans}
    missed = [p for k, p in (marginals or {}).items() if k not in kept]
    return own, missed


def _relation_uncertainty(relations: Sequence[tuple[int, int, str]], own: Sequence[float]) -> list[float]:
    """Return each relation's uncertainty: its least sure argument's, at least
    :data:`DISAGREEMENT` when rules gave its pair another type too."""
    types: dict[tuple[int, int], set[str]] = defaultdict(set)
    for h, t, label in relations:
        types[(min(h, t), max(h, t))].add(label)
    out = []
    for h, t, _ in relations:
        u = max(own[h], own[t])
        if len(types[(min(h, t), max(h, t))]) > 1:
            u = max(u, DISAGREEMENT)
        out.append(u)
    return out


def score_document(
    spans: Sequence[SpanView],
    relations: Sequence[tuple[int, int, str]],
    marginals: dict[SpanKey, float] | None,
    lost: Sequence[SpanKey],
    judged: frozenset[str],
    tokens: int,
) -> dict[str, Any]:
    """Return ``meta.uncertainty`` of one document: its score and how it was computed.

    ``spans`` are the merged spans, ``relations`` (head, tail, type) index into them,
    ``marginals`` the model's span probabilities (None without a model), ``lost`` the pattern
    spans another source won over, ``judged`` the labels the model can give.
    """
    own, missed = _span_uncertainty(spans, marginals, judged)
    rel = _relation_uncertainty(relations, own)
    # A pattern span that lost is the model's "left out" decision when the model judges it.
    disputed = [DISAGREEMENT for s in lost if marginals is None or s[2] not in judged]
    decisions = own + missed + rel + disputed
    out: dict[str, Any] = {
        "score": round(sum(decisions) / max(1, tokens), DIGITS),
        "method": METHOD_BEAM if marginals is not None else METHOD_SOURCES,
        "tokens": tokens,
        "decisions": len(decisions),
        "expected_errors": round(sum(decisions), DIGITS - 2),
        "least_sure": round(1.0 - max(decisions, default=0.0), DIGITS - 2),
    }
    if marginals is not None:
        out["beam_width"] = BEAM_WIDTH
    return out


def join_uncertainty(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return the ``meta.uncertainty`` of a document pre-annotated in pieces, from the pieces'.

    Decisions, tokens and expected errors add up; the score is per token of the whole text.
    """
    tokens = sum(p["tokens"] for p in parts)
    errors = sum(p["score"] * max(1, p["tokens"]) for p in parts)
    out = dict(parts[0])
    out.update(
        score=round(errors / max(1, tokens), DIGITS),
        tokens=tokens,
        decisions=sum(p["decisions"] for p in parts),
        expected_errors=round(sum(p["expected_errors"] for p in parts), DIGITS - 2),
        least_sure=min(p["least_sure"] for p in parts),
    )
    return out


def _sort_key(record: Record) -> tuple[float, str]:
    u = record.meta.get("uncertainty") if isinstance(record.meta, dict) else None
    if not isinstance(u, dict) or not isinstance(u.get("score"), int | float):
        raise DataError(f"record {record.doc_id} has no meta.uncertainty.score", code="E296")
    return (-float(u["score"]), record.doc_id)


def by_uncertainty(records: Iterable[Record]) -> Iterator[Record]:
    """Yield ``records`` most uncertain first, ties by ``doc_id``.

    Sorting needs every score, so the records are spilled to a temporary file (one JSON line
    each) and only (score, doc_id, offset, length) stays in memory; they are read back in order.
    """
    index: list[tuple[tuple[float, str], int, int]] = []
    with tempfile.TemporaryFile(prefix="annotate-order-") as spill:
        for record in records:
            line = json.dumps(record.to_dict(), ensure_ascii=False).encode("utf-8")
            index.append((_sort_key(record), spill.tell(), len(line)))
            spill.write(line)
        index.sort(key=lambda x: x[0])
        for _, offset, length in index:
            spill.seek(offset)
            yield Record.from_dict(json.loads(spill.read(length)))
