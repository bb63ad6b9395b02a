"""What a conversion did not carry over as it was: each item skipped or repaired, with its reason and place.

The "nothing lost" rule: every source item either becomes part of a record or is an entry here.
Reasons are stable codes (``answer_reject``, ``was_cancelled``, ``utf16_offsets``, ...); the
detail says the rest in words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SKIPPED = "skipped"
REPAIRED = "repaired"
KEPT_IN_META = "kept_in_meta"
ACTIONS = (SKIPPED, REPAIRED, KEPT_IN_META)


@dataclass(frozen=True)
class Entry:
    """One item: what happened to it (``action``), what it is, why, and where it was (``file:line``)."""

    action: str
    item: str
    reason: str
    where: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"action": self.action, "item": self.item, "reason": self.reason, "where": self.where}
        if self.detail:
            d["detail"] = self.detail
        return d


@dataclass
class Ledger:
    """The entries of one conversion, in the order they happened."""

    entries: list[Entry] = field(default_factory=list)

    def skip(self, item: str, reason: str, where: str, detail: str = "") -> None:
        self.entries.append(Entry(SKIPPED, item, reason, where, detail))

    def repair(self, item: str, reason: str, where: str, detail: str = "") -> None:
        self.entries.append(Entry(REPAIRED, item, reason, where, detail))

    def keep_in_meta(self, item: str, reason: str, where: str, detail: str = "") -> None:
        self.entries.append(Entry(KEPT_IN_META, item, reason, where, detail))

    def counts(self) -> Counter[tuple[str, str, str]]:
        """Return how many entries there are of each ``(action, item, reason)``."""
        return Counter((e.action, e.item, e.reason) for e in self.entries)

    def count(self, action: str, item: str | None = None) -> int:
        return sum(1 for e in self.entries if e.action == action and (item is None or e.item == item))


def where(path: str, line: int | None = None) -> str:
    """Return ``path:line`` (or the path alone)."""
    return f"{path}:{line}" if line is not None else path
