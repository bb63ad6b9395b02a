"""Helpers for the team tests: the ``annotate adjudicate`` command line, a team's removal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotate.sync.team import find_team


def adjudicate_args(per: Path, out: Path, conflicts: Path, *more: str | Path) -> list[str]:
    """Return ``annotate adjudicate PER --out OUT --conflicts CONFLICTS`` and ``more`` options."""
    return ["adjudicate", str(per), "--out", str(out), "--conflicts", str(conflicts), *map(str, more)]


def delete_team(api: Any, name: str) -> None:
    """Delete every project of team ``name`` (none when there is no such team)."""
    team = find_team(api, name)
    for proj in team.projects.values() if team else []:
        api.delete_project(int(proj["id"]))
