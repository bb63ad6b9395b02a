"""``annotate push``: bulk, idempotent, resumable upload of tasks into a Doccano project.

How a push goes, and where each step lives:

1. Read and validate every task first (:mod:`annotate.sync.tasks`, the same validator as
   ``annotate validate``). An invalid task is refused with ``file:line`` and a reason; nothing
   is uploaded unless ``skip_invalid``.
2. Find (or, with ``create``, make) the project and check it against the recipe
   (:mod:`annotate.sync.project`). Finding the project and reading what it holds are read-only,
   so they run while step 1 validates the tasks.
3. Plan (:mod:`annotate.sync.plan`): what the project holds for each ``doc_id`` (from the
   ledger's record when the server agrees, else listed and repaired), and what to send.
4. Upload the rest in batches through Doccano's import task, two at once
   (:mod:`annotate.sync.upload`). A batch the server failed is rolled back and reported
   (exit 3); no further batch starts.
5. Reconcile (:mod:`annotate.sync.reconcile`): an import task finished by the server after we
   were killed, or retried by Celery, leaves duplicates; an untouched duplicate is deleted,
   keeping a complete copy (:mod:`annotate.sync.repair`). The server's contents are the source
   of truth.

A small ledger (:mod:`annotate.sync.ledger`) remembers the batches in flight, so a run after
``kill -9`` first waits for those imports and checks those documents, and what the project
held after the last complete push, so that a re-push need not list every example.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from annotate.recipe import Recipe
from annotate.records.model import Record
from annotate.sync.ledger import default_ledger_dir
from annotate.sync.options import DEFAULT_BATCH_SIZE, DEFAULT_PARALLEL_IMPORTS, PushOptions
from annotate.sync.plan import Plan, make_plan
from annotate.sync.project import Found, Target, ensure_project, look
from annotate.sync.reconcile import reconcile
from annotate.sync.report import PushReport, Refusal
from annotate.sync.tasks import load_tasks, refused_error
from annotate.sync.upload import InFlight, split_batches, upload_batches

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_PARALLEL_IMPORTS",
    "PushOptions",
    "PushReport",
    "Refusal",
    "push",
    "push_tasks",
]

Progress = Callable[[int], None]


def push(
    api: Any,
    tasks_path: str | os.PathLike[str],
    *,
    project: str | int,
    recipe: Recipe,
    options: PushOptions | None = None,
    progress: Progress | None = None,
) -> PushReport:
    """Push the tasks of ``tasks_path`` into a Doccano project; return what was done.

    ``api`` is a logged-in :class:`annotate.doccano.DoccanoAPI`; ``options`` defaults to
    ``PushOptions()``. Raises DataError for invalid tasks (unless ``skip_invalid``),
    ProjectConflict when the project disagrees with the recipe, and ServerError subclasses
    (exit 3) when the server or an import task fails.
    """
    t0 = time.monotonic()
    options = options or PushOptions()
    ledger_dir = options.ledger_dir or default_ledger_dir()
    tasks, found, report = _read(api, tasks_path, project, recipe, ledger_dir, options)
    if progress is not None and report.refused:
        progress(len(report.refused))
    push_tasks(
        api, tasks, found, project=project, recipe=recipe, options=options, report=report, progress=progress
    )
    report.seconds = time.monotonic() - t0
    return report


def push_tasks(
    api: Any,
    tasks: list[tuple[int, Record]],
    found: Found,
    *,
    project: str | int,
    recipe: Recipe,
    options: PushOptions,
    report: PushReport,
    progress: Progress | None = None,
) -> None:
    """Push valid ``tasks`` into the project ``found`` looked at (made if needed); fill ``report``.

    Steps 2 to 5 of a push, for tasks already read and checked; a team push calls it once
    per annotator's project.
    """
    ledger_dir = options.ledger_dir or default_ledger_dir()
    proj = ensure_project(api, project, recipe, found, options, report)
    if proj is None:  # dry run of a project that does not exist yet
        report.pushed = len(tasks)
        report.project_url = f"{api.url}/projects/<new>"
        return
    target = Target.of(api, proj, ledger_dir)
    plan = make_plan(target, tasks, found, options, report)
    if progress is not None:
        progress(report.skipped_present + report.skipped_human + report.skipped_text_changed)
    if options.dry_run:
        report.updated = len(plan.to_replace)
        report.pushed = len(plan.to_upload) - report.updated
    else:
        _upload(target, plan, options, report, progress)
        reconcile(target, plan, options.import_timeout(), report)


def _read(
    api: Any,
    tasks_path: str | os.PathLike[str],
    project: str | int,
    recipe: Recipe,
    ledger_dir: Path,
    options: PushOptions,
) -> tuple[list[tuple[int, Record]], Found, PushReport]:
    """Return the valid tasks, what the server holds, and the report so far; refuse invalid tasks."""
    # Read the server (no writes) while the tasks are validated: the two overlap.
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Leaving the block waits for the look, so no request outlives a refused push either.
        looking = pool.submit(look, api, project, ledger_dir, want_listing=options.update)
        tasks, refusals = load_tasks(tasks_path, recipe)
    report = PushReport(project_id=None, project_name=str(project), project_url="", dry_run=options.dry_run)
    report.total = len(tasks) + len(refusals)
    report.refused = refusals
    if refusals and not options.skip_invalid:
        raise refused_error(tasks_path, refusals)
    # Invalid tasks are reported first; then a server error from the look, if any, is raised.
    return tasks, looking.result(), report


def _upload(
    target: Target, plan: Plan, options: PushOptions, report: PushReport, progress: Progress | None
) -> None:
    """Import the plan's uploads in batches; count each batch in ``report`` as it ends."""
    if plan.to_upload:
        # Uploads are about to change the project: the ledger's record of it no longer holds.
        target.ledger.save_state(None)

    def imported(batch: list[Record]) -> None:
        report.updated += sum(1 for r in batch if r.doc_id in plan.to_replace)
        report.pushed += sum(1 for r in batch if r.doc_id not in plan.to_replace)
        if progress is not None:
            progress(len(batch))

    batches = split_batches(plan.to_upload, options.batch_size, options.parallel_imports)
    inflight = InFlight(target.ledger)
    parallel, timeout = options.parallel_imports, options.import_timeout()
    upload_batches(target.api, target.pid, batches, plan.to_replace, inflight, timeout, parallel, imported)
