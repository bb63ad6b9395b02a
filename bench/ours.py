"""Our side of each row: the public library functions of ``annotate`` (in-process) or the CLI (subprocess).

Library calls are used where the server dominates (push, pull) and for validate/export, so the
figure is the implementation's, not the interpreter's start-up. Pre-annotation and the memory rows
run the CLI as a subprocess, against a baseline that is a subprocess too.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from bench.server import Server


def annotate_cmd() -> list[str]:
    """The CLI, run with this interpreter (so the bench needs no ``annotate`` on PATH)."""
    return [sys.executable, "-m", "annotate"]


def preannotate_cmd(articles: Path, out: Path, cfg: Any, *extra: str, model: str | None = None) -> list[str]:
    """``annotate preannotate`` of ``articles`` into ``out`` with the bench's recipe, batch size and
    model (or ``model``), plus ``extra`` options."""
    model = model or cfg.model
    return [
        *annotate_cmd(),
        "preannotate",
        str(articles),
        "--recipe",
        str(cfg.recipe),
        "--out",
        str(out),
        "--force",
        "--batch-size",
        str(cfg.batch_size),
        *(["--model", model] if model else []),
        *extra,
    ]


def load_recipe(path: Path) -> Any:
    from annotate.recipe import load_recipe as _load

    return _load(path)


def connect(server: Server) -> Any:
    from annotate.doccano import connect as _connect
    from annotate.settings import ConnectionSettings

    return _connect(
        ConnectionSettings(
            url=server.url, username=server.username, password=server.password, password_source="env"
        )
    )


def push(api: Any, tasks: Path, project: str, recipe: Any, ledger_dir: Path) -> Any:
    """``annotate.push.push`` into ``project`` (created on the first call); returns its PushReport."""
    from annotate.sync.push import PushOptions
    from annotate.sync.push import push as _push

    return _push(
        api, tasks, project=project, recipe=recipe, options=PushOptions(create=True, ledger_dir=ledger_dir)
    )


def team_push(
    api: Any, tasks: Path, team: str, recipe: Any, annotators: list[str], overlap: int, ledger_dir: Path
) -> Any:
    """``annotate.sync.team_push.team_push`` into a new team; returns its TeamPushReport."""
    from annotate.sync.push import PushOptions
    from annotate.sync.team_push import team_push as _team_push

    return _team_push(
        api,
        tasks,
        project=team,
        recipe=recipe,
        annotators=annotators,
        overlap=overlap,
        options=PushOptions(create=True, ledger_dir=ledger_dir),
    )


def make_users(api: Any, names: list[str]) -> list[str]:
    """Create these users (with throwaway passwords: nobody logs in as them); return the names."""
    import secrets

    for name in names:
        api.create_user(name, secrets.token_urlsafe(15))
    return names


def uploads(report: Any) -> int:
    """How many documents a push sent to the server (new plus replaced)."""
    return int(getattr(report, "pushed", 0)) + int(getattr(report, "updated", 0))


def pull(api: Any, project: str, out: Path) -> Any:
    from annotate.sync.pull import pull as _pull

    return _pull(api, project=project, out=out, force=True)


def validate(path: Path, kind: str, recipe: Any) -> Any:
    from annotate.records.validate import validate_file

    report = validate_file(path, kind=kind, recipe=recipe)
    if not report.ok:
        raise RuntimeError(f"{path}: {report.n_errors} validation error(s), e.g. {report.findings[0]}")
    return report


def export(gold: Path, out_dir: Path, recipe: Any) -> Any:
    from annotate.export import ExportOptions
    from annotate.export import export as _export

    shutil.rmtree(out_dir, ignore_errors=True)
    return _export(gold, out_dir, ExportOptions(to=("spacy",), recipe=recipe, force=True))
