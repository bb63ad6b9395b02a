"""A team's layout in Doccano 1.8.4: one project per annotator, found by the team's name.

Doccano 1.8.4 shows every example of a project to every member and has no assignment, so a
team project ``P`` is one Doccano project per annotator, named ``P · alice``, with that
annotator its only member besides the admin who made it. Annotation is collaborative there, so
the annotator sees (and may correct) the pre-annotations the admin imported; nobody else is a
member, so no one sees or changes another annotator's work. A marker line in each project's
description (``annotate-team: {"team": "P", "annotator": "alice"}``) is what ``--project P``
finds the team by; the name is only for people.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from annotate.errors import TeamError

MARKER = "annotate-team: "
SEPARATOR = " · "
ANNOTATOR_ROLE = "annotator"

#: What Doccano's project search takes as it is (see ``annotate.doccano.projects``).
_SEARCHABLE = re.compile(r"[^\"'\\\x00-\x1f\x7f]+")


@dataclass
class Team:
    """A team project: its name and each annotator's Doccano project."""

    name: str
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # annotator -> project

    @property
    def annotators(self) -> list[str]:
        return sorted(self.projects)


def member_name(team: str, annotator: str) -> str:
    """Return the Doccano project name of one annotator of a team."""
    return f"{team}{SEPARATOR}{annotator}"


def marker(team: str, annotator: str) -> str:
    """Return the description line that ties a project to its team and annotator."""
    return MARKER + json.dumps({"team": team, "annotator": annotator}, ensure_ascii=False, sort_keys=True)


def description(team: str, annotator: str, recipe_text: str) -> str:
    """Return a member project's description: what it is for, then the marker line."""
    return f"{recipe_text} (team {team}, annotator {annotator})\n{marker(team, annotator)}"


def read_marker(proj: dict[str, Any]) -> tuple[str, str] | None:
    """Return ``(team, annotator)`` from a project's marker line, or None if it has none."""
    for line in str(proj.get("description") or "").splitlines():
        if not line.startswith(MARKER):
            continue
        try:
            data = json.loads(line[len(MARKER) :])
        except ValueError:
            return None
        team, annotator = (data.get("team"), data.get("annotator")) if isinstance(data, dict) else (0, 0)
        if isinstance(team, str) and isinstance(annotator, str):
            return team, annotator
    return None


def find_team(api: Any, name: str) -> Team | None:
    """Return the team called ``name`` (its members' projects), or None when there is none."""
    name = str(name).strip()
    candidates = api.list_projects(search=name) if _SEARCHABLE.fullmatch(name) else api.list_projects()
    team = Team(name)
    for proj in candidates:
        found = read_marker(proj)
        if found is None or found[0] != name:
            continue
        if found[1] in team.projects:
            raise TeamError(
                f"team {name!r} has two projects for annotator {found[1]!r} "
                f"(ids {team.projects[found[1]]['id']} and {proj['id']})",
                hint="delete or rename one of them in Doccano",
            )
        team.projects[found[1]] = proj
    return team if team.projects else None


def member_role(api: Any, proj: dict[str, Any], username: str) -> str | None:
    """Return the role ``username`` has in a project (``annotator``, ...), None if not a member."""
    for m in api.list_members(int(proj["id"])):
        if m.get("username") == username:
            return str(m.get("rolename"))
    return None


def check_annotator_role(role: str | None, annotator: str, proj: dict[str, Any]) -> None:
    """Raise TeamError when the annotator of a member project has another role than annotator."""
    if role is not None and role != ANNOTATOR_ROLE:
        raise TeamError(
            f"{annotator!r} is {role} in project {proj.get('name')!r}, not {ANNOTATOR_ROLE}",
            hint="give them the annotator role there (or remove the project); nothing was changed",
        )
