"""``annotate status --project P``: how far each annotator of a team has got.

Per annotator: the documents in their project (assigned), those confirmed, and what is left.
Two cheap requests a project (counts only: ``limit=1``), whatever its size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from annotate.errors import NotFound
from annotate.sync.team import find_team


@dataclass(frozen=True)
class Progress:
    """One annotator's progress."""

    annotator: str
    project_id: int
    assigned: int
    confirmed: int

    @property
    def left(self) -> int:
        return self.assigned - self.confirmed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "left": self.left}


def team_status(api: Any, project: str) -> list[Progress]:
    """Return each annotator's progress in team ``project``, by name; NotFound if no such team."""
    team = find_team(api, project)
    if team is None:
        raise NotFound(
            f"no team {project!r} at {api.url}", hint="a team is made by `annotate push --annotators`"
        )
    out = []
    for annotator in team.annotators:
        pid = int(team.projects[annotator]["id"])
        # In a collaborative project ``confirmed=true`` counts anyone's confirmation: only the
        # annotator (and the admin who made it) are members, and the admin does not confirm.
        out.append(
            Progress(
                annotator,
                pid,
                assigned=api.count_examples(pid),
                confirmed=api.count_examples(pid, params={"confirmed": "true"}),
            )
        )
    return out
