"""``annotate run``: the main job, from a corpus folder to training data and a quality report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._connection import UrlOption, UsernameOption, connection_settings
from annotate.cli._paths import INPUT_FILE, INPUT_FOLDER, WORK_FOLDER
from annotate.cli._progress import progress_bar
from annotate.run import Login


def _should_wait(no_wait: bool) -> bool:
    """Wait for the person only when someone can press Enter: not in CI, not without a terminal."""
    return not no_wait and os.environ.get("CI", "").lower() != "true" and sys.stdin.isatty()


def _show_login(login: Login) -> None:
    typer.echo(f"Correct the annotations at: {login.project_url}")
    err(f"  log in as {login.username}; the password is {login.password_hint}")


def _wait_for_corrections(login: Login) -> None:
    err("Correct the pre-annotations in Doccano and mark each document done (the tick button),")
    err("then press Enter here to pull, validate, export and evaluate (Ctrl-C stops; nothing is lost).")
    input()


@app.command("run")
def run_cli(
    corpus: Annotated[Path, typer.Argument(help="Folder of .txt documents."), INPUT_FOLDER] = Path("corpus"),
    recipe: Annotated[Path, typer.Option("--recipe", "-r", help="The recipe (TOML)."), INPUT_FILE] = Path(
        "recipes/news.toml"
    ),
    project: Annotated[
        str | None, typer.Option("--project", help="Doccano project. Default: <recipe>-<corpus folder>.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for every output."), WORK_FOLDER] = Path(
        "out"
    ),
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Do not wait for corrections (implied when CI=true or no terminal)."),
    ] = False,
    port: Annotated[int | None, typer.Option("--port", help="Port of the local server.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace earlier outputs in --out.")] = False,
    url: UrlOption = None,
    username: UsernameOption = None,
) -> None:
    """Pre-annotate CORPUS, push it to Doccano, then pull, validate, export and evaluate.

    Without --url (or $DOCCANO_URL) it starts the local Doccano server.
    """
    from annotate.run import Hooks, run

    with user_errors():
        external = url or os.environ.get("DOCCANO_URL")
        settings = connection_settings(url, username) if external else None
        hooks = Hooks(
            say=err,
            step=lambda label, total: progress_bar(label, total=total),
            ready=_show_login,
            wait=_wait_for_corrections if _should_wait(no_wait) else None,
        )
        report = run(
            corpus,
            recipe_path=recipe,
            project=project,
            out_dir=out,
            settings=settings,
            server_port=port,
            force=force,
            hooks=hooks,
        )
    o = report.outputs
    err("")
    for what, path in (
        ("tasks (pre-annotated)", o.tasks),
        ("gold (pulled)", o.gold),
        ("validation", o.validation),
        ("training data (spacy, conll, brat)", o.export_dir),
        ("quality report", o.report_html),
        ("evaluation (JSON)", o.evaluation),
    ):
        typer.echo(f"{what + ':':38} {path}")
    if report.login is not None and report.login.local_server:
        err(f"Doccano keeps running at {report.login.url}; `annotate server stop` stops it.")
