"""Texts longer than a pipeline's ``max_length``: cut into pieces, annotated, joined back.

A piece ends at the last paragraph break (a blank line) that keeps it within the limit, else
at the last sentence end, else at the last space, else (one "word" longer than the limit) at
the limit. Pieces are consecutive slices that cover the text exactly, so a piece's offsets
plus its start are offsets into the whole text. Spans and relations are found within one
piece; a relation never joins two pieces.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from annotate.nlp.uncertainty import join_uncertainty

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?…][\"'’”)\]]*\s+")
_SPACE = re.compile(r"\s+")

Bounds = tuple[int, int]


def cut(text: str, limit: int) -> list[Bounds]:
    """Return the ``(start, end)`` of each piece of ``text``: one piece when it fits ``limit``."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    pieces: list[Bounds] = []
    start = 0
    while len(text) - start > limit:
        end = _cut_point(text, start, start + limit)
        pieces.append((start, end))
        start = end
    pieces.append((start, len(text)))
    return pieces


def _cut_point(text: str, start: int, stop: int) -> int:
    """The end of a piece that starts at ``start`` and may not pass ``stop``."""
    for boundary in (_PARAGRAPH_BREAK, _SENTENCE_END, _SPACE):
        end = _last_end(boundary, text, start, stop)
        if end is not None:
            return end
    return stop


def _last_end(boundary: re.Pattern[str], text: str, start: int, stop: int) -> int | None:
    """The end of the last match of ``boundary`` within ``text[start:stop]`` (None if none)."""
    last = None
    for m in boundary.finditer(text, start, stop):
        if m.end() > start:
            last = m.end()
    return last


def join(parts: Sequence[dict[str, Any]], bounds: Sequence[Bounds]) -> dict[str, Any]:
    """Return one document's annotations from those of its pieces, in the whole text's offsets.

    Each part holds ``spans`` (start, end, label, source), ``relations`` (head, tail, label,
    source; indices into the part's spans), ``dropped`` (label counts) and maybe ``uncertainty``.
    """
    spans: list[tuple[int, int, str, str]] = []
    relations: list[tuple[int, int, str, str]] = []
    dropped: Counter[str] = Counter()
    for part, (offset, _) in zip(parts, bounds, strict=True):
        first = len(spans)
        spans.extend((s + offset, e + offset, label, src) for s, e, label, src in part["spans"])
        relations.extend((h + first, t + first, label, src) for h, t, label, src in part["relations"])
        dropped.update(part["dropped"])
    joined: dict[str, Any] = {"spans": spans, "relations": relations, "dropped": dict(dropped)}
    if all("uncertainty" in part for part in parts):
        joined["uncertainty"] = join_uncertainty([part["uncertainty"] for part in parts])
    return joined
