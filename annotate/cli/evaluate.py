from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._paths import INPUT_FILE, OUTPUT_FILE
from annotate.cli._progress import progress_bar


def undirected_types(recipe: Path | None) -> frozenset[str]:
    """The relation types a recipe declares ``directed = false`` (none without a recipe)."""
    if recipe is None:
        return frozenset()
    from annotate.recipe import load_recipe

    return frozenset(r.name for r in load_recipe(recipe).relation_types if not r.directed)


class Format(str, Enum):
    text = "text"
    json = "json"


@app.command("evaluate")
def evaluate_cli(
    pred: Annotated[Path, typer.Option("--pred", help="Pre-annotated tasks (JSONL), as pushed."), INPUT_FILE],
    gold: Annotated[Path, typer.Option("--gold", help="Corrected gold (JSONL), as pulled."), INPUT_FILE],
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report."), OUTPUT_FILE
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Report format on stdout.")] = Format.text,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the HTML report if it exists.")] = False,
    recipe: Annotated[
        Path | None,
        typer.Option("--recipe", "-r", help="Recipe whose undirected relation types match both ways."),
        INPUT_FILE,
    ] = None,
) -> None:
    """Score pre-annotations against gold: P/R/F1 per label, correction effort, provenance."""
    from annotate.fileio import atomic_write
    from annotate.quality.evaluate import evaluate_files, format_text

    with user_errors():
        with progress_bar("evaluating") as advance:
            ev = evaluate_files(pred, gold, undirected=undirected_types(recipe), progress=advance)
        if html is not None:
            from annotate.quality.report_html import render_report

            with atomic_write(html, force=force) as f:
                f.write(render_report(ev, title=f"{pred.name} vs {gold.name}"))
            err(f"wrote {html}")
        if fmt is Format.json:
            typer.echo(json.dumps(ev.to_dict(), indent=2, ensure_ascii=False))
        else:
            typer.echo(format_text(ev), nl=False)
