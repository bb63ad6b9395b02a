"""``annotate users add | list``: the Doccano users of a team."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import App, app, err, user_errors
from annotate.cli._connection import UrlOption, UsernameOption, connection_settings
from annotate.cli._paths import OUTPUT_FILE

users_app = App(help="Doccano users for a team (an admin login is needed).", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def add_cli(
    names: Annotated[list[str], typer.Argument(help="User names to create.")],
    passwords_out: Annotated[
        Path,
        typer.Option("--passwords-out", help="Where the new passwords go (JSON, mode 0600); never printed."),
        OUTPUT_FILE,
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace the passwords file if it exists.")] = False,
    url: UrlOption = None,
    username: UsernameOption = None,
) -> None:
    """Create Doccano users with generated passwords, written only to --passwords-out."""
    from annotate.doccano import connect
    from annotate.doccano.accounts import add_users

    with user_errors():
        with connect(connection_settings(url, username)) as api:
            report = add_users(api, names, passwords_out=passwords_out, force=force)
    for name in report.existing:
        err(f"exists already, left as it is: {name}")
    err(
        f"created {len(report.created)} user(s)"
        + (f": {', '.join(report.created)}" if report.created else "")
    )
    if report.created:
        err(f"their passwords are in {report.passwords_out} (mode 0600)")


@users_app.command("list")
def list_cli(
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
    url: UrlOption = None,
    username: UsernameOption = None,
) -> None:
    """List the server's users."""
    from annotate.doccano import connect
    from annotate.doccano.accounts import list_users

    with user_errors():
        with connect(connection_settings(url, username)) as api:
            users = list_users(api)
    if as_json:
        typer.echo(json.dumps(users, indent=2))
        return
    for u in users:
        typer.echo(f"{u['username']}" + ("  (admin)" if u["admin"] else ""))
