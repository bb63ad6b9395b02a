"""Helpers for the team tests: the ``annotate adjudicate`` command line."""

from __future__ import annotations

from pathlib import Path


def adjudicate_args(per: Path, out: Path, conflicts: Path, *more: str | Path) -> list[str]:
    """Return ``annotate adjudicate PER --out OUT --conflicts CONFLICTS`` and ``more`` options."""
    return ["adjudicate", str(per), "--out", str(out), "--conflicts", str(conflicts), *map(str, more)]
