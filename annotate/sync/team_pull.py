"""A team's pull: one record per (document, annotator), each from that annotator's own project.

Each member project holds one annotator's work on top of the admin's pre-annotations, in a
collaborative project: its merged view is what that annotator sees and left, so every record
of it is theirs (``annotator`` is the person, not the admin who imported the pre-annotations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from annotate.errors import UsageError
from annotate.recipe import Recipe
from annotate.records.model import Record
from annotate.sync.fetch import comments_of, fetch
from annotate.sync.gold import gold_recipe, gold_records
from annotate.sync.options import PullOptions
from annotate.sync.report import PullReport
from annotate.sync.team import Team

Progress = Callable[[int], None]


def team_records(
    api: Any,
    team: Team,
    options: PullOptions,
    progress: Progress | None,
) -> tuple[list[Record], PullReport, Recipe]:
    """Return every annotator's records of a team, sorted, the report so far, and their recipe.

    The report's ``project_id`` is 0: a team is several projects.
    """
    if not options.per_annotator:
        raise UsageError(
            f"{team.name!r} is a team: its documents are annotated separately by each annotator",
            hint="pull it with --per-annotator, then `annotate adjudicate` makes one gold",
        )
    records: list[Record] = []
    report = PullReport(project_id=0, project_name=team.name, out="", method="")
    methods = set()
    # Each member project holds one annotator's work: its merged view is theirs.
    member = replace(options, per_annotator=False)
    for annotator in team.annotators:
        proj = team.projects[annotator]
        fetched = fetch(api, proj, member, progress)
        methods.add(fetched.method)
        report.examples += len(fetched.examples)
        comments = comments_of(api, int(proj["id"]), fetched.examples, fetched.users)
        records += gold_records(fetched, comments, member, annotator=annotator)
    report.method = "+".join(sorted(methods))
    records.sort(key=lambda r: (r.doc_id, r.annotator or "", r.example_id or 0))
    return records, report, gold_recipe(team.projects[team.annotators[0]], per_annotator=True)
