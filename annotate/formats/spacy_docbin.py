"""spaCy DocBin: entities in ``doc.ents``, every span in ``doc.spans[key]``, relations in ``doc._.rel``.

- ``doc.ents`` holds the non-overlapping choice (the others stay in ``doc.spans``);
- ``doc._.rel`` is what spaCy's relation-extraction tutorial component reads:
  ``{(head token start, tail token start): {label: 1.0}}``. It is keyed by token starts, so two
  spans that start on one token share a key; the exact relations (by span id) are therefore
  also kept in ``user_data["annotate"]``, with the spans no token can hold (by character
  offsets; they are reported, not in ``doc.spans``);
- ``user_data`` holds ``doc_id``, ``doc_hash`` and ``source`` (``file:line``). DocBins are
  written with ``store_user_data=True`` so all of it survives serialisation.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from annotate.alignment import Refused
from annotate.model import Record, Relation, Span
from annotate.prepared import PreparedDoc, Tally

FORMAT = "spacy"
DEFAULT_SPAN_KEY = "sc"
USER_DATA_KEY = "annotate"
REL_EXTENSION = "rel"


def ensure_rel_extension() -> None:
    """Register ``Doc._.rel`` as the tutorial does, unless something registered it already."""
    if not Doc.has_extension(REL_EXTENSION):
        Doc.set_extension(REL_EXTENSION, default={})


def to_doc(
    prep: PreparedDoc, nlp: Language, *, span_key: str = DEFAULT_SPAN_KEY, tally: Tally | None = None
) -> Doc:
    """Return the Doc for one prepared record; what it cannot hold goes to ``tally``."""
    ensure_rel_extension()
    record = prep.record
    doc = nlp.make_doc(record.text)
    spans = record.entities
    in_group = [i for i in range(len(spans)) if prep.aligned(i) is not None]
    group = []
    for i in in_group:
        a = prep.aligned(i)
        assert a is not None
        group.append(doc[a.tok_start : a.tok_end])
        group[-1].label_ = spans[i].label
    doc.spans[span_key] = group
    ents = []
    for i in prep.chosen:
        a = prep.aligned(i)
        assert a is not None
        ents.append(doc[a.tok_start : a.tok_end])
        ents[-1].label_ = spans[i].label
    doc.ents = ents

    kept_rels: list[list[Any]] = []
    written = 0
    rel: dict[tuple[int, int], dict[str, float]] = {}
    omissions = prep.token_span_omissions(FORMAT, overlaps_lost=False) + prep.dangling_omissions(FORMAT)
    for j, r in enumerate(record.relations):
        if j not in prep.endpoints:
            continue
        kept_rels.append([r.id, r.head, r.tail, r.label])
        h, t = prep.endpoints[j]
        ha, ta = prep.aligned(h), prep.aligned(t)
        if ha is None or ta is None:
            omissions.append(prep.relation_omission(FORMAT, j, "endpoint_not_written"))
            continue
        written += 1
        rel.setdefault((ha.tok_start, ta.tok_start), {})[r.label] = 1.0
    # Spans no token can hold are reported, and kept here by character offsets so that
    # reading the DocBin back gives the whole gold.
    unplaced = [
        [spans[i].id, spans[i].start, spans[i].end, spans[i].label, a.reason]
        for i, a in sorted(prep.alignment.items())
        if isinstance(a, Refused)
    ]
    doc._.set(REL_EXTENSION, rel)
    doc.user_data["doc_id"] = record.doc_id
    doc.user_data["doc_hash"] = record.doc_hash
    doc.user_data["source"] = prep.source
    doc.user_data[USER_DATA_KEY] = {
        "span_key": span_key,
        "span_ids": [spans[i].id for i in in_group],
        "unplaced": unplaced,
        "relations": kept_rels,
    }
    if tally is not None:
        tally.add_doc(prep)
        tally.spans_written += len(in_group)
        tally.relations_written += written
        tally.omissions.extend(omissions)
        tally.extra["spans_not_in_ents_overlap"] = tally.extra.get("spans_not_in_ents_overlap", 0) + len(
            prep.overlapped
        )
        rel_pairs = sum(len(v) for v in rel.values())
        merged = written - rel_pairs
        if merged:
            tally.extra["relations_sharing_a_rel_key"] = (
                tally.extra.get("relations_sharing_a_rel_key", 0) + merged
            )
    return doc


def write_docbin(path: str | os.PathLike[str], docs: Iterable[Doc]) -> int:
    """Write ``docs`` to a ``.spacy`` file with their user data. Returns the count."""
    db = DocBin(store_user_data=True)
    n = 0
    for doc in docs:
        db.add(doc)
        n += 1
    db.to_disk(Path(path))
    return n


def write_split_docbins(
    by_split: Mapping[str, Sequence[PreparedDoc]],
    out_dir: Path,
    nlp: Language,
    *,
    span_key: str = DEFAULT_SPAN_KEY,
) -> Tally:
    """Write ``<split>.spacy`` in ``out_dir`` for each split. Returns the tally."""
    tally = Tally(FORMAT)
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, preps in by_split.items():
        path = out_dir / f"{split}.spacy"
        write_docbin(path, (to_doc(p, nlp, span_key=span_key, tally=tally) for p in preps))
        tally.files[split] = path.name
    return tally


def read_docbin(path: str | os.PathLike[str], *, vocab: Vocab | None = None) -> list[Record]:
    """Return the records a DocBin written here holds: spans from ``doc.spans`` (then those no
    token could hold, from user data), relations from user data."""
    docs = DocBin().from_disk(Path(path)).get_docs(vocab or Vocab())
    return [doc_to_record(doc) for doc in docs]


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
