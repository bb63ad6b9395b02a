from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._paths import INPUT_FILE, OUTPUT_FOLDER
from annotate.cli._progress import progress_bar

if TYPE_CHECKING:
    from annotate.recipe import Recipe


@app.command("train")
def train_cli(
    gold: Annotated[Path, typer.Argument(help="Gold records (JSONL), as pulled."), INPUT_FILE],
    recipe: Annotated[
        Path, typer.Option("--recipe", "-r", help="The recipe (TOML): labels and language."), INPUT_FILE
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory; model-best is the pipeline."), OUTPUT_FOLDER
    ],
    base: Annotated[
        str | None,
        typer.Option("--base", help="Fine-tune the NER of this pipeline instead of starting blank."),
    ] = None,
    max_steps: Annotated[int, typer.Option("--max-steps", min=1, help="Training steps (batches).")] = 1000,
    dev: Annotated[
        float,
        typer.Option(
            "--dev",
            help="Share of documents held out to pick model-best; 0 trains on all of them "
            "(choose the settings on a dev split first, then use model-last).",
        ),
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the split and the training.")] = 0,
    curve: Annotated[
        bool,
        typer.Option(
            "--curve",
            help="Train on 25, 50, 75 and 100 % of the training split (the same dev split) and "
            "report whether more gold still helps.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the output directory if it exists.")
    ] = False,
) -> None:
    """Train a spaCy NER pipeline on gold; the recipe can name it for the next pre-annotation."""
    from annotate.quality.train import format_summary, train
    from annotate.recipe import load_recipe

    with user_errors():
        r = load_recipe(recipe)
        if curve:
            _curve(gold, r, out, base=base, max_steps=max_steps, dev=dev, seed=seed, force=force)
            return
        # spaCy's loop runs steps 0 to max_steps inclusive.
        with progress_bar("training", total=max_steps + 1, unit="steps") as advance:
            result = train(
                gold,
                r,
                out,
                base=base,
                max_steps=max_steps,
                dev=dev,
                seed=seed,
                force=force,
                progress=advance,
            )
        err(format_summary(result).rstrip("\n"))


def _curve(gold: Path, recipe: Recipe, out: Path, *, max_steps: int, **options: Any) -> None:
    """Train the curve's steps and print its table."""
    from annotate.quality.curve import FRACTIONS, format_curve, train_curve

    with progress_bar("training curve", total=len(FRACTIONS) * (max_steps + 1), unit="steps") as advance:
        result = train_curve(gold, recipe, out, max_steps=max_steps, progress=advance, **options)
    err(format_curve(result).rstrip("\n"))
