"""``annotate status --project P``: a team's progress, per annotator."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from annotate.cli._app import app, user_errors
from annotate.cli._connection import UrlOption, UsernameOption, connection_settings


@app.command("status")
def status_cli(
    project: Annotated[str, typer.Option("--project", help="The team (as given to push --annotators).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout instead of a table.")] = False,
    url: UrlOption = None,
    username: UsernameOption = None,
) -> None:
    """Per annotator of a team: documents assigned, confirmed, left."""
    from rich.console import Console
    from rich.table import Table

    from annotate.doccano import connect
    from annotate.sync.team_status import team_status

    with user_errors():
        with connect(connection_settings(url, username)) as api:
            rows = team_status(api, project)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    table = Table(title=f"team {project}")
    for column in ("annotator", "assigned", "confirmed", "left"):
        table.add_column(column, justify="left" if column == "annotator" else "right")
    for r in rows:
        table.add_row(r.annotator, str(r.assigned), str(r.confirmed), str(r.left))
    table.add_row("all", *(str(sum(getattr(r, k) for r in rows)) for k in ("assigned", "confirmed", "left")))
    Console().print(table)
