from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import app, user_errors
from annotate.cli._paths import INPUT_FILE, INPUT_FILE_OR_STDIN
from annotate.cli.evaluate import Format, undirected_types


@app.command("agreement")
def agreement_cli(
    gold: Annotated[
        list[Path],
        typer.Argument(help="Gold files: one per annotator, or one with `annotator` set."),
        INPUT_FILE_OR_STDIN,
    ],
    lang: Annotated[str, typer.Option("--lang", help="Language for the token-level kappa.")] = "en",
    lowest: Annotated[
        int, typer.Option("--lowest", min=0, help="How many low-agreement documents to list.")
    ] = 10,
    fmt: Annotated[Format, typer.Option("--format", help="Report format on stdout.")] = Format.text,
    recipe: Annotated[
        Path | None,
        typer.Option("--recipe", "-r", help="Recipe whose undirected relation types match both ways."),
        INPUT_FILE,
    ] = None,
) -> None:
    """Inter-annotator agreement: pairwise span/relation F1, token kappa, worst documents."""
    from annotate.quality.agreement import agreement_files, format_text

    with user_errors():
        ag = agreement_files(gold, lang=lang, undirected=undirected_types(recipe))
        if fmt is Format.json:
            typer.echo(json.dumps(ag.to_dict(lowest=lowest), indent=2, ensure_ascii=False))
        else:
            typer.echo(format_text(ag, lowest=lowest), nl=False)
