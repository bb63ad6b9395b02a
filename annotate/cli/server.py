"""``annotate server start | stop | status | logs``: a local Doccano on 127.0.0.1 (or ``--host``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import App, app, err, user_errors
from annotate.cli._paths import DATA_FOLDER
from annotate.errors import EXIT_SERVER

server_app = App(help="Run a local Doccano server (own venv, 127.0.0.1 only).", no_args_is_help=True)
app.add_typer(server_app, name="server")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the server keeps its database, logs and credentials. Default: $ANNOTATE_HOME/server.",
        show_default=False,
    ),
    DATA_FOLDER,
]
ShowPasswordOption = Annotated[
    bool, typer.Option("--show-password", help="Also print the admin password from the credentials file.")
]


def _login_lines(data_dir: Path, username: str | None, password: str | None, show: bool) -> None:
    from annotate.settings import CREDENTIALS_FILE

    if username:
        typer.echo(f"user:     {username}")
    if show and password:
        typer.echo(f"password: {password}")
    else:
        typer.echo(f"password: in {data_dir / CREDENTIALS_FILE} (--show-password prints it)")


@server_app.command("start")
def start_cli(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (or --host).")] = 8000,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Bind this IPv4 address instead of 127.0.0.1, to serve a team on a network. "
            "Only that host name is accepted; the admin password is never shown.",
        ),
    ] = "127.0.0.1",
    data_dir: DataDirOption = None,
    task_workers: Annotated[
        int,
        typer.Option(
            "--task-workers",
            min=1,
            help="Celery worker processes: how many imports and exports run at once "
            "(two, as in Doccano's own `doccano task`).",
        ),
    ] = 2,
    show_password: ShowPasswordOption = False,
) -> None:
    """Start Doccano (installing it on first use), wait until it is healthy, print its URL.

    The database is SQLite in the data dir, or $ANNOTATE_DATABASE_URL (e.g. postgresql://...): an
    environment variable only, so that its password never shows in `ps`.
    """
    from annotate.doccano import server
    from annotate.doccano.database_url import ENV_DATABASE_URL
    from annotate.errors import UsageError

    with user_errors():
        host = server.check_host(host)
        if host != server.LOOPBACK:
            if show_password:
                raise UsageError(
                    "--show-password is refused with --host: the admin password is never shown there"
                )
            err(
                f"warning: Doccano will listen on {host}: anyone who can reach it can try to log in. "
                "Give each annotator their own login (`annotate users add`), and serve it only on a trusted "
                "network (plain HTTP: put TLS in front for anything else)."
            )
        info = server.start(
            host=host,
            port=port,
            data_dir=data_dir,
            database_url=os.environ.get(ENV_DATABASE_URL) or None,
            task_workers=task_workers,
            report=lambda message: err(message),
        )
    if info.already_running:
        typer.echo(f"Doccano is already running at {info.url}")
    else:
        typer.echo(f"Doccano is running at {info.url} (ready in {info.seconds:.1f} s)")
    _login_lines(info.data_dir, info.username, info.password, show_password)


@server_app.command("stop")
def stop_cli(data_dir: DataDirOption = None) -> None:
    """Stop the server's processes (exactly those it started)."""
    from annotate.doccano import server

    with user_errors():
        pids = server.stop(data_dir)
    typer.echo(
        f"stopped Doccano (process groups {', '.join(map(str, pids))})"
        if pids
        else "no Doccano server was running"
    )


@server_app.command("status")
def status_cli(data_dir: DataDirOption = None, show_password: ShowPasswordOption = False) -> None:
    """Say whether the server runs and is healthy (exit 3 if not)."""
    from annotate.doccano import server
    from annotate.settings import read_credentials

    with user_errors():
        st = server.status(data_dir)
        creds = read_credentials(st.data_dir) if show_password else None
    if not st.running:
        typer.echo(f"Doccano is not running (data dir {st.data_dir}); start it with `annotate server start`")
        raise typer.Exit(EXIT_SERVER)
    typer.echo(
        f"Doccano {st.doccano_version or ''} at {st.url}: "
        + ("healthy" if st.healthy else f"UNHEALTHY: {st.problem}")
    )
    typer.echo("pids:     " + ", ".join(f"{name} {pid}" for name, pid in st.pids.items()))
    typer.echo(f"data dir: {st.data_dir}")
    typer.echo(f"database: {st.database or 'unknown'}")
    _login_lines(st.data_dir, st.username, creds.password if creds else None, show_password)
    if not st.healthy:
        raise typer.Exit(EXIT_SERVER)


@server_app.command("logs")
def logs_cli(
    data_dir: DataDirOption = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines of each log.")] = 40,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C stops).")
    ] = False,
) -> None:
    """Print the end of the server's logs (web, worker, setup)."""
    from annotate.doccano import server

    files = server.log_files(data_dir)
    if not files:
        typer.echo("no logs yet")
        return
    handles = []
    for path in files:
        typer.echo(f"==> {path} <==")
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f.readlines()[-lines:]:
                typer.echo(line.rstrip("\n"))
        handles.append((path, path.stat().st_size))
    with user_errors():
        while follow:
            time.sleep(0.5)
            for i, (path, offset) in enumerate(handles):
                with open(path, encoding="utf-8", errors="replace") as f:
                    f.seek(offset)
                    new = f.read()
                    handles[i] = (path, f.tell())
                if new:
                    typer.echo(new, nl=False)
