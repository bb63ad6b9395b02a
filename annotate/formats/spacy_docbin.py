"""spaCy DocBin: entities in ``doc.ents``, every span in ``doc.spans[key]``, relations in ``doc._.rel``.

- ``doc.ents`` holds the non-overlapping choice (the others stay in ``doc.spans``);
- ``doc._.rel`` is what spaCy's relation-extraction tutorial component reads:
  ``{(head token start, tail token start): {label: 1.0}}``. It is keyed by token starts, so two
  spans that start on one token share a key; the exact relations (by span id) are therefore
  also kept in ``user_data["annotate"]``, with the spans no token can hold (by character
  offsets; they are reported, not in ``doc.spans``);
- ``user_data`` holds ``doc_id``, ``doc_hash`` and ``source`` (``file:line``). DocBins are
  written with ``store_user_data=True`` so all of it survives serialisation.

A split of at most ``SHARD_DOCS`` documents is one file, ``<split>.spacy``; a larger one is a
directory ``<split>/`` of shards ``000.spacy``, ``001.spacy``, ... of ``SHARD_DOCS`` documents
each, so that a writer holds one shard at a time. ``spacy train``, ``spacy debug data`` and
``read_docbin`` take either form.
"""

from __future__ import annotations

import contextlib
import copy
import os
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy
import srsly
from spacy.attrs import SPACY, intify_attr
from spacy.language import Language
from spacy.morphology import Morphology
from spacy.tokens import Doc, DocBin
from spacy.tokens import Span as SpacySpan
from spacy.vocab import Vocab

from annotate.errors import AnnotateError
from annotate.formats.alignment import Refused
from annotate.formats.prepared import Omission, PreparedDoc, Tally
from annotate.records.model import Record, Relation, Span

FORMAT = "spacy"
DEFAULT_SPAN_KEY = "sc"
USER_DATA_KEY = "annotate"
REL_EXTENSION = "rel"
#: Documents a DocBin holds before it is written out as a shard.
SHARD_DOCS = 1000
#: zlib level of the DocBins written (spaCy's reader takes any level).
ZLIB_LEVEL = 3
# The token attributes whose strings DocBin.add stores, as hashes (see FastDocBin).
# MORPH comes first, as its empty value is written differently.
_STRING_ATTRS: list[int] = [
    intify_attr(a)
    for a in ("MORPH", "ORTH", "TAG", "LEMMA", "NORM", "DEP", "ENT_TYPE", "ENT_KB_ID", "ENT_ID")
]
_EMPTY_MORPH = Morphology.EMPTY_MORPH
# Hashes held before their strings are looked up (8 bytes each; a news article gives ~1,000).
_PENDING_VALUES = 500_000
#: What an export's Docs carry: a tokenizer's tokens and norms, and the entities. DocBin's
#: default stores every token attribute (tags, lemmas, heads, ...), which a blank pipeline leaves
#: empty: zeros that made the file and the time to write it about twice as large.
EXPORT_ATTRS = ["ORTH", "NORM", "ENT_IOB", "ENT_TYPE", "ENT_KB_ID", "ENT_ID"]


def ensure_rel_extension() -> None:
    """Register ``Doc._.rel`` as the tutorial does, unless something registered it already."""
    if not Doc.has_extension(REL_EXTENSION):
        Doc.set_extension(REL_EXTENSION, default={})


def to_doc(
    prep: PreparedDoc,
    nlp: Language,
    *,
    span_key: str = DEFAULT_SPAN_KEY,
    tally: Tally | None = None,
    doc: Doc | None = None,
) -> Doc:
    """Return the Doc for one prepared record; what it cannot hold goes to ``tally``.

    ``doc`` is the record's text as ``nlp.make_doc`` tokenised it for ``prep`` (its token
    indexes are the ones ``prep`` holds); it is filled in and returned, which saves tokenising
    the text a second time. Without it the text is tokenised here.
    """
    ensure_rel_extension()
    record = prep.record
    if doc is None:
        doc = nlp.make_doc(record.text)
    in_group = _set_spans(doc, prep, span_key)
    omissions = prep.token_span_omissions(FORMAT, overlaps_lost=False) + prep.dangling_omissions(FORMAT)
    rels = _token_relations(prep)
    omissions += rels.omissions
    doc._.set(REL_EXTENSION, rels.rel)
    doc.user_data["doc_id"] = record.doc_id
    doc.user_data["doc_hash"] = record.doc_hash
    doc.user_data["source"] = prep.source
    doc.user_data[USER_DATA_KEY] = {
        "span_key": span_key,
        "span_ids": [record.entities[i].id for i in in_group],
        "unplaced": _unplaced(prep),
        "relations": rels.kept,
    }
    if tally is not None:
        _count(tally, prep, len(in_group), rels, omissions)
    return doc


def _set_spans(doc: Doc, prep: PreparedDoc, span_key: str) -> list[int]:
    """Put every aligned span in ``doc.spans[span_key]`` and the chosen ones in ``doc.ents``;
    return the indexes of the spans in the group."""
    spans = prep.record.entities
    in_group = [i for i in range(len(spans)) if prep.aligned(i) is not None]
    # Span(doc, start, end, label=...) is doc[start:end] with its label, made in one call.
    group = []
    for i in in_group:
        a = prep.aligned(i)
        assert a is not None
        group.append(SpacySpan(doc, a.tok_start, a.tok_end, label=spans[i].label))
    doc.spans[span_key] = group
    ents = []
    for i in prep.chosen:
        a = prep.aligned(i)
        assert a is not None
        ents.append(SpacySpan(doc, a.tok_start, a.tok_end, label=spans[i].label))
    doc.ents = ents
    return in_group


@dataclass
class _TokenRelations:
    """A record's relations as a DocBin holds them."""

    kept: list[list[Any]]  # [id, head, tail, label] of every relation with both endpoints
    rel: dict[tuple[int, int], dict[str, float]]  # doc._.rel, keyed by token starts
    omissions: list[Omission]  # the kept ones whose endpoints are not both in the Doc, with the reason

    @property
    def written(self) -> int:
        """The relations whose endpoints are both in the Doc."""
        return len(self.kept) - len(self.omissions)


def _token_relations(prep: PreparedDoc) -> _TokenRelations:
    """Return the relations of ``prep`` keyed by their endpoints' token starts (``doc._.rel``)."""
    out = _TokenRelations(kept=[], rel={}, omissions=[])
    for j, r in enumerate(prep.record.relations):
        if j not in prep.endpoints:
            continue
        out.kept.append([r.id, r.head, r.tail, r.label])
        h, t = prep.endpoints[j]
        ha, ta = prep.aligned(h), prep.aligned(t)
        if ha is None or ta is None:
            out.omissions.append(prep.relation_omission(FORMAT, j, "endpoint_not_written"))
            continue
        out.rel.setdefault((ha.tok_start, ta.tok_start), {})[r.label] = 1.0
    return out


def _unplaced(prep: PreparedDoc) -> list[list[Any]]:
    """Return the spans no token can hold, by character offsets: they are reported, and kept
    in ``user_data`` so that reading the DocBin back gives the whole gold."""
    spans = prep.record.entities
    return [
        [spans[i].id, spans[i].start, spans[i].end, spans[i].label, a.reason]
        for i, a in sorted(prep.alignment.items())
        if isinstance(a, Refused)
    ]


def _count(
    tally: Tally, prep: PreparedDoc, spans_written: int, rels: _TokenRelations, omissions: list[Omission]
) -> None:
    """Add one Doc's spans, relations and omissions to ``tally``."""
    tally.add_doc(prep)
    tally.spans_written += spans_written
    tally.relations_written += rels.written
    tally.omissions.extend(omissions)
    tally.extra["spans_not_in_ents_overlap"] = tally.extra.get("spans_not_in_ents_overlap", 0) + len(
        prep.overlapped
    )
    rel_pairs = sum(len(v) for v in rels.rel.values())
    merged = rels.written - rel_pairs
    if merged:
        tally.extra["relations_sharing_a_rel_key"] = (
            tally.extra.get("relations_sharing_a_rel_key", 0) + merged
        )


@contextlib.contextmanager
def cached_msgpack_encoders() -> Iterator[None]:
    """Within this block, srsly's msgpack encoder registry answers from a snapshot taken on entry.

    Why: srsly's ``Packer.__init__`` calls catalogue's ``Registry.get_all()``, which scans the
    ``importlib.metadata`` entry points, on every ``packb``; ``DocBin.add`` packs three times a
    document, and that scan was about half its time. Nothing registers msgpack encoders while a
    DocBin is written, so the snapshot gives the same encoders. The snapshot shadows the method
    on the registry object and is removed on exit; a nested block keeps the outer snapshot.
    (Another thread registering an encoder during the block would not be seen until it ends.)
    """
    from srsly.msgpack import msgpack_encoders as registry

    if "get_all" in vars(registry):  # already inside a block
        yield
        return
    snapshot = registry.get_all()
    registry.get_all = lambda: dict(snapshot)  # type: ignore[method-assign]
    try:
        yield
    finally:
        del registry.get_all


class FastDocBin(DocBin):
    """A DocBin whose ``add`` collects a Doc's strings from its arrays, not token by token.

    Why: spaCy's ``DocBin.add`` reads nine string attributes of every token in a Python loop
    (``token.text``, ``tag_``, ``lemma_``, ``norm_``, ``morph``, ``dep_``, ``ent_type_``,
    ``ent_kb_id_``, ``ent_id_``), which was most of its time on news articles of about 400
    tokens. One ``to_array`` call a Doc gives those attributes' hashes (and the stored
    attributes); looking up each distinct hash gives the same set of strings, so the bytes
    written are the same as spaCy's (a test compares them). The hashes of many Docs are
    deduplicated together (one ``numpy.unique``) when ``strings`` is read or the pending ones
    pass ``_PENDING_VALUES``, and a hash met before is not looked up again. Everything else is
    spaCy 3.8's ``DocBin.add`` as it is.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen_hashes: set[int] = set()
        # Hashes met in the Docs added since the strings were last collected, with their
        # StringStore: looked up together (one numpy.unique), not Doc by Doc.
        self._pending: list[Any] = []
        self._pending_values = 0
        self._store: Any = None

    @property  # type: ignore[override]
    def strings(self) -> set[str]:
        """The strings of every Doc added (spaCy's attribute; collected when asked for)."""
        self._collect()
        return self._strings

    @strings.setter
    def strings(self, value: set[str]) -> None:
        self._strings = value

    def _collect(self) -> None:
        if not self._pending:
            return
        values = numpy.unique(numpy.concatenate(self._pending)).tolist()
        self._pending.clear()
        self._pending_values = 0
        seen = self._seen_hashes
        new = [h for h in values if h not in seen]
        self._strings.update(self._store[h] for h in new)
        seen.update(new)

    def to_bytes(self) -> bytes:
        """Return the DocBin as spaCy's ``to_bytes`` would, compressed at ``ZLIB_LEVEL``.

        The uncompressed message is the same as spaCy's (a test compares them); zlib's default
        level 6 took twice as long as level 3 for files about an eighth smaller.
        """
        lengths = [len(tokens) for tokens in self.tokens]
        tokens = numpy.vstack(self.tokens) if self.tokens else numpy.asarray([])
        spaces = numpy.vstack(self.spaces) if self.spaces else numpy.asarray([])
        msg: dict[str, Any] = {
            "version": self.version,
            "attrs": self.attrs,
            "tokens": tokens.tobytes("C"),
            "spaces": spaces.tobytes("C"),
            "lengths": numpy.asarray(lengths, dtype="int32").tobytes("C"),
            "strings": sorted(self.strings),
            "cats": self.cats,
            "flags": self.flags,
            "span_groups": self.span_groups,
        }
        if self.store_user_data:
            msg["user_data"] = self.user_data
        return zlib.compress(srsly.msgpack_dumps(msg), ZLIB_LEVEL)

    def rows(self) -> list[tuple[Any, ...]]:
        """Return each Doc's part of the bin (arrays, flags, cats, user data, span groups), in order."""
        user_data = self.user_data if self.store_user_data else [None] * len(self.tokens)
        return list(
            zip(self.tokens, self.spaces, self.flags, self.cats, user_data, self.span_groups, strict=True)
        )

    def add_row(self, row: tuple[Any, ...]) -> None:
        """Add one Doc's part, as ``rows()`` gave it (its strings are added with ``strings``)."""
        tokens, spaces, flags, cats, user_data, span_groups = row
        self.tokens.append(tokens)
        self.spaces.append(spaces)
        self.flags.append(flags)
        self.cats.append(cats)
        if self.store_user_data:
            self.user_data.append(user_data)
        self.span_groups.append(span_groups)

    def add(self, doc: Doc) -> None:
        # One to_array call reads the stored attributes (those of the file, after from_bytes),
        # SPACY, and the string attributes not stored.
        stored = cast("list[int]", self.attrs)  # spaCy keeps attribute ids (ints) here
        columns = [*stored, SPACY, *(a for a in _STRING_ATTRS if a not in stored)]
        n = len(doc)
        table = doc.to_array(columns).reshape(n, len(columns))  # type: ignore[arg-type]
        n_attrs = len(stored)
        self.tokens.append(numpy.ascontiguousarray(table[:, :n_attrs]))
        self.spaces.append(numpy.asarray(table[:, n_attrs : n_attrs + 1], dtype=bool))
        self.flags.append({"has_unknown_spaces": doc.has_unknown_spaces})
        if n:
            strings = doc.vocab.strings
            if strings is not self._store:
                self._collect()
                self._store = strings
            hashes = table[:, [columns.index(a) for a in _STRING_ATTRS]]
            # A column that holds one value throughout (tags, lemmas, ... of a blank pipeline)
            # gives it by its first row; the others wait for _collect.
            cols = hashes[:, 1:]
            varying = (cols != cols[0]).any(axis=0)
            first = [h for h in cols[0].tolist() if h not in self._seen_hashes]
            self._strings.update(strings[h] for h in first)
            self._seen_hashes.update(first)
            if varying.any():
                self._pending.append(cols[:, varying].ravel())
                self._pending_values += self._pending[-1].size
                if self._pending_values >= _PENDING_VALUES:
                    self._collect()
            # ``str(token.morph)`` of an empty analysis is "", though its hash is that of "_".
            morphs = (strings[h] for h in set(hashes[:, 0].tolist()))
            self._strings.update("" if m == _EMPTY_MORPH else m for m in morphs)
        self.cats.append(doc.cats)
        if self.store_user_data:
            self.user_data.append(srsly.msgpack_dumps(doc.user_data))
        self.span_groups.append(doc.spans.to_bytes())
        for group in doc.spans.values():
            for span in group:
                self._strings.add(span.label_)
                if span.kb_id in span.doc.vocab.strings:
                    self._strings.add(span.kb_id_)
                if span.id in span.doc.vocab.strings:
                    self._strings.add(span.id_)


@dataclass
class _Chunk:
    """What a partial DocBinWriter holds: the split of each Doc in order, and by split its Docs
    (``FastDocBin.rows()``), their strings and its tally."""

    order: list[str]
    splits: dict[str, tuple[list[tuple[Any, ...]], set[str], Tally]]


class DocBinWriter:
    """Write each split's Docs as they come, in shards, so that few Docs are held at a time.

    ``split_docs`` gives how many documents each split will get (known before writing, from the
    split assignment): a split of at most ``shard_docs`` becomes ``<split>.spacy``, a larger one
    ``<split>/NNN.spacy``. The sharded splits together hold at most ``shard_docs`` Docs: when
    they reach it, the largest is written out as a shard (so a shard has at most ``shard_docs``
    Docs, and those of a split interleaved with another sharded one have fewer). Use as a
    context manager (for the msgpack cache), ``add`` each document, then ``finish()``.
    """

    def __init__(
        self,
        out_dir: Path,
        nlp: Language,
        split_docs: Mapping[str, int],
        *,
        span_key: str = DEFAULT_SPAN_KEY,
        shard_docs: int | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.nlp = nlp
        self.span_key = span_key
        self.shard_docs = max(1, SHARD_DOCS if shard_docs is None else shard_docs)
        self.split_docs = dict(split_docs)
        self.tallies = {split: Tally(FORMAT) for split in split_docs}
        self._bins: dict[str, FastDocBin] = {}
        self._shards = dict.fromkeys(split_docs, 0)
        self._written = dict.fromkeys(split_docs, 0)
        self._cache = contextlib.ExitStack()
        # A partial writer (see partial()) holds its Docs and writes nothing; it notes the split
        # of each Doc added, in order.
        self._partial = False
        self._order: list[str] = []
        out_dir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> DocBinWriter:
        self._cache.enter_context(cached_msgpack_encoders())
        return self

    def __exit__(self, *exc: object) -> None:
        self._cache.close()

    def _sharded(self, split: str) -> bool:
        return self.split_docs[split] > self.shard_docs

    def add(self, prep: PreparedDoc, split: str, doc: Doc | None = None) -> None:
        """Convert one prepared record (``doc``: its tokenised text, see ``to_doc``) into ``split``."""
        self._bin(split).add(
            to_doc(prep, self.nlp, span_key=self.span_key, tally=self.tallies[split], doc=doc)
        )
        self._added(split)

    def _bin(self, split: str) -> FastDocBin:
        db = self._bins.get(split)
        if db is None:
            db = self._bins[split] = FastDocBin(attrs=EXPORT_ATTRS, store_user_data=True)
        return db

    def _added(self, split: str) -> None:
        self._written[split] += 1
        if self._partial:
            self._order.append(split)
        elif self._sharded(split):
            held = {s: len(b) for s, b in self._bins.items() if self._sharded(s)}
            if sum(held.values()) >= self.shard_docs:
                self._flush(max(held, key=lambda s: held[s]))

    def partial(self) -> DocBinWriter:
        """Return a copy that holds its Docs in memory, with tallies of its own (for a worker
        process; see ``SplitFiles.partial``)."""
        part = copy.copy(self)
        part.tallies = {split: Tally(FORMAT) for split in self.split_docs}
        part._bins = {}
        part._written = dict.fromkeys(self.split_docs, 0)
        part._partial = True
        part._order = []
        return part

    def take(self) -> _Chunk:
        """Return a partial writer's Docs, their strings and its tallies."""
        assert self._partial, "take() is for a partial writer"
        splits = {}
        for split, tally in self.tallies.items():
            db = self._bins.get(split)
            splits[split] = (db.rows(), db.strings, tally) if db is not None else ([], set(), tally)
        return _Chunk(self._order, splits)

    def absorb(self, part: _Chunk) -> None:
        """Add a partial writer's Docs after those added so far, in their order, shard by shard
        as ``add`` does.

        A chunk's strings are those of all its Docs of a split; a shard that gets some of them
        gets all of those strings. An unsharded split gets exactly the strings of its Docs, so
        its file is the same as one process writes; a shard may hold a few strings more.
        """
        rows = {split: iter(rows) for split, (rows, _, _) in part.splits.items()}
        given: dict[str, FastDocBin] = {}
        for split in part.order:
            db = self._bin(split)
            if given.get(split) is not db:
                db.strings.update(part.splits[split][1])
                given[split] = db
            db.add_row(next(rows[split]))
            self._added(split)
        for split, (_, _, tally) in part.splits.items():
            self.tallies[split].absorb(tally)

    def _flush(self, split: str) -> None:
        db = self._bins.pop(split, None)
        if self._sharded(split):
            if db is None or len(db) == 0:
                return
            # Wide enough for one Doc a shard, so that the names sort in order.
            width = max(3, len(str(self.split_docs[split] - 1)))
            shard_dir = self.out_dir / split
            shard_dir.mkdir(exist_ok=True)
            db.to_disk(shard_dir / f"{self._shards[split]:0{width}d}.spacy")
            self._shards[split] += 1
        else:
            # An empty split still gets its (empty) file, as readers expect one per split.
            (db or FastDocBin(attrs=EXPORT_ATTRS, store_user_data=True)).to_disk(
                self.out_dir / f"{split}.spacy"
            )

    def finish(self) -> Tally:
        """Write what is left; return the tally (splits in the order of ``split_docs``)."""
        for split in self.split_docs:
            if self._written[split] != self.split_docs[split]:
                # A bug, not a data problem: the split assignment and the documents disagree.
                raise AnnotateError(
                    f"split {split!r}: {self._written[split]} documents written, "
                    f"{self.split_docs[split]} announced",
                    code="E189",
                )
            self._flush(split)
            self.tallies[split].files[split] = f"{split}/" if self._sharded(split) else f"{split}.spacy"
        return Tally.merge(FORMAT, [self.tallies[s] for s in self.split_docs])


def docbin_files(path: str | os.PathLike[str]) -> list[Path]:
    """Return the ``.spacy`` files at ``path``: the file itself, or a shard directory's files in order."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    return sorted(p.glob("*.spacy"), key=lambda f: (len(f.stem), f.stem))


def read_docbin(path: str | os.PathLike[str], *, vocab: Vocab | None = None) -> list[Record]:
    """Return the records a DocBin written here holds (``path``: a ``.spacy`` file or a directory of
    shards): spans from ``doc.spans`` (then those no token could hold, from user data), relations
    from user data."""
    vocab = vocab or Vocab()
    return [doc_to_record(doc) for f in docbin_files(path) for doc in DocBin().from_disk(f).get_docs(vocab)]


def doc_to_record(doc: Doc) -> Record:
    """Return the Record a Doc written by ``to_doc`` holds (or its ``doc.ents`` if it has no user data)."""
    data = doc.user_data.get(USER_DATA_KEY)
    if data is None:
        entities = [Span(i, e.start_char, e.end_char, e.label_) for i, e in enumerate(doc.ents)]
        return Record(text=doc.text, doc_id=str(doc.user_data.get("doc_id") or ""), entities=entities)
    group = doc.spans[data["span_key"]] if data["span_key"] in doc.spans else []
    ids = list(data["span_ids"])
    entities = [Span(ids[i], sp.start_char, sp.end_char, sp.label_) for i, sp in enumerate(group)]
    entities += [
        Span(int(sid), int(a), int(b), str(label)) for sid, a, b, label, _ in data.get("unplaced", ())
    ]
    relations = [Relation(int(rid), int(h), int(t), str(label)) for rid, h, t, label in data["relations"]]
    return Record(
        text=doc.text,
        doc_id=str(doc.user_data["doc_id"]),
        doc_hash=str(doc.user_data.get("doc_hash") or ""),
        entities=entities,
        relations=relations,
        meta={"source": doc.user_data.get("source")},
    )
