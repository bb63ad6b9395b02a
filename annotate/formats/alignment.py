"""Align character spans to tokens: ``strict``, ``contract`` or ``expand``, with every change reported.

Token formats (DocBin, CoNLL, HF) can only hold spans made of whole tokens, and an entity must
not start or end on a whitespace token (spaCy's ``debug data`` fails such spans). This module
decides, for one span and one tokenisation, which tokens it becomes, and says why when it moved
or could not be placed. It never drops a span silently: the caller gets either an ``Aligned``
(possibly with a ``change`` to report) or a ``Refused`` with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, overload

ALIGNMENT_MODES = ("strict", "contract", "expand")
AlignmentMode = Literal["strict", "contract", "expand"]
#: ``expand`` keeps every span that has a character in a token, so nothing is lost; each change is reported.
DEFAULT_ALIGNMENT: AlignmentMode = "expand"


@dataclass(frozen=True)
class Token:
    """A token's character range; ``is_space`` marks spaCy's whitespace tokens."""

    start: int
    end: int
    is_space: bool = False


class TokenTable(Sequence[Token]):
    """A tokenisation as three columns (starts, ends, whitespace flags), read as ``Token`` objects.

    A ``Token`` object is made only when an item is read: aligning a span looks at the few
    tokens around it, so a news article of hundreds of tokens needs only a handful of objects.
    """

    __slots__ = ("starts", "ends", "spaces")

    def __init__(self, starts: list[int], ends: list[int], spaces: list[bool]) -> None:
        if not len(starts) == len(ends) == len(spaces):
            raise ValueError("token columns differ in length")
        self.starts = starts
        self.ends = ends
        self.spaces = spaces

    @classmethod
    def of(cls, tokens: Sequence[Token]) -> TokenTable:
        """Return ``tokens`` as a table (a table is returned as it is)."""
        if isinstance(tokens, TokenTable):
            return tokens
        return cls([t.start for t in tokens], [t.end for t in tokens], [t.is_space for t in tokens])

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, index: int) -> Token: ...

    @overload
    def __getitem__(self, index: slice) -> list[Token]: ...

    def __getitem__(self, index: int | slice) -> Token | list[Token]:
        if isinstance(index, slice):
            return list(map(Token, self.starts[index], self.ends[index], self.spaces[index]))
        return Token(self.starts[index], self.ends[index], self.spaces[index])

    def __iter__(self) -> Iterator[Token]:
        return map(Token, self.starts, self.ends, self.spaces)


@dataclass(frozen=True)
class Aligned:
    """The span as whole tokens ``[tok_start, tok_end)`` covering characters ``[start, end)``.

    ``change`` is None when the span was already aligned, otherwise why it moved.
    """

    tok_start: int
    tok_end: int
    start: int
    end: int
    change: str | None = None


@dataclass(frozen=True)
class Refused:
    """The span cannot be placed on tokens under the mode; ``reason`` is a stable code."""

    reason: str
    detail: str = ""


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def align_span(
    text: str, tokens: Sequence[Token], start: int, end: int, mode: AlignmentMode
) -> Aligned | Refused:
    """Return where the character span ``[start, end)`` lands on ``tokens`` under ``mode``.

    - ``strict``: the span must start and end exactly on non-whitespace token boundaries;
    - ``contract``: trim edge whitespace, keep only the tokens wholly inside the span;
    - ``expand``: trim edge whitespace, grow to every token the span touches.
    """
    if mode not in ALIGNMENT_MODES:
        raise ValueError(f"unknown alignment mode {mode!r}")
    if not (isinstance(start, int) and isinstance(end, int)) or not (0 <= start < end <= len(text)):
        return Refused("invalid_offsets", f"[{start}, {end}) is not a non-empty range inside the text")
    t_start, t_end = _trim(text, start, end)
    if t_start == t_end:
        return Refused("whitespace_only", "the span holds only whitespace")
    if mode == "strict":
        if (t_start, t_end) != (start, end):
            return Refused("misaligned", "the span starts or ends with whitespace")
        first = _index_starting_at(tokens, start)
        last = _index_ending_at(tokens, end)
        if first is None or last is None or last < first:
            return Refused("misaligned", "the span does not start and end on token boundaries")
        return Aligned(first, last + 1, start, end)
    if mode == "contract":
        inside = [i for i, t in enumerate(tokens) if t.start >= t_start and t.end <= t_end and not t.is_space]
        if not inside:
            return Refused("no_whole_token", "no whole token lies inside the span")
        first, last = inside[0], inside[-1]
    else:
        touched = [i for i, t in enumerate(tokens) if t.start < t_end and t.end > t_start and not t.is_space]
        if not touched:
            return Refused("no_token", "the span touches no token")
        first, last = touched[0], touched[-1]
    new_start, new_end = tokens[first].start, tokens[last].end
    change = None
    if (new_start, new_end) != (start, end):
        trimmed = (t_start, t_end) != (start, end)
        moved = (new_start, new_end) != (t_start, t_end)
        if trimmed and not moved:
            change = "trimmed_whitespace"
        elif mode == "contract":
            change = "contracted_to_tokens"
        else:
            change = "expanded_to_tokens"
    return Aligned(first, last + 1, new_start, new_end, change)


def _index_starting_at(tokens: Sequence[Token], offset: int) -> int | None:
    for i, t in enumerate(tokens):
        if t.start == offset and not t.is_space:
            return i
        if t.start > offset:
            break
    return None


def _index_ending_at(tokens: Sequence[Token], offset: int) -> int | None:
    for i, t in enumerate(tokens):
        if t.end == offset and not t.is_space:
            return i
        if t.start >= offset:
            break
    return None
