"""Choose a non-overlapping subset of spans by a stated policy, naming what each omitted span lost to.

Formats with one tag per token (``doc.ents``, CoNLL, HF) cannot hold overlapping spans. The
policy decides which span wins:

- ``longest``: the longest span first, then the earliest, then by label priority;
- ``priority``: the label listed first in the recipe first, then the longest, then the earliest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

OVERLAP_POLICIES = ("longest", "priority")
OverlapPolicy = Literal["longest", "priority"]


@dataclass(frozen=True)
class Placed:
    """A span already on tokens: ``[tok_start, tok_end)``, its label and its record id."""

    span_id: int
    tok_start: int
    tok_end: int
    label: str


def choose_non_overlapping(
    spans: Sequence[Placed], policy: OverlapPolicy = "longest", priority: Sequence[str] = ()
) -> tuple[list[Placed], list[tuple[Placed, Placed]]]:
    """Return ``(kept, omitted)``: kept spans sorted by position, omitted as ``(span, winner)``.

    Labels missing from ``priority`` rank after the listed ones, alphabetically, so the choice
    is deterministic whatever the input order.
    """
    if policy not in OVERLAP_POLICIES:
        raise ValueError(f"unknown overlap policy {policy!r}")
    rank = {label: i for i, label in enumerate(priority)}

    def label_rank(p: Placed) -> tuple[int, str]:
        return (rank.get(p.label, len(rank)), p.label)

    def order(p: Placed) -> tuple[object, ...]:
        length = p.tok_end - p.tok_start
        if policy == "priority":
            return (label_rank(p), -length, p.tok_start, p.span_id)
        return (-length, p.tok_start, label_rank(p), p.span_id)

    owner: dict[int, Placed] = {}
    kept: list[Placed] = []
    omitted: list[tuple[Placed, Placed]] = []
    for p in sorted(spans, key=order):
        clash = next((owner[i] for i in range(p.tok_start, p.tok_end) if i in owner), None)
        if clash is not None:
            omitted.append((p, clash))
            continue
        kept.append(p)
        for i in range(p.tok_start, p.tok_end):
            owner[i] = p
    kept.sort(key=lambda p: (p.tok_start, p.tok_end))
    return kept, omitted
