"""One record built from a source's spans and relations, each checked as it comes.

A span outside the text, a span whose recorded surface differs from the text at its offsets,
or a relation to a span that is not there is bad input: a DataError naming ``file:line``
(E170), never a silent drop. The same span given twice is merged, and said in the ledger.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from annotate.convert.ledger import Ledger, where
from annotate.errors import DataError
from annotate.records.model import Record, Relation, Span

BAD_INPUT = "E170"


class RecordBuilder:
    """Collect the spans and relations of one document, then ``build()`` the Record."""

    def __init__(self, text: str, *, doc_id: str, path: str, line: int | None, ledger: Ledger) -> None:
        self.text = text
        self.doc_id = doc_id
        self.path = path
        self.line = line
        self.ledger = ledger
        self.spans: list[Span] = []
        self.relations: list[Relation] = []
        self._by_key: dict[Hashable, int] = {}
        self._by_offsets: dict[tuple[int, int, str], int] = {}

    def error(self, message: str, line: int | None = None) -> DataError:
        return DataError(message, path=self.path, line=line or self.line, code=BAD_INPUT)

    def span(
        self,
        start: Any,
        end: Any,
        label: Any,
        *,
        key: Hashable | None = None,
        surface: str | None = None,
        source: str | None = None,
        score: float | None = None,
        line: int | None = None,
    ) -> int:
        """Add the span ``text[start:end]`` (``key`` is the source's id for it); return its id."""
        n = len(self.text)
        name = f"span {key} " if key is not None else "span "
        if type(start) is not int or type(end) is not int or not (0 <= start < end <= n):
            raise self.error(f"{name}[{start}, {end}) is outside the text (length {n}) or empty", line)
        if key is not None and key in self._by_key:
            raise self.error(f"{name}is given twice", line)
        if not isinstance(label, str) or not label:
            raise self.error(f"span [{start}, {end}) has no label ({label!r})", line)
        if surface is not None and self.text[start:end] != surface:
            raise self.error(
                f"span [{start}, {end}) records {surface!r} but the text there is {self.text[start:end]!r}",
                line,
            )
        offsets = (start, end, label)
        if offsets in self._by_offsets:
            sid = self._by_offsets[offsets]
            self.ledger.repair(
                "span",
                "duplicate_span_merged",
                where(self.path, line or self.line),
                f"[{start}, {end}) {label} given twice in {self.doc_id}",
            )
        else:
            sid = len(self.spans)
            self.spans.append(Span(id=sid, start=start, end=end, label=label, source=source, score=score))
            self._by_offsets[offsets] = sid
        if key is not None:
            self._by_key[key] = sid
        return sid

    def relation(
        self,
        head: Hashable,
        tail: Hashable,
        label: Any,
        *,
        line: int | None = None,
        source: str | None = None,
        score: float | None = None,
    ) -> None:
        """Add a relation between the spans the source calls ``head`` and ``tail``."""
        for end in (head, tail):
            if end not in self._by_key:
                raise self.error(f"relation {label!r} refers to a missing span {end!r}", line)
        if not isinstance(label, str) or not label:
            raise self.error(f"relation between {head!r} and {tail!r} has no type ({label!r})", line)
        rid = len(self.relations)
        self.relations.append(
            Relation(
                id=rid,
                head=self._by_key[head],
                tail=self._by_key[tail],
                label=label,
                source=source,
                score=score,
            )
        )

    def build(self, *, meta: dict[str, Any] | None = None, annotator: str | None = None) -> Record:
        """Return the record, its spans in the order they came."""
        return Record(
            text=self.text,
            doc_id=self.doc_id,
            entities=list(self.spans),
            relations=list(self.relations),
            meta=dict(meta or {}),
            annotator=annotator,
        )


def checked(record: Record, *, path: str, line: int | None, ledger: Ledger) -> Record:
    """Return ``record`` rebuilt through a RecordBuilder, so a ready-made record gets the same checks."""
    b = RecordBuilder(record.text, doc_id=record.doc_id, path=path, line=line, ledger=ledger)
    for s in record.entities:
        b.span(s.start, s.end, s.label, key=s.id, surface=s.text, source=s.source, score=s.score)
    for r in record.relations:
        b.relation(r.head, r.tail, r.label, source=r.source, score=r.score)
    out = b.build(meta=record.meta, annotator=record.annotator)
    out.example_id, out.confirmed, out.comments = record.example_id, record.confirmed, record.comments
    return out
