from __future__ import annotations

import typer

from annotate.cli._app import app, user_errors
from annotate.cli._connection import UrlOption, UsernameOption, connection_settings


@app.command("doctor")
def doctor_cli(url: UrlOption = None, username: UsernameOption = None) -> None:
    """Check the connection to Doccano; print its URL, version, your user and the projects you see."""
    from annotate.doccano.doctor import diagnose

    with user_errors():
        report = diagnose(connection_settings(url, username))
    typer.echo(f"server:   {report.url} (healthy)")
    typer.echo(f"version:  Doccano {report.version or '(not reported by the server)'}")
    typer.echo(f"user:     {report.username}" + (" (admin)" if report.is_superuser else ""))
    typer.echo(f"projects: {len(report.projects)}")
    for p in report.projects:
        typer.echo(f"  {p.id:>5}  {p.name}  [{p.project_type}]")
