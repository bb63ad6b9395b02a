from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._paths import INPUT_FILE, INPUT_FILE_OR_STDIN, OUTPUT_FOLDER
from annotate.cli._progress import progress_bar


class Alignment(str, Enum):
    strict = "strict"
    contract = "contract"
    expand = "expand"


class Overlap(str, Enum):
    longest = "longest"
    priority = "priority"


# The options whose help takes a few lines, named here so that the command reads in a screen.
AlignmentOption = Annotated[
    Alignment,
    typer.Option(
        help="Spans not on token boundaries (token formats): strict refuses them; contract/expand "
        "shrink/grow them to tokens. Every refusal or change is reported in manifest.json."
    ),
]
OverlapOption = Annotated[
    Overlap,
    typer.Option(help="Which overlapping span CoNLL/HF/doc.ents keep: longest, or the recipe's label order."),
]
NProcessOption = Annotated[
    int,
    typer.Option(
        "--n-process",
        help="Worker processes that tokenise and render the documents (forked); the output is "
        "the same as with one.",
    ),
]


@app.command("export")
def export_cli(
    gold: Annotated[
        Path, typer.Argument(help="Gold records (JSONL), as pulled; - for stdin."), INPUT_FILE_OR_STDIN
    ],
    to: Annotated[
        list[str], typer.Option("--to", help="spacy, conll, brat, hf or jsonl; repeat or comma-separate.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory (written atomically)."), OUTPUT_FOLDER],
    split: Annotated[
        str, typer.Option(help="Split names and ratios, by document.")
    ] = "train=0.8,dev=0.1,test=0.1",
    seed: Annotated[int, typer.Option(help="Seed of the hash-based split.")] = 0,
    alignment: AlignmentOption = Alignment.expand,
    overlap: OverlapOption = Overlap.longest,
    only_confirmed: Annotated[
        bool, typer.Option("--only-confirmed", help="Export confirmed records only.")
    ] = False,
    recipe: Annotated[
        Path | None, typer.Option(help="Recipe: tokenizer language and label priority."), INPUT_FILE
    ] = None,
    span_key: Annotated[str, typer.Option(help="doc.spans key for every span in the DocBins.")] = "sc",
    stratify: Annotated[
        bool, typer.Option("--stratify", help="Stratify the split by each doc's rarest label.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the output directory if it exists.")
    ] = False,
    n_process: NProcessOption = 1,
) -> None:
    """Export gold to training formats with document splits; whatever a format cannot hold is reported."""
    from annotate.export import ExportOptions, export, format_summary
    from annotate.recipe import load_recipe

    with user_errors():
        rec = load_recipe(recipe) if recipe is not None else None
        with progress_bar("exporting") as advance:
            options = ExportOptions(
                to=to,
                split=split,
                seed=seed,
                alignment=alignment.value,
                overlap=overlap.value,
                only_confirmed=only_confirmed,
                recipe=rec,
                span_key=span_key,
                stratify=stratify,
                force=force,
                n_process=n_process,
            )
            report = export(gold, out, options, progress=advance)
        err(format_summary(report).rstrip("\n"))
