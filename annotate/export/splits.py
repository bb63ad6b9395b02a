"""Split documents into train/dev/test by a hash of each document, deterministic for a seed.

A document's split depends only on the seed and its key (the hash of its text), never on the
other documents or the file order: adding documents leaves every existing one where it was,
and two copies of one text can never land on both sides of a split. With ``stratify`` the
documents of each stratum (their rarest label) are ranked by that hash and cut by the ratios,
so every split gets its share of rare labels; adding documents then moves at most a few
documents at the cut points of their stratum.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from annotate.errors import UsageError

DEFAULT_SPLIT = "train=0.8,dev=0.1,test=0.1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def parse_split(spec: str) -> dict[str, float]:
    """Return ``{name: ratio}`` from ``train=0.8,dev=0.1,test=0.1``; the ratios must sum to 1."""
    ratios: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise UsageError(
                f"bad split part {part.strip()!r}",
                hint="write NAME=RATIO pairs, e.g. train=0.8,dev=0.1,test=0.1",
                code="E270",
            )
        if name in ratios:
            raise UsageError(f"split {name!r} is named twice", code="E270")
        try:
            ratio = float(value)
        except ValueError:
            raise UsageError(
                f"split {name!r} has a ratio that is not a number: {value!r}", code="E270"
            ) from None
        if not 0 <= ratio <= 1:
            raise UsageError(f"split {name!r} has ratio {ratio}; it must lie in [0, 1]", code="E270")
        ratios[name] = ratio
    total = sum(ratios.values())
    if abs(total - 1) > 1e-6:
        raise UsageError(
            f"split ratios sum to {total:g}, not 1", hint="e.g. train=0.8,dev=0.1,test=0.1", code="E270"
        )
    return ratios


def unit_hash(key: str, seed: int) -> float:
    """Return a number in [0, 1) fixed by ``seed`` and ``key`` alone."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _pick(u: float, ratios: Mapping[str, float]) -> str:
    acc = 0.0
    names = list(ratios)
    for name in names:
        acc += ratios[name]
        if u < acc:
            return name
    # Rounding can leave u just above the sum; give it to the last split with a share.
    return next(n for n in reversed(names) if ratios[n] > 0)


def assign_splits(
    keys: Sequence[str],
    ratios: Mapping[str, float],
    *,
    seed: int = 0,
    strata: Sequence[str] | None = None,
) -> dict[str, str]:
    """Return ``{key: split name}`` for each distinct key.

    ``strata`` (parallel to ``keys``) turns on stratification; a key seen twice keeps the
    stratum of its first occurrence.
    """
    if strata is None:
        return {k: _pick(unit_hash(k, seed), ratios) for k in dict.fromkeys(keys)}
    groups: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for key, stratum in zip(keys, strata, strict=True):
        if key not in seen:
            seen.add(key)
            groups[stratum].append(key)
    out: dict[str, str] = {}
    for members in groups.values():
        ranked = sorted(members, key=lambda k: (unit_hash(k, seed), k))
        n = len(ranked)
        for rank, key in enumerate(ranked):
            out[key] = _pick((rank + 0.5) / n, ratios)
    return out


def rarest_label(labels: Sequence[str], frequency: Mapping[str, int]) -> str:
    """Return the document's label that is rarest overall (ties by name), or "" when it has none."""
    if not labels:
        return ""
    return min(set(labels), key=lambda label: (frequency.get(label, 0), label))
