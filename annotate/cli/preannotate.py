from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._paths import INPUT_FILE, INPUT_FILES_OR_FOLDERS, OUTPUT_FILE_OR_STDOUT
from annotate.cli._progress import progress_bar


@app.command("preannotate")
def preannotate_cli(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Text/Markdown files, directories, JSONL files, or - for stdin."),
        INPUT_FILES_OR_FOLDERS,
    ],
    recipe: Annotated[
        Path,
        typer.Option("--recipe", "-r", help="The recipe (TOML), e.g. recipes/news.toml."),
        INPUT_FILE,
    ],
    out: Annotated[
        str,
        typer.Option("--out", "-o", help="Where to write the tasks (JSONL); - for stdout."),
        OUTPUT_FILE_OR_STDOUT,
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="A pipeline name or path overriding the recipe's; blank:en for patterns only."
        ),
    ] = None,
    n_process: Annotated[
        int,
        typer.Option(
            "--n-process",
            help="Worker processes running the pipeline (forked, so the model is loaded once); "
            "up to the number of free cores.",
        ),
    ] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Documents per spaCy batch.")] = 32,
    limit: Annotated[int | None, typer.Option("--limit", help="Stop after this many documents.")] = None,
    text_key: Annotated[str, typer.Option("--text-key", help="The text key of JSONL input.")] = "text",
    glob: Annotated[
        str,
        typer.Option(
            "--glob",
            help="Files to read in directories (default: .txt, .md, .jsonl, but no README/LICENSE).",
        ),
    ] = "**/*",
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on the first undecodable, empty or duplicate document.")
    ] = False,
    order: Annotated[
        str,
        typer.Option(
            "--order",
            help="input: as read; uncertainty: most uncertain first (ties by doc_id), "
            "with meta.uncertainty on each record.",
        ),
    ] = "input",
    max_length: Annotated[
        int | None,
        typer.Option(
            "--max-length",
            min=1,
            help="Characters the pipeline takes at once (default: its max_length, 1,000,000 for "
            "spaCy's). A longer document is pre-annotated in pieces split at paragraphs, then "
            "sentences; its meta.pieces says how many.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    """Pre-annotate documents with a recipe's entity sources and relation rules; write tasks JSONL."""
    from annotate.errors import UsageError
    from annotate.formats.jsonl import write_records
    from annotate.nlp.preannotate import format_summary, preannotate
    from annotate.nlp.uncertainty import by_uncertainty
    from annotate.recipe import load_recipe

    with user_errors():
        if order not in ("input", "uncertainty"):
            raise UsageError(f"unknown --order {order!r}", hint="valid orders: input, uncertainty")
        with progress_bar("pre-annotating") as advance:
            run = preannotate(
                inputs,
                load_recipe(recipe),
                model=model,
                n_process=n_process,
                batch_size=batch_size,
                limit=limit,
                text_key=text_key,
                glob=glob,
                strict=strict,
                uncertainty=order == "uncertainty",
                max_length=max_length,
                progress=advance,
            )
            records = by_uncertainty(run.records) if order == "uncertainty" else run.records
            write_records(out, records, force=force)
        err(format_summary(run.summary, out))
