from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._connection import UrlOption, UsernameOption, connection_settings
from annotate.cli._paths import INPUT_FILE, INPUT_FILE_OR_STDIN
from annotate.cli._progress import progress_bar

if TYPE_CHECKING:
    from annotate.sync.report import PushReport
    from annotate.sync.team_push import TeamPushReport

DEFAULT_BATCH_SIZE = 1000
DEFAULT_PARALLEL_IMPORTS = 2


@app.command("push")
def push_cli(
    tasks: Annotated[
        Path,
        typer.Argument(help="Tasks to upload (JSONL), e.g. from `annotate preannotate`; - for stdin."),
        INPUT_FILE_OR_STDIN,
    ],
    project: Annotated[str, typer.Option("--project", help="Doccano project name or id.")],
    recipe: Annotated[
        Path, typer.Option("--recipe", help="The recipe: labels, relation types, overlapping."), INPUT_FILE
    ],
    create: Annotated[
        bool, typer.Option("--create", help="Create the project if it does not exist.")
    ] = False,
    sync_labels: Annotated[
        bool, typer.Option("--sync-labels", help="Add the recipe's label types the project lacks.")
    ] = False,
    update: Annotated[
        bool,
        typer.Option(
            "--update", help="Replace changed pre-annotations where nobody edited or confirmed them."
        ),
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Push the valid tasks and report the invalid ones.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; write nothing.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Tasks per import task.")] = (
        DEFAULT_BATCH_SIZE
    ),
    parallel_imports: Annotated[
        int,
        typer.Option(
            "--parallel-imports",
            min=1,
            help="Import tasks run at once (Doccano runs two by default). "
            "A push of a few hundred tasks or more is cut into that many batches.",
        ),
    ] = DEFAULT_PARALLEL_IMPORTS,
    annotators: Annotated[
        str | None,
        typer.Option(
            "--annotators",
            help="Route to a team: comma-separated Doccano users, one project each (PROJECT · name).",
            show_default=False,
        ),
    ] = None,
    overlap: Annotated[
        int,
        typer.Option("--overlap", min=1, help="With --annotators: how many annotators get each document."),
    ] = 1,
    url: UrlOption = None,
    username: UsernameOption = None,
) -> None:
    """Upload tasks into a Doccano project, idempotently: documents already there are skipped.

    With --annotators, each document goes to --overlap of them, each in their own project.
    """
    from annotate.doccano import connect
    from annotate.errors import UsageError
    from annotate.recipe import load_recipe
    from annotate.sync.push import PushOptions, push
    from annotate.sync.team_push import team_push

    with user_errors():
        if annotators is None and overlap != 1:
            raise UsageError("--overlap routes to a team: it needs --annotators")
        rec = load_recipe(recipe)
        total = None if str(tasks) == "-" else _count_lines(tasks)
        with (
            connect(connection_settings(url, username)) as api,
            progress_bar("pushing", total=total) as advance,
        ):
            options = PushOptions(
                create=create,
                sync_labels=sync_labels,
                update=update,
                skip_invalid=skip_invalid,
                dry_run=dry_run,
                batch_size=batch_size,
                parallel_imports=parallel_imports,
            )
            if annotators is not None:
                team = team_push(
                    api,
                    tasks,
                    project=project,
                    recipe=rec,
                    annotators=annotators.split(","),
                    overlap=overlap,
                    options=options,
                    progress=advance,
                )
            else:
                report = push(api, tasks, project=project, recipe=rec, options=options, progress=advance)
    if annotators is not None:
        _show_team_report(team, tasks)
        return
    _show_report(report, tasks)
    typer.echo(report.project_url)


def _show_team_report(team: TeamPushReport, tasks: Path) -> None:
    """Print each annotator's push, then the routing, to stderr; each project's URL to stdout."""
    for annotator, report in team.projects.items():
        err(f"{annotator}: {team.routed.get(annotator, 0)} documents routed")
        _show_report(report, tasks)
        typer.echo(report.project_url)
    verb = "would route" if team.dry_run else "routed"
    err(
        f"{verb} {team.total - len(team.refused)} documents to {len(team.annotators)} annotators, "
        f"{team.overlap} each"
    )


def _show_report(report: PushReport, tasks: Path) -> None:
    """Print a push's warnings, refusals and counts to stderr."""
    for w in report.warnings:
        err(f"warning: {w}")
    for r in report.refused[:20]:
        err(f"refused: {tasks}:{r.line}: {r.reason}")
    verb = "would push" if report.dry_run else "pushed"
    err(
        f"{verb} {report.pushed}, updated {report.updated}, skipped {report.skipped_present} already present"
        + (f", {report.skipped_human} with human work" if report.skipped_human else "")
        + (f", {report.skipped_text_changed} with a changed text" if report.skipped_text_changed else "")
        + f", refused {len(report.refused)}"
        + (f"; removed {report.duplicates_removed} duplicates" if report.duplicates_removed else "")
        + (f"; repaired {report.repaired}" if report.repaired else "")
    )
    if report.labels_added:
        err(("would add" if report.dry_run else "added") + " label types: " + ", ".join(report.labels_added))


def _count_lines(path: Path) -> int | None:
    """Return the number of non-blank lines of a file (the bar's total), or None if unreadable."""
    try:
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return None
