"""``annotate pull``: a Doccano project back into gold records, written atomically.

How a pull goes, and where each step lives:

1. Refuse, before any network call, an output (or diff) that exists unless ``force``, and read
   the earlier snapshot that ``since`` names (:mod:`annotate.sync.diff`).
2. Fetch the examples and their annotations, through REST or one export zip, as is faster
   (:mod:`annotate.sync.fetch`, :mod:`annotate.sync.export_zip`).
3. Build the records: one an example, or one per annotator with ``per_annotator``
   (:mod:`annotate.sync.views`); every ``doc_hash`` is checked against its text
   (:mod:`annotate.sync.gold`). A team's name (:mod:`annotate.sync.team`) gives one record
   per document and annotator, from each annotator's project (:mod:`annotate.sync.team_pull`).
4. Write them to a temp file beside the target, validate it as gold, then rename it; with
   ``since``, write the changes beside the output (:mod:`annotate.sync.diff`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from annotate.errors import NotFound, UsageError
from annotate.fileio import check_writable, is_stdio
from annotate.recipe import Recipe
from annotate.records.model import Record
from annotate.sync.diff import diff_counts, diff_path_for, diff_records, read_snapshot, write_diff
from annotate.sync.fetch import comments_of, fetch
from annotate.sync.gold import gold_recipe, gold_records, write_gold
from annotate.sync.options import PullOptions
from annotate.sync.report import PullReport
from annotate.sync.team import find_team
from annotate.sync.team_pull import team_records

__all__ = ["PullOptions", "PullReport", "pull"]

Progress = Callable[[int], None]


def pull(
    api: Any,
    *,
    project: str | int,
    out: str | os.PathLike[str],
    options: PullOptions | None = None,
    since: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> PullReport:
    """Pull a project's examples and annotations into gold records at ``out``; return a report.

    ``api`` is a logged-in :class:`annotate.doccano.DoccanoAPI`; ``options`` defaults to
    ``PullOptions()``. Raises OutputExistsError before
    any network call when ``out`` (or the diff) exists and ``force`` is false, HashMismatch when a
    text changed on the server, and ServerError subclasses (exit 3) on server or network failures.
    In every failure case no output file is written.
    """
    t0 = time.monotonic()
    options = options or PullOptions()
    old = _check_outputs(out, since, force=force)
    try:
        proj = api.find_project(project)
    except NotFound:
        # Not a project: maybe a team's name (one project per annotator, see sync.team).
        team = find_team(api, str(project))
        if team is None:
            raise
        records, report, recipe = team_records(api, team, options, progress)
    else:
        records, report, recipe = _records(api, proj, options, progress)
    report.out = str(out)
    report.records = len(records)
    report.confirmed = sum(1 for r in records if r.confirmed)
    changes = diff_records(old, records) if old is not None else None
    write_gold(out, records, recipe, force=force)
    if changes is not None:
        report.diff_path = str(write_diff(out, changes, force=force))
        report.diff_counts = diff_counts(changes)
    report.seconds = time.monotonic() - t0
    return report


def _records(
    api: Any, proj: dict[str, Any], options: PullOptions, progress: Progress | None
) -> tuple[list[Record], PullReport, Recipe]:
    """Return one project's gold records, the report so far, and the recipe they are checked by."""
    fetched = fetch(api, proj, options, progress)
    pid = int(proj["id"])
    report = PullReport(project_id=pid, project_name=str(proj.get("name")), out="", method=fetched.method)
    report.examples = len(fetched.examples)
    comments = comments_of(api, pid, fetched.examples, fetched.users)
    records = gold_records(fetched, comments, options)
    return records, report, gold_recipe(proj, per_annotator=options.per_annotator)


def _check_outputs(
    out: str | os.PathLike[str], since: str | os.PathLike[str] | None, *, force: bool
) -> list[Record] | None:
    """Refuse outputs that exist (unless ``force``); return the snapshot ``since`` names, if any."""
    check_writable(out, force=force)
    if since is None:
        return None
    if is_stdio(out):
        raise UsageError("--since writes a diff beside --out, so --out must be a file, not -")
    check_writable(diff_path_for(out), force=force)
    return read_snapshot(since)
