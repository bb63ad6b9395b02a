"""IOB tag sequences (one tag a token) as labelled token ranges, every repair said.

Shared by Doccano's CoNLL form (``records.doccano_forms``) and the CoNLL converter. Two schemes:

- **IOB2**: every entity starts with ``B-``; an ``I-`` that does not continue an entity of its
  own label is repaired into a start, and said;
- **IOB1** (CoNLL-2003's original tags): an entity starts with ``I-``; ``B-`` only marks a new
  entity right after one of the same label.

A tag that is none of ``O``, ``B-X``, ``I-X`` is a problem, not a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

IOB1 = "IOB1"
IOB2 = "IOB2"
SCHEMES = (IOB1, IOB2)


@dataclass(frozen=True)
class TagNote:
    """A tag that was repaired (``repaired``) or could not be read (``invalid``), by token index."""

    index: int
    tag: str
    kind: str  # "repaired" or "invalid"
    reason: str


def split_tag(tag: str) -> tuple[str, str] | None:
    """Return ``(prefix, label)`` of ``B-X``/``I-X`` (or ``("O", "")``), or None if unreadable."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or prefix not in ("B", "I") or not label:
        return None
    return prefix, label


def tag_ranges(
    tags: Sequence[str], *, scheme: str = IOB2
) -> tuple[list[tuple[int, int, str]], list[TagNote]]:
    """Return the ``(first token, end token, label)`` ranges of ``tags`` and the notes on them."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    ranges: list[tuple[int, int, str]] = []
    notes: list[TagNote] = []
    open_start: int | None = None
    open_label = ""
    for i, tag in enumerate(tags):
        parts = split_tag(tag)
        if parts is None:
            notes.append(TagNote(i, tag, "invalid", "not O, B-LABEL or I-LABEL"))
            parts = ("O", "")
        prefix, label = parts
        continues = open_start is not None and prefix == "I" and label == open_label
        if continues:
            continue
        if open_start is not None:
            ranges.append((open_start, i, open_label))
            open_start = None
        if prefix == "O":
            continue
        if prefix == "I" and scheme == IOB2:
            notes.append(TagNote(i, tag, "repaired", "I- tag without B- before it, read as B-"))
        open_start, open_label = i, label
    if open_start is not None:
        ranges.append((open_start, len(tags), open_label))
    return ranges, notes


def guess_scheme(tags: Sequence[str]) -> str:
    """Return IOB1 if some entity starts with ``I-`` and ``B-`` only follows its own label; else IOB2."""
    prev = "O"
    starts_with_i = False
    for tag in tags:
        parts = split_tag(tag)
        if parts is None:
            prev = "O"
            continue
        prefix, label = parts
        prev_parts = split_tag(prev) or ("O", "")
        if prefix == "B" and prev_parts[1] != label:
            return IOB2  # a B- that is not a boundary between equal labels: IOB2
        if prefix == "I" and prev_parts[1] != label:
            starts_with_i = True
        prev = tag
    return IOB1 if starts_with_i else IOB2


def join_tokens(
    tokens: Sequence[str], ranges: Sequence[tuple[int, int, str]], sep: str = " "
) -> tuple[str, list[tuple[int, int, str]]]:
    """Return the text of ``tokens`` joined by ``sep`` and the ranges as character offsets into it."""
    starts: list[int] = []
    pos = 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + len(sep)
    text = sep.join(tokens)
    spans = [(starts[a], starts[b - 1] + len(tokens[b - 1]), label) for a, b, label in ranges]
    return text, spans
