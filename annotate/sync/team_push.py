"""``annotate push --annotators A,B,C --overlap N``: a routed push into a team's projects.

How it goes, and where each step lives:

1. Check the team (names, overlap) before any request (:mod:`annotate.sync.routing`); then,
   side by side, read and validate the tasks and look at the server: the logged-in user must
   be an admin, every annotator a user there, and the team's projects
   (:mod:`annotate.sync.team`) what each already holds. Any of these wrong: nothing is changed.
2. Route (:func:`annotate.sync.routing.route`): the documents the projects hold keep their
   annotators; the others go to the least-loaded ones.
3. Make the missing member projects (the annotator its only annotator), then push each
   annotator's share with push's own machinery (:func:`annotate.sync.push.push_tasks`):
   idempotent, resumable, reconciled, one ledger per project.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.doccano.accounts import check_admin, user_ids
from annotate.errors import NotFound, TeamError
from annotate.recipe import Recipe
from annotate.records.model import Record
from annotate.sync.held import index
from annotate.sync.ledger import default_ledger_dir
from annotate.sync.options import PushOptions
from annotate.sync.project import Found, look, project_settings
from annotate.sync.push import push_tasks
from annotate.sync.report import PushReport, Refusal
from annotate.sync.routing import Routing, check_team, loads_of, route
from annotate.sync.tasks import load_tasks, refused_error
from annotate.sync.team import (
    ANNOTATOR_ROLE,
    Team,
    check_annotator_role,
    description,
    find_team,
    member_name,
    member_role,
)

Progress = Callable[[int], None]


@dataclass
class TeamPushReport:
    """What a routed push did: the routing, and one push report per annotator's project."""

    team: str
    annotators: list[str]
    overlap: int
    total: int = 0
    refused: list[Refusal] = field(default_factory=list)
    routed: dict[str, int] = field(default_factory=dict)  # annotator -> documents of this file
    projects: dict[str, PushReport] = field(default_factory=dict)  # annotator -> its push
    created: list[str] = field(default_factory=list)  # annotators whose project was made
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def pushed(self) -> int:
        return sum(r.pushed for r in self.projects.values())

    @property
    def skipped_present(self) -> int:
        return sum(r.skipped_present for r in self.projects.values())


@dataclass
class _Looked:
    """What step 1 found on the server: the team's projects, what each holds, the users."""

    found: dict[str, Found]  # annotator -> the look at their project
    held: dict[str, set[str]]  # doc_id -> the annotators whose project holds it
    user_ids: dict[str, int]
    roles: dict[str, str | None]  # annotator -> their role in their project (None: not a member)


def team_push(
    api: Any,
    tasks_path: str | os.PathLike[str],
    *,
    project: str,
    recipe: Recipe,
    annotators: list[str],
    overlap: int,
    options: PushOptions | None = None,
    progress: Progress | None = None,
) -> TeamPushReport:
    """Route the tasks of ``tasks_path`` to ``overlap`` of ``annotators`` each; push each share.

    Raises TeamError (exit 1) for a wrong team, an unknown annotator, a login that is not an
    admin or an annotator with another role in their project; DataError for invalid tasks
    (unless ``skip_invalid``); NotFound when the team does not exist and ``create`` is false.
    In all of these nothing is changed on the server.
    """
    t0 = time.monotonic()
    options = options or PushOptions()
    names = check_team(annotators, overlap)
    ledger_dir = options.ledger_dir or default_ledger_dir()
    report = TeamPushReport(project, names, overlap, dry_run=options.dry_run)
    with ThreadPoolExecutor(max_workers=1) as pool:
        looking = pool.submit(_look, api, project, names, ledger_dir, options)
        tasks, refusals = load_tasks(tasks_path, recipe)
    report.total, report.refused = len(tasks) + len(refusals), refusals
    if refusals and not options.skip_invalid:
        raise refused_error(tasks_path, refusals)
    looked = looking.result()
    missing = [a for a in names if a not in looked.found]
    if missing and not options.create:
        raise NotFound(f"team {project!r} has no project for {', '.join(missing)}", hint="pass --create")
    routing = route([rec.doc_id for _, rec in tasks], names, overlap, looked.held)
    loads = loads_of(routing)
    report.routed = {a: loads[a] for a in names}
    for annotator in names:
        share = [(line, rec) for line, rec in tasks if annotator in routing[rec.doc_id]]
        report.projects[annotator] = _push_share(
            api, annotator, share, looked, project=project, recipe=recipe, options=options, progress=progress
        )
        if annotator in missing:
            report.created.append(annotator)
    report.seconds = time.monotonic() - t0
    return report


def _look(api: Any, project: str, names: list[str], ledger_dir: Path, options: PushOptions) -> _Looked:
    """Check the login and the annotators, find the team and read what its projects hold."""
    check_admin(api, "a team push (it makes projects and members)")
    known = user_ids(api)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise TeamError(
            f"unknown annotator(s) at {api.url}: {', '.join(unknown)}",
            hint="create them first: `annotate users add NAME... --passwords-out FILE`",
        )
    team = find_team(api, project) or Team(project)
    found: dict[str, Found] = {}
    roles: dict[str, str | None] = {}
    held: dict[str, set[str]] = {}
    for annotator, proj in team.projects.items():
        roles[annotator] = member_role(api, proj, annotator)
        check_annotator_role(roles[annotator], annotator, proj)
        found[annotator] = look(api, int(proj["id"]), ledger_dir, want_listing=options.update)
        for doc_id in _held_doc_ids(api, found[annotator]):
            held.setdefault(doc_id, set()).add(annotator)
    return _Looked(found, held, {name: known[name] for name in names}, roles)


def _held_doc_ids(api: Any, found: Found) -> list[str]:
    """Return the doc_ids a member project holds, from the look (the ledger or the listing)."""
    if found.examples is not None:
        return list(index(found.examples))
    if found.state is not None:
        return list(found.state["docs"])
    assert found.project is not None
    # A batch was left in flight: the look did not list; the server is the source of truth.
    found.examples = api.list_examples(int(found.project["id"]))
    return list(index(found.examples))


def _push_share(
    api: Any,
    annotator: str,
    share: list[tuple[int, Record]],
    looked: _Looked,
    *,
    project: str,
    recipe: Recipe,
    options: PushOptions,
    progress: Progress | None,
) -> PushReport:
    """Push one annotator's share into their project, making it (and the membership) if needed."""
    name = member_name(project, annotator)
    report = PushReport(project_id=None, project_name=name, project_url="", dry_run=options.dry_run)
    report.total = len(share)
    found = looked.found.get(annotator)
    if found is None and not options.dry_run:
        found = Found(_create_member_project(api, project, annotator, recipe), {"span": [], "relation": []})
        report.created_project = True
        looked.roles[annotator] = None
    if found is None:  # a dry run of a project that does not exist yet
        found = Found(None)
    if found.project is not None and looked.roles.get(annotator) is None and not options.dry_run:
        api.add_member(int(found.project["id"]), looked.user_ids[annotator], ANNOTATOR_ROLE)
    push_tasks(
        api, share, found, project=name, recipe=recipe, options=options, report=report, progress=progress
    )
    return report


def _create_member_project(api: Any, team: str, annotator: str, recipe: Recipe) -> dict[str, Any]:
    """Make one annotator's project of a team: collaborative, so they see the pre-annotations."""
    text = description(team, annotator, recipe.description or f"annotate recipe {recipe.id}")
    settings = project_settings(recipe)  # exactly create_project's keyword arguments
    return dict(api.create_project(member_name(team, annotator), description=text, **settings))


__all__ = ["Routing", "TeamPushReport", "team_push"]
