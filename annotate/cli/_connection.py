"""The connection options every Doccano command shares: ``--url`` and ``--username``.

Use them like this, so push, pull, doctor and run all behave the same::

    @app.command("doctor")
    def doctor_cli(url: UrlOption = None, username: UsernameOption = None) -> None:
        with user_errors():
            settings = connection_settings(url, username)

A password is never an option: it comes from DOCCANO_PASSWORD, the local server's
credentials file, or a hidden prompt when stdin is a terminal.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from annotate.settings import ConnectionSettings, resolve_settings

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Doccano's URL. Default: $DOCCANO_URL, else the local server (`annotate server start`).",
        show_default=False,
    ),
]
UsernameOption = Annotated[
    str | None,
    typer.Option(
        "--username",
        "-u",
        help="Doccano user. Default: $DOCCANO_USERNAME, else the local server's admin. "
        "The password comes from $DOCCANO_PASSWORD, the local server's credentials file or a hidden prompt.",
        show_default=False,
    ),
]


def _prompt(url: str, username: str) -> str:
    """Ask for the password without echoing it."""
    return str(typer.prompt(f"Password for {username} at {url}", hide_input=True, err=True))


def connection_settings(url: str | None, username: str | None) -> ConnectionSettings:
    """Return the settings from the options, the environment, the local server or a prompt.

    The prompt is offered only when stdin is a terminal; otherwise a missing password is an error.
    """
    return resolve_settings(url, username, prompt=_prompt if sys.stdin.isatty() else None)
