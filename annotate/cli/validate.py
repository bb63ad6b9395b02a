from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from annotate.cli._app import app, user_errors
from annotate.cli._paths import INPUT_FILE, INPUT_FILE_OR_STDIN
from annotate.cli._progress import progress_bar
from annotate.errors import UsageError


@app.command("validate")
def validate_cli(
    files: Annotated[
        list[str],
        typer.Argument(help="JSONL files (.json documents, .toml recipes); - is stdin."),
        INPUT_FILE_OR_STDIN,
    ],
    kind: Annotated[
        str | None, typer.Option(help="task, gold, article or recipe (detected if not given).")
    ] = None,
    recipe: Annotated[
        Path | None, typer.Option(help="Check labels, relation types and tokens against it."), INPUT_FILE
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    max_errors: Annotated[int | None, typer.Option(min=1, help="Stop after this many errors.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
) -> None:
    """Check records against the schemas and the semantic checks; exit 1 if any is invalid."""
    from annotate.records import validate as v

    with user_errors():
        if kind is not None and kind not in v.KINDS:
            raise UsageError(f"--kind must be one of {', '.join(v.KINDS)}, not {kind!r}")
        if fmt not in ("text", "json"):
            raise UsageError(f"--format must be text or json, not {fmt!r}")
        rec = _load_recipe(recipe) if recipe is not None else None
        with progress_bar("validating", unit="records") as advance:
            reports = v.validate_paths(files, kind=kind, recipe=rec, max_errors=max_errors, progress=advance)
        typer.echo(
            v.render_json(reports, strict=strict) if fmt == "json" else v.render_text(reports, strict=strict)
        )
        if not all(r.passed(strict=strict) for r in reports):
            raise typer.Exit(1)


def _load_recipe(path: Path) -> Any:
    from annotate import recipe as recipe_mod

    load = getattr(recipe_mod, "load_recipe", None)
    if load is None:
        raise UsageError("this version of annotate cannot load recipe files yet")
    return load(path)
