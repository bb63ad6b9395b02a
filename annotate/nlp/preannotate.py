"""Pre-annotation: documents in, Records with entities and relations out, as a stream.

``preannotate()`` loads the recipe's pipeline (only the components it needs) and returns a
:class:`Run`: ``run.records`` is a generator of Records in input order, and ``run.summary``
fills in as it is consumed (documents, spans by source, dropped labels, skipped documents
with their reasons). The output is deterministic: ids are assigned in (start, end, label)
order and nothing depends on time, process count or dict order. A text longer than the
pipeline's ``max_length`` is pre-annotated in pieces (:mod:`annotate.nlp.pieces`).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from annotate.errors import DataError, UsageError
from annotate.nlp.inputs import DEFAULT_GLOB, InputDoc, Problem, read_documents
from annotate.nlp.pieces import Bounds, cut, join
from annotate.nlp.pipelines import LoadedPipeline, load
from annotate.nlp.relation_rules import RelationRule, build_rules, find_relations, rules_needs
from annotate.nlp.uncertainty import Scorer, scorer_for
from annotate.recipe import Recipe, recipe_label_of
from annotate.records.model import Record, Relation, Span
from annotate.workers import can_fork, map_in_order, tasks_ending_small

if TYPE_CHECKING:
    from spacy.tokens import Doc
    from spacy.tokens import Span as SpacySpan

DEFAULT_BATCH_SIZE = 32
# The pipeline component that turns a parsed Doc into plain annotations, and the key of
# Doc.user_data it stores them under (plain lists and dicts, serialised with the Doc).
ANNOTATOR = "annotate_records"
_USER_DATA_KEY = "annotate.annotations"
# Where the annotations of the texts come from instead of this process or forked workers
# (``preannotate --scheduler``: a Dask cluster, see annotate.nlp.distributed): given the
# loaded pipeline, the texts in input order and the batch size, it yields one annotator
# dict a text, in the same order.
BatchSource = Callable[[LoadedPipeline, Iterator[str], int], Iterator[dict[str, Any]]]


@dataclass
class Summary:
    """What a run did: counts, and every document skipped or warned about, with the reason."""

    recipe: str = ""
    pipeline: str = ""
    components: list[str] = field(default_factory=list)
    docs: int = 0
    chars: int = 0
    entities: Counter[str] = field(default_factory=Counter)  # by source
    relations: Counter[str] = field(default_factory=Counter)  # by source
    dropped_labels: Counter[str] = field(default_factory=Counter)  # pipeline labels not mapped
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    rules_skipped: list[str] = field(default_factory=list)
    max_length: int = 0  # the pipeline's: a longer text is pre-annotated in pieces
    pieced: int = 0  # documents pre-annotated in pieces
    seconds: float = 0.0


@dataclass
class Run:
    """A started pre-annotation: consume ``records``; ``summary`` is complete afterwards."""

    records: Iterator[Record]
    summary: Summary
    pipeline: LoadedPipeline


@dataclass(frozen=True)
class _Candidate:
    start: int  # token indices
    end: int
    start_char: int
    end_char: int
    label: str
    source: str
    rank: int  # the source's place in the recipe's order


def _trim(span: SpacySpan) -> tuple[int, int, int, int] | None:
    """Return (start, end, start_char, end_char) of ``span`` without punctuation or space
    tokens at its edges (the model's "the Jordan Armed Forces –"), or None if nothing is left."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and (doc[start].is_punct or doc[start].is_space):
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].is_space):
        end -= 1
    if start == end:
        return None
    return start, end, doc[start].idx, doc[end - 1].idx + len(doc[end - 1])


def _candidates(
    doc: Doc, recipe: Recipe, pipe: _PipeInfo | LoadedPipeline, summary: Summary
) -> list[_Candidate]:
    out: list[_Candidate] = []
    labels = set(recipe.label_names)
    label_map = recipe.pipeline.label_map if recipe.pipeline is not None else {}
    rank = 0
    # With preset patterns doc.ents holds the pattern spans too: those are not the model's.
    preset = (
        {(s.start, s.end, s.label_) for key, _ in pipe.pattern_keys for s in doc.spans[key]}
        if pipe.preset
        else set()
    )
    for kind in recipe.source_order:
        if kind == "pipeline" and pipe.has_ner:
            for ent in doc.ents:
                if (ent.start, ent.end, ent.label_) in preset:
                    continue
                label = recipe_label_of(ent.label_, label_map, labels)
                if label is None:
                    summary.dropped_labels[ent.label_] += 1
                    continue
                trimmed = _trim(ent)
                if trimmed is not None:
                    out.append(_Candidate(*trimmed, label, pipe.model_source, rank))
            rank += 1
        elif kind == "patterns":
            for key, source in pipe.pattern_keys:
                for span in doc.spans[key]:
                    out.append(
                        _Candidate(
                            span.start, span.end, span.start_char, span.end_char, span.label_, source, rank
                        )
                    )
                rank += 1
    return out


def merge(candidates: Sequence[_Candidate], *, policy: str, allow_overlapping: bool) -> list[_Candidate]:
    """Return the spans kept from all sources, sorted by (start, end, label).

    ``first``: a span of an earlier source wins over any span it overlaps. ``longest``: the
    longer span wins, and the earlier source on a tie (``preset`` spans cannot overlap: the
    model ran around them; it is settled like ``longest``). With ``allow_overlapping`` only exact
    duplicates (same offsets) are settled. Ties are broken by position, so the result does
    not depend on the order of ``candidates`` within a source.
    """
    if policy in ("longest", "preset"):
        order = sorted(
            candidates, key=lambda c: (-(c.end_char - c.start_char), c.rank, c.start_char, c.label)
        )
    elif policy == "first":
        order = sorted(
            candidates, key=lambda c: (c.rank, c.start_char, -(c.end_char - c.start_char), c.label)
        )
    else:
        raise UsageError(f"unknown conflict policy {policy!r}", hint="valid policies: first, longest")
    kept: list[_Candidate] = []
    taken: set[int] = set()  # token indices covered
    offsets: set[tuple[int, int]] = set()
    for c in order:
        if allow_overlapping:
            if (c.start_char, c.end_char) in offsets:
                continue
        elif any(t in taken for t in range(c.start, c.end)):
            continue
        kept.append(c)
        offsets.add((c.start_char, c.end_char))
        taken.update(range(c.start, c.end))
    return sorted(kept, key=lambda c: (c.start_char, c.end_char, c.label))


# (start, end, label, source) of a span and (head, tail, label, source) of a relation.
_Annotations = tuple[list[tuple[int, int, str, str]], list[tuple[int, int, str, str]], dict[str, int]]


def _annotations(doc: Doc, recipe: Recipe, pipe: _PipeInfo, rules: Sequence[RelationRule]) -> _Annotations:
    """Return (spans, relations, dropped pipeline labels) of one processed document."""
    from spacy.tokens import Span as SpacySpan
    from spacy.util import filter_spans

    dropped = Summary()
    kept = merge(
        _candidates(doc, recipe, pipe, dropped),
        policy=recipe.conflict_policy,
        allow_overlapping=recipe.allow_overlapping,
    )
    spans = [(c.start_char, c.end_char, c.label, c.source) for c in kept]
    relations: list[tuple[int, int, str, str]] = []
    if rules:
        ents: list[SpacySpan] = [SpacySpan(doc, c.start, c.end, label=c.label) for c in kept]
        # DependencyMatcher patterns may test ENT_TYPE, so the doc carries the merged entities.
        doc.ents = filter_spans(ents)
        relations = [(f.head, f.tail, f.label, f.source) for f in find_relations(rules, recipe, doc, ents)]
    return spans, relations, dict(dropped.dropped_labels)


@dataclass
class _PipeInfo:
    """What :func:`_candidates` reads of a LoadedPipeline, without the pipeline itself (the
    annotator component lives inside the pipeline and is sent to worker processes)."""

    pattern_keys: list[tuple[str, str]]
    preset: bool
    has_ner: bool
    model_source: str


class _Annotator:
    """Pipeline component: the spans and relations of a Doc, stored in ``doc.user_data``.

    It runs where the pipeline runs, so with ``--n-process`` the relation rules run in the
    worker processes too, and the main process only turns plain data into Records.
    """

    def __init__(self) -> None:
        self.recipe: Recipe | None = None
        self.info: _PipeInfo | None = None
        self.rules: list[RelationRule] = []
        self.scorer: Scorer | None = None  # set for --order uncertainty

    def configure(self, recipe: Recipe, pipe: LoadedPipeline, rules: Sequence[RelationRule]) -> None:
        self.recipe = recipe
        self.info = _PipeInfo(list(pipe.pattern_keys), pipe.preset, pipe.has_ner, pipe.model_source)
        self.rules = list(rules)

    def __call__(self, doc: Doc) -> Doc:
        if self.recipe is not None and self.info is not None:
            spans, relations, dropped = _annotations(doc, self.recipe, self.info, self.rules)
            stored: dict[str, Any] = {"spans": spans, "relations": relations, "dropped": dropped}
            if self.scorer is not None:
                stored["uncertainty"] = self.scorer.score(doc, spans, relations)
            doc.user_data[_USER_DATA_KEY] = stored
        return doc


def _register_annotator() -> None:
    from spacy.language import Language

    if ANNOTATOR not in Language.factories:
        Language.factory(ANNOTATOR, func=lambda nlp, name: _Annotator())


def _stored_annotations(
    doc: Doc | dict[str, Any], *, recipe: Recipe, pipe: LoadedPipeline, rules: Sequence[RelationRule]
) -> dict[str, Any]:
    """Return the plain annotations of one processed text: those the annotator component
    stored where it ran (or a worker process sent), else computed here."""
    stored = doc if isinstance(doc, dict) else doc.user_data.pop(_USER_DATA_KEY, None)
    if stored is not None:
        return stored
    assert not isinstance(doc, dict)
    info = _PipeInfo(pipe.pattern_keys, pipe.preset, pipe.has_ner, pipe.model_source)
    spans, relations, dropped = _annotations(doc, recipe, info, rules)
    return {"spans": spans, "relations": relations, "dropped": dropped}


def annotate_doc(
    doc: Doc | dict[str, Any],
    item: InputDoc,
    *,
    recipe: Recipe,
    pipe: LoadedPipeline,
    rules: Sequence[RelationRule],
    summary: Summary,
    pieces: int = 1,
) -> Record:
    """Return the Record for one processed document (annotated by the pipeline's annotator
    component where it ran, else here), or for the annotations a worker process sent or its
    pieces joined (see :func:`_stored_annotations`); ``pieces`` > 1 is said in its meta."""
    stored = _stored_annotations(doc, recipe=recipe, pipe=pipe, rules=rules)
    summary.dropped_labels.update(stored["dropped"])
    spans = [
        Span(id=i, start=s, end=e, label=label, source=src)
        for i, (s, e, label, src) in enumerate(stored["spans"])
    ]
    relations = [
        Relation(id=k, head=h, tail=t, label=label, source=src)
        for k, (h, t, label, src) in enumerate(stored["relations"])
    ]
    for sp in spans:
        summary.entities[sp.source or ""] += 1
    for r in relations:
        summary.relations[r.source or ""] += 1
    meta: dict[str, Any] = dict(item.meta)
    meta["source_path"] = item.source
    if item.line is not None:
        meta["source_line"] = item.line
    meta["recipe"] = recipe.id
    meta["pipeline"] = pipe.id
    if pieces > 1:
        meta["pieces"] = pieces
    if "uncertainty" in stored:
        meta["uncertainty"] = stored["uncertainty"]
    return Record(text=item.text, doc_id=item.doc_id, entities=spans, relations=relations, meta=meta)


def preannotate(
    inputs: Sequence[str],
    recipe: Recipe,
    *,
    model: str | None = None,
    n_process: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    text_key: str = "text",
    glob: str = DEFAULT_GLOB,
    strict: bool = False,
    uncertainty: bool = False,
    max_length: int | None = None,
    progress: Callable[[int], None] | None = None,
    batches: BatchSource | None = None,
) -> Run:
    """Load the pipeline and return a Run whose ``records`` pre-annotate ``inputs`` lazily.

    Skipped documents are reported in ``run.summary.skipped``; with ``strict`` the first one
    raises a DataError instead. With ``uncertainty`` each record's meta carries its
    ``uncertainty`` (see :mod:`annotate.nlp.uncertainty`). A text longer than the pipeline's
    ``max_length`` (or ``max_length``, when given) is pre-annotated in pieces (see
    :mod:`annotate.nlp.pieces`), and its meta says ``pieces``. Raises ModelNotFoundError before
    reading any input when no pipeline of the recipe is installed. ``batches`` replaces this
    process and ``n_process`` as the one that runs the pipeline over the texts.
    """
    _check_options(n_process=n_process, batch_size=batch_size, limit=limit, max_length=max_length)
    pipe, rules, summary = _prepare(recipe, model=model, uncertainty=uncertainty, max_length=max_length)
    # Documents wait here, in input order, while their pieces are in the pipeline: passing
    # plain texts (not as_tuples) lets the worker processes tokenize them, not this one.
    pending: deque[_Pending] = deque()
    documents = read_documents(inputs, text_key=text_key, glob=glob)
    texts = _texts(documents, pending, summary, strict=strict, limit=limit, max_length=pipe.nlp.max_length)
    stream = _processed(pipe, texts, n_process=n_process, batch_size=batch_size, batches=batches)
    records = _records(
        stream, pending, recipe=recipe, pipe=pipe, rules=rules, summary=summary, progress=progress
    )
    return Run(records=records, summary=summary, pipeline=pipe)


def _check_options(*, n_process: int, batch_size: int, limit: int | None, max_length: int | None) -> None:
    """Raise UsageError for an option out of range."""
    if n_process < 1:
        raise UsageError("--n-process must be at least 1")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if limit is not None and limit < 0:
        raise UsageError("--limit must not be negative")
    if max_length is not None and max_length < 1:
        raise UsageError("--max-length must be at least 1")


def _prepare(
    recipe: Recipe, *, model: str | None, uncertainty: bool, max_length: int | None
) -> tuple[LoadedPipeline, list[RelationRule], Summary]:
    """Load the pipeline with the annotator last; return it, the rules it can run, the summary."""
    all_rules = build_rules(recipe)
    pipe = load(recipe, model=model, needs=rules_needs(all_rules))
    if max_length is not None:
        pipe.nlp.max_length = max_length
    rules = []
    summary = Summary(
        recipe=recipe.id,
        pipeline=pipe.id,
        components=list(pipe.nlp.pipe_names),
        max_length=pipe.nlp.max_length,
    )
    for rule in all_rules:
        missing = sorted(rule.needs - pipe.capabilities)
        if missing:
            summary.rules_skipped.append(f"{rule.name}: the pipeline {pipe.name} has no {', '.join(missing)}")
        else:
            rules.append(rule)
    # The annotator runs last in the pipeline: in the worker processes when there are some.
    _register_annotator()
    if ANNOTATOR not in pipe.nlp.pipe_names:
        pipe.nlp.add_pipe(ANNOTATOR, last=True)
    annotator = pipe.nlp.get_pipe(ANNOTATOR)
    assert isinstance(annotator, _Annotator)
    annotator.configure(recipe, pipe, rules)
    if uncertainty:
        annotator.scorer = scorer_for(
            pipe.nlp,
            recipe,
            pattern_keys=[key for key, _ in pipe.pattern_keys],
            model_source=pipe.model_source,
            has_ner=pipe.has_ner,
            trim=_trim,
        )
    return pipe, rules, summary


@dataclass(frozen=True)
class _Pending:
    """A document whose pieces are in the pipeline."""

    item: InputDoc
    bounds: list[Bounds]


def _texts(
    documents: Iterator[InputDoc | Problem],
    pending: deque[_Pending],
    summary: Summary,
    *,
    strict: bool,
    limit: int | None,
    max_length: int,
) -> Iterator[str]:
    """Yield the texts to run the pipeline on (a long document's pieces one after another),
    noting each document in ``pending``; problems go to the summary (or raise with ``strict``)."""
    n = 0
    for item in documents:
        if isinstance(item, Problem):
            _note_problem(item, summary, strict=strict)
            continue
        if limit is not None and n >= limit:
            return
        n += 1
        bounds = cut(item.text, max_length)
        pending.append(_Pending(item, bounds))
        if len(bounds) == 1:
            yield item.text
        else:
            summary.pieced += 1
            for start, end in bounds:
                yield item.text[start:end]


def _note_problem(item: Problem, summary: Summary, *, strict: bool) -> None:
    """Record a document not read (or read with a warning); with ``strict`` a skip raises."""
    if not item.fatal_if_strict:
        summary.warnings.append(item)
        return
    if strict:
        raise DataError(
            item.reason,
            path=item.source,
            line=item.line,
            code=item.code,
            hint="without --strict such documents are skipped and reported",
        )
    summary.skipped.append(item)


def _processed(
    pipe: LoadedPipeline,
    texts: Iterator[str],
    *,
    n_process: int,
    batch_size: int,
    batches: BatchSource | None,
) -> Iterator[Doc | dict[str, Any]]:
    """Yield each text processed, in order: a Doc, or the annotations a worker process sent."""
    if batches is not None:
        return iter(batches(pipe, texts, batch_size))
    if n_process > 1 and can_fork():
        return _forked_annotations(pipe.nlp, texts, n_process, batch_size)
    return iter(pipe.nlp.pipe(texts, batch_size=batch_size, n_process=n_process))


def _records(
    stream: Iterator[Doc | dict[str, Any]],
    pending: deque[_Pending],
    *,
    recipe: Recipe,
    pipe: LoadedPipeline,
    rules: Sequence[RelationRule],
    summary: Summary,
    progress: Callable[[int], None] | None,
) -> Iterator[Record]:
    """Yield one Record a document, its pieces' annotations joined, counting into the summary."""
    started = time.perf_counter()
    parts: list[dict[str, Any]] = []
    try:
        for doc in stream:
            parts.append(_stored_annotations(doc, recipe=recipe, pipe=pipe, rules=rules))
            if len(parts) < len(pending[0].bounds):
                continue
            done = pending.popleft()
            stored = parts[0] if len(parts) == 1 else join(parts, done.bounds)
            parts = []
            yield annotate_doc(
                stored,
                done.item,
                recipe=recipe,
                pipe=pipe,
                rules=rules,
                summary=summary,
                pieces=len(done.bounds),
            )
            summary.docs += 1
            summary.chars += len(done.item.text)
            if progress is not None:
                progress(1)
    finally:
        summary.seconds = time.perf_counter() - started


def batch_annotations(nlp: Any, texts: list[str]) -> list[dict[str, Any]]:
    """Where the pipeline runs (a forked or a Dask worker): run ``nlp`` (prepared by
    :func:`preannotate`, its annotator last) over ``texts``; return each text's plain annotations."""
    return [doc.user_data[_USER_DATA_KEY] for doc in nlp.pipe(texts, batch_size=len(texts))]


def _forked_annotations(
    nlp: Any, texts: Iterator[str], n_process: int, batch_size: int
) -> Iterator[dict[str, Any]]:
    """Yield the annotations of ``texts``, in order, from ``n_process`` forked workers.

    Why not ``nlp.pipe(n_process=...)``: spaCy deals out its batches in turn, so at the end of
    the input one worker can still hold a whole batch while the others wait, and it sends whole
    Docs back, which this process deserialises. Here a worker takes the next task when it is
    free, the last documents go out in small tasks (see
    :func:`~annotate.workers.tasks_ending_small`), and a worker sends back only the annotator's
    plain lists. The pipeline reaches the workers by the fork.
    """
    tasks = tasks_ending_small(texts, batch_size, n_process, tail=4)
    for result in map_in_order(batch_annotations, tasks, n_process, shared=nlp, what="pre-annotation"):
        yield from result


def format_summary(summary: Summary, out: str) -> str:
    """Return the human summary of a run (for stderr): counts, speed, what was skipped."""
    lines = [
        f"wrote {summary.docs} tasks to {out} ({summary.recipe}, pipeline {summary.pipeline})",
        f"  {summary.docs / summary.seconds if summary.seconds else 0:,.1f} docs/s, "
        f"{summary.chars / summary.seconds if summary.seconds else 0:,.0f} chars/s; "
        f"components: {', '.join(summary.components) or 'none'}",
    ]
    if summary.entities:
        lines.append("  entities: " + ", ".join(f"{n} {s}" for s, n in sorted(summary.entities.items())))
    if summary.relations:
        lines.append("  relations: " + ", ".join(f"{n} {s}" for s, n in sorted(summary.relations.items())))
    if summary.dropped_labels:
        dropped = ", ".join(f"{n} {label}" for label, n in sorted(summary.dropped_labels.items()))
        lines.append(f"  pipeline labels not in the label map, dropped: {dropped}")
    for rule in summary.rules_skipped:
        lines.append(f"  rule skipped: {rule}")
    if summary.pieced:
        lines.append(
            f"  {summary.pieced} documents longer than {summary.max_length:,} characters were "
            "pre-annotated in pieces (split at paragraphs, then sentences; meta.pieces says how many)"
        )
    for w in summary.warnings:
        lines.append(f"  warning: {w.where}: {w.reason} [{w.code}]")
    if summary.skipped:
        lines.append(f"  skipped {len(summary.skipped)} documents:")
        for p in summary.skipped:
            lines.append(f"    {p.where}: {p.reason} [{p.code}]")
    return "\n".join(lines)
