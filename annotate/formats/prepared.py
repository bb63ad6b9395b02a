"""One gold record made ready for every export format: checked, tokenised, aligned, de-overlapped.

Each format reads a ``PreparedDoc`` and reports what it could not write as ``Omission``s, so
that for every format ``spans in = spans written + spans reported`` (and the same for
relations). Spans are referred to by their index in ``record.entities``, because ids can repeat
in messy input.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from annotate.formats.alignment import Aligned, AlignmentMode, Refused, Token, TokenTable, align_span
from annotate.formats.overlaps import OverlapPolicy, Placed, choose_non_overlapping
from annotate.records.model import Record, Relation, Span


@dataclass(frozen=True)
class Omission:
    """A span or relation a format does not hold, and why (``reason`` is a stable code)."""

    format: str
    kind: str  # "span" or "relation"
    doc_id: str
    id: int
    label: str
    reason: str
    detail: str = ""
    start: int | None = None
    end: int | None = None
    head: int | None = None
    tail: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"format": self.format, "kind": self.kind, "doc_id": self.doc_id, "id": self.id}
        d["label"] = self.label
        if self.kind == "span":
            d["start"], d["end"] = self.start, self.end
        else:
            d["head"], d["tail"] = self.head, self.tail
        d["reason"] = self.reason
        if self.detail:
            d["detail"] = self.detail
        return d


@dataclass(frozen=True)
class Change:
    """A span moved by alignment (token formats only): from ``[start, end)`` to ``[new_start, new_end)``."""

    doc_id: str
    id: int
    label: str
    start: int
    end: int
    new_start: int
    new_end: int
    reason: str
    text: str
    new_text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "id": self.id,
            "label": self.label,
            "from": [self.start, self.end],
            "to": [self.new_start, self.new_end],
            "text": self.text,
            "new_text": self.new_text,
            "reason": self.reason,
        }


@dataclass
class PreparedDoc:
    """A record with its tokens, each span's alignment, and the non-overlapping choice."""

    record: Record
    source: str
    split: str = ""
    tokens: Sequence[Token] = field(default_factory=list)
    # index in record.entities -> reason code, for spans whose offsets are unusable anywhere.
    invalid: dict[int, str] = field(default_factory=dict)
    # index in record.entities -> Aligned or Refused (token formats).
    alignment: dict[int, Aligned | Refused] = field(default_factory=dict)
    # indexes of the spans that go to one-tag-per-token formats, and those left out: index -> winner index.
    chosen: list[int] = field(default_factory=list)
    overlapped: dict[int, int] = field(default_factory=dict)
    # relation index -> (head span index, tail span index), or a reason when an endpoint is missing.
    endpoints: dict[int, tuple[int, int]] = field(default_factory=dict)
    dangling: dict[int, str] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return self.record.doc_id

    def aligned(self, index: int) -> Aligned | None:
        a = self.alignment.get(index)
        return a if isinstance(a, Aligned) else None

    def span_omission(self, fmt: str, index: int, reason: str, detail: str = "") -> Omission:
        s = self.record.entities[index]
        return Omission(fmt, "span", self.doc_id, s.id, s.label, reason, detail, start=s.start, end=s.end)

    def relation_omission(self, fmt: str, index: int, reason: str, detail: str = "") -> Omission:
        r = self.record.relations[index]
        return Omission(fmt, "relation", self.doc_id, r.id, r.label, reason, detail, head=r.head, tail=r.tail)

    def invalid_span_omissions(self, fmt: str) -> list[Omission]:
        return [self.span_omission(fmt, i, reason) for i, reason in sorted(self.invalid.items())]

    def dangling_omissions(self, fmt: str) -> list[Omission]:
        return [self.relation_omission(fmt, i, reason) for i, reason in sorted(self.dangling.items())]

    def token_span_omissions(self, fmt: str, *, overlaps_lost: bool) -> list[Omission]:
        """Spans a token format cannot hold: bad offsets, refused by alignment, and (if
        ``overlaps_lost``) those that lost an overlap."""
        out = self.invalid_span_omissions(fmt)
        for i, a in sorted(self.alignment.items()):
            if isinstance(a, Refused):
                out.append(self.span_omission(fmt, i, a.reason, a.detail))
        if overlaps_lost:
            spans = self.record.entities
            for i, w in sorted(self.overlapped.items()):
                win = spans[w]
                out.append(
                    self.span_omission(
                        fmt, i, "overlap", f"overlaps span {win.id} ({win.label}) [{win.start}, {win.end})"
                    )
                )
        return out


def prepare(
    record: Record,
    *,
    source: str,
    tokens: Sequence[Token],
    alignment: AlignmentMode,
    overlap: OverlapPolicy,
    priority: Sequence[str] = (),
) -> PreparedDoc:
    """Return the record checked against its text, aligned to ``tokens`` and de-overlapped."""
    table = TokenTable.of(tokens)
    prep = PreparedDoc(record=record, source=source, tokens=table)
    text = record.text
    for i, s in enumerate(record.entities):
        if not _valid_offsets(s, len(text)):
            prep.invalid[i] = "invalid_offsets"
            continue
        if s.text is not None and text[s.start : s.end] != s.text:
            prep.notes.append(
                {
                    "doc_id": record.doc_id,
                    "id": s.id,
                    "note": "recorded_text_mismatch",
                    "detail": f"recorded {s.text!r}, text is {text[s.start : s.end]!r}; offsets kept",
                }
            )
        result = _align_in_window(text, table, s.start, s.end, alignment)
        prep.alignment[i] = result
        if isinstance(result, Aligned) and result.change:
            prep.changes.append(
                Change(
                    record.doc_id,
                    s.id,
                    s.label,
                    s.start,
                    s.end,
                    result.start,
                    result.end,
                    result.change,
                    text[s.start : s.end],
                    text[result.start : result.end],
                )
            )
    placed = [
        Placed(i, a.tok_start, a.tok_end, record.entities[i].label)
        for i, a in prep.alignment.items()
        if isinstance(a, Aligned)
    ]
    kept, omitted = choose_non_overlapping(placed, overlap, priority)
    prep.chosen = [p.span_id for p in kept]
    prep.overlapped = {p.span_id: w.span_id for p, w in omitted}
    _resolve_relations(prep)
    return prep


def _align_in_window(
    text: str, tokens: TokenTable, start: int, end: int, mode: AlignmentMode
) -> Aligned | Refused:
    """Return ``align_span`` over all ``tokens``, computed on the few tokens around the span.

    Why: ``align_span`` looks at every token of the text, hundreds in a news article, for each
    span. Only tokens that overlap ``[start, end)`` decide the result (one more on each side is
    kept, so the window's edges never matter); token indexes are shifted back to the whole list.
    """
    starts, ends, spaces = tokens.starts, tokens.ends, tokens.spaces
    # Most spans start and end exactly on the edges of non-whitespace tokens: every mode then
    # gives those tokens, unchanged, and no Token needs to be made.
    first = bisect.bisect_left(starts, start)
    last = bisect.bisect_left(ends, end)
    if (
        first <= last < len(ends)
        and starts[first] == start
        and ends[last] == end
        and not spaces[first]
        and not spaces[last]
        and not text[start].isspace()
        and not text[end - 1].isspace()
    ):
        return Aligned(first, last + 1, start, end)
    lo = max(0, bisect.bisect_right(ends, start) - 1)
    hi = min(len(tokens), bisect.bisect_left(starts, end) + 1)
    r = align_span(text, tokens[lo:hi], start, end, mode)
    if isinstance(r, Aligned) and lo:
        return Aligned(r.tok_start + lo, r.tok_end + lo, r.start, r.end, r.change)
    return r


def _valid_offsets(s: Span, n: int) -> bool:
    ok_types = type(s.start) is int and type(s.end) is int
    return ok_types and 0 <= s.start < s.end <= n


def _resolve_relations(prep: PreparedDoc) -> None:
    first_index: dict[int, int] = {}
    for i, s in enumerate(prep.record.entities):
        if s.id in first_index:
            prep.notes.append(
                {
                    "doc_id": prep.doc_id,
                    "id": s.id,
                    "note": "duplicate_span_id",
                    "detail": "relations to this id use the first span with it",
                }
            )
            continue
        first_index[s.id] = i
    r: Relation
    for j, r in enumerate(prep.record.relations):
        head, tail = first_index.get(r.head), first_index.get(r.tail)
        if head is None or tail is None:
            prep.dangling[j] = "endpoint_missing"
        elif head in prep.invalid or tail in prep.invalid:
            prep.dangling[j] = "endpoint_invalid"
        else:
            prep.endpoints[j] = (head, tail)


@dataclass
class Tally:
    """What one format wrote and what it reported, per span and relation."""

    format: str
    spans_in: int = 0
    spans_written: int = 0
    relations_in: int = 0
    relations_written: int = 0
    omissions: list[Omission] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    # Format-specific counts that are not losses (e.g. spans kept in doc.spans but not in doc.ents).
    extra: dict[str, int] = field(default_factory=dict)

    def add_doc(self, prep: PreparedDoc) -> None:
        self.spans_in += len(prep.record.entities)
        self.relations_in += len(prep.record.relations)

    @classmethod
    def merge(cls, fmt: str, parts: Sequence[Tally]) -> Tally:
        """Return one tally summing ``parts`` in order (omissions and notes concatenated).

        Streaming writers count each split into its own tally and merge them at the end, so
        that the report lists a format's omissions split by split, as one pass per split would.
        """
        out = cls(fmt)
        for t in parts:
            out.absorb(t)
            out.files.update(t.files)
        return out

    def absorb(self, other: Tally) -> None:
        """Add ``other``'s counts, omissions and notes (those of later documents) to this tally."""
        self.spans_in += other.spans_in
        self.spans_written += other.spans_written
        self.relations_in += other.relations_in
        self.relations_written += other.relations_written
        self.omissions.extend(other.omissions)
        self.notes.extend(other.notes)
        for k, v in other.extra.items():
            self.extra[k] = self.extra.get(k, 0) + v

    @property
    def spans_reported(self) -> int:
        return sum(1 for o in self.omissions if o.kind == "span")

    @property
    def relations_reported(self) -> int:
        return sum(1 for o in self.omissions if o.kind == "relation")

    @property
    def balanced(self) -> bool:
        return (
            self.spans_in == self.spans_written + self.spans_reported
            and self.relations_in == self.relations_written + self.relations_reported
        )

    def summary(self) -> dict[str, Any]:
        return {
            "files": dict(sorted(self.files.items())),
            "spans": {"in": self.spans_in, "written": self.spans_written, "reported": self.spans_reported},
            "relations": {
                "in": self.relations_in,
                "written": self.relations_written,
                "reported": self.relations_reported,
            },
            "balanced": self.balanced,
            **({"extra": dict(sorted(self.extra.items()))} if self.extra else {}),
        }


_SF = TypeVar("_SF", bound="SplitFiles")


class SplitFiles:
    """One open text file a split (``<out_dir>/<split><suffix>``), each with its tally.

    The streaming writers of the line-based formats (CoNLL, HF, JSONL) share this: they open
    every split's file up front and write documents as they come.

    For export's worker processes, ``partial()`` gives a copy that writes to memory with tallies
    of its own; ``take()`` returns what it wrote, and the writer in the parent ``absorb()``s it,
    chunk after chunk in document order, so the files and tallies are those of one process.
    """

    def __init__(self, out_dir: Path, splits: Sequence[str], suffix: str, format_name: str) -> None:
        self.splits = list(splits)
        self.format_name = format_name
        self.tallies = {split: Tally(format_name) for split in self.splits}
        self._stack = contextlib.ExitStack()
        out_dir.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[str]] = {}
        for split in self.splits:
            path = out_dir / f"{split}{suffix}"
            self._files[split] = self._stack.enter_context(open(path, "w", encoding="utf-8", newline="\n"))
            self.tallies[split].files[split] = path.name

    def partial(self: _SF) -> _SF:
        """Return a copy of this writer that writes to memory, with tallies of its own."""
        part = copy.copy(self)
        part.tallies = {split: Tally(self.format_name) for split in self.splits}
        part._stack = contextlib.ExitStack()
        part._files = {split: io.StringIO() for split in self.splits}
        return part

    def take(self) -> dict[str, tuple[str, Tally]]:
        """Return what a partial writer wrote and counted, by split."""
        files = cast("dict[str, io.StringIO]", self._files)
        return {split: (files[split].getvalue(), self.tallies[split]) for split in self.splits}

    def absorb(self, part: dict[str, tuple[str, Tally]]) -> None:
        """Write what a partial writer took, after the documents written so far."""
        for split, (text, tally) in part.items():
            self._files[split].write(text)
            self.tallies[split].absorb(tally)

    def __enter__(self: _SF) -> _SF:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
