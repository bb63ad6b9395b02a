"""The one record model: Span, Relation and Record, and their JSON form.

The JSON form of a Record is Doccano's relation JSONL plus our keys, one record a line:

    {"text": ..., "doc_id": ..., "doc_hash": "sha256:...",
     "entities": [{"id", "start_offset", "end_offset", "label", "source"?, "score"?, "text"?}],
     "relations": [{"id", "from_id", "to_id", "type", "source"?, "score"?}],
     "meta": {...}}

A *task* (pre-annotated, what we push) has those keys. A *gold* record (what we pull) has
also ``example_id``, ``annotator``, ``confirmed`` and ``comments``. Offsets are Python
``str`` indices, the same as Doccano's and spaCy's ``start_char``/``end_char``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

HASH_PREFIX = "sha256:"


def text_hash(text: str) -> str:
    """Return ``sha256:<hex>`` of the exact UTF-8 bytes of ``text``."""
    return HASH_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Span:
    """A labelled character span ``text[start:end]``.

    ``source`` says what made it (``model:en_core_web_sm``, ``pattern:news.jsonl``,
    ``rule:title``, ``human``); ``score`` is the source's confidence where it has one;
    ``text`` is a recorded surface string, kept only when the input had one.
    """

    id: int
    start: int
    end: int
    label: str
    source: str | None = None
    score: float | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "start_offset": self.start,
            "end_offset": self.end,
            "label": self.label,
        }
        if self.source is not None:
            d["source"] = self.source
        if self.score is not None:
            d["score"] = self.score
        if self.text is not None:
            d["text"] = self.text
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Span:
        return cls(
            id=d["id"],
            start=d["start_offset"],
            end=d["end_offset"],
            label=d["label"],
            source=d.get("source"),
            score=d.get("score"),
            text=d.get("text"),
        )

    @property
    def key(self) -> tuple[int, int, str]:
        """Identity for comparisons across files: offsets and label, not the id."""
        return (self.start, self.end, self.label)


@dataclass(frozen=True)
class Relation:
    """A typed relation from the span ``head`` (``from_id``) to the span ``tail`` (``to_id``)."""

    id: int
    head: int
    tail: int
    label: str
    source: str | None = None
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "from_id": self.head, "to_id": self.tail, "type": self.label}
        if self.source is not None:
            d["source"] = self.source
        if self.score is not None:
            d["score"] = self.score
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Relation:
        return cls(
            id=d["id"],
            head=d["from_id"],
            tail=d["to_id"],
            label=d["type"],
            source=d.get("source"),
            score=d.get("score"),
        )


@dataclass
class Record:
    """One document with its spans and relations: a task, or gold when pulled."""

    text: str
    doc_id: str
    doc_hash: str = ""
    entities: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    # Gold only (None on tasks).
    example_id: int | None = None
    annotator: str | None = None
    confirmed: bool | None = None
    comments: list[Any] | None = None

    def __post_init__(self) -> None:
        if not self.doc_hash:
            self.doc_hash = text_hash(self.text)

    @property
    def is_gold(self) -> bool:
        return self.confirmed is not None or self.annotator is not None or self.example_id is not None

    def span_by_id(self) -> dict[int, Span]:
        return {s.id: s for s in self.entities}

    def relation_triples(self) -> list[tuple[Span, Span, Relation]]:
        """Return ``(head, tail, relation)`` for each relation whose endpoints exist."""
        by_id = self.span_by_id()
        return [
            (by_id[r.head], by_id[r.tail], r) for r in self.relations if r.head in by_id and r.tail in by_id
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with a stable key order so that output is byte-deterministic."""
        d: dict[str, Any] = {
            "doc_id": self.doc_id,
            "doc_hash": self.doc_hash,
            "text": self.text,
            "entities": [s.to_dict() for s in self.entities],
            "relations": [r.to_dict() for r in self.relations],
            "meta": self.meta,
        }
        if self.example_id is not None:
            d["example_id"] = self.example_id
        if self.annotator is not None:
            d["annotator"] = self.annotator
        if self.confirmed is not None:
            d["confirmed"] = self.confirmed
        if self.comments is not None:
            d["comments"] = self.comments
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        """Build a Record from its JSON form. The dict must already be schema-valid.

        Doccano-style keys are accepted too: top-level keys that are not ours are kept as meta.
        """
        known = {
            "doc_id",
            "doc_hash",
            "text",
            "entities",
            "relations",
            "meta",
            "example_id",
            "annotator",
            "confirmed",
            "comments",
        }
        meta = dict(d.get("meta") or {})
        for k, v in d.items():
            if k not in known:
                meta.setdefault(k, v)
        text = d["text"]
        return cls(
            text=text,
            doc_id=str(d["doc_id"])
            if d.get("doc_id") is not None
            else text_hash(text)[len(HASH_PREFIX) :][:16],
            doc_hash=d.get("doc_hash") or text_hash(text),
            entities=[Span.from_dict(e) for e in d.get("entities") or []],
            relations=[Relation.from_dict(r) for r in d.get("relations") or []],
            meta=meta,
            example_id=d.get("example_id"),
            annotator=d.get("annotator"),
            confirmed=d.get("confirmed"),
            comments=d.get("comments"),
        )

    def with_annotations(self, entities: list[Span], relations: list[Relation]) -> Record:
        return replace(self, entities=list(entities), relations=list(relations))
