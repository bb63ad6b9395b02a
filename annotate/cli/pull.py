from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._connection import UrlOption, UsernameOption, connection_settings
from annotate.cli._paths import INPUT_FILE, OUTPUT_FILE_OR_STDOUT
from annotate.cli._progress import progress_bar


class Method(str, Enum):
    auto = "auto"
    rest = "rest"
    export = "export"


@app.command("pull")
def pull_cli(
    project: Annotated[
        str,
        typer.Option(
            "--project", help="Doccano project name or id, or a team's name (with --per-annotator)."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="Where to write the gold records (JSONL); - for stdout."),
        OUTPUT_FILE_OR_STDOUT,
    ],
    only_approved: Annotated[
        bool, typer.Option("--only-approved", help="Only examples someone confirmed.")
    ] = False,
    per_annotator: Annotated[
        bool, typer.Option("--per-annotator", help="One record per example and annotator.")
    ] = False,
    since: Annotated[
        Path | None,
        typer.Option("--since", help="An earlier pull: also write the changes since it to OUT.diff.jsonl."),
        INPUT_FILE,
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT (and its diff) if it exists.")] = False,
    method: Annotated[
        Method, typer.Option("--method", help="How to fetch annotations; auto picks the faster.")
    ] = Method.auto,
    url: UrlOption = None,
    username: UsernameOption = None,
) -> None:
    """Download a project's examples and annotations as gold records, atomically."""
    from annotate.doccano import connect
    from annotate.sync.pull import PullOptions, pull

    with user_errors():
        with connect(connection_settings(url, username)) as api, progress_bar("pulling") as advance:
            report = pull(
                api,
                project=project,
                out=out,
                options=PullOptions(
                    only_approved=only_approved, per_annotator=per_annotator, method=method.value
                ),
                since=since,
                force=force,
                progress=advance,
            )
    err(
        f"pulled {report.records} records from {report.examples} examples of {report.project_name!r} "
        f"({report.confirmed} confirmed) via {report.method} in {report.seconds:.1f} s"
    )
    if report.diff_path:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.diff_counts.items())) or "no changes"
        err(f"changes since {since}: {counts} -> {report.diff_path}")
    if str(out) != "-":
        typer.echo(str(out))
