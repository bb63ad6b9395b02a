from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._paths import INPUT_FILE, INPUT_FILES_OR_FOLDERS, OUTPUT_FILE_OR_STDOUT
from annotate.cli._progress import progress_bar

if TYPE_CHECKING:
    from annotate.nlp.preannotate import BatchSource
    from annotate.recipe import Recipe


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
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            envvar="DASK_SCHEDULER_ADDRESS",
            help="Run the pipeline on a Dask cluster: a scheduler's address (tcp://HOST:PORT), or "
            "local:N for N worker processes on this machine. Needs annotate[dask]; see docs/scale-out.md.",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="With --scheduler: take the batches a killed run left in OUT.parts/ and run only the rest.",
        ),
    ] = False,
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
        the_recipe = load_recipe(recipe)
        uncertainty = order == "uncertainty"
        with _batch_source(
            scheduler, the_recipe, model, uncertainty, out, resume, n_process, max_length
        ) as batches:
            with progress_bar("pre-annotating") as advance:
                run = preannotate(
                    inputs,
                    the_recipe,
                    model=model,
                    n_process=n_process,
                    batch_size=batch_size,
                    limit=limit,
                    text_key=text_key,
                    glob=glob,
                    strict=strict,
                    uncertainty=uncertainty,
                    max_length=max_length,
                    progress=advance,
                    batches=batches,
                )
                records = by_uncertainty(run.records) if uncertainty else run.records
                write_records(out, records, force=force)
        err(format_summary(run.summary, out))


@contextlib.contextmanager
def _batch_source(
    scheduler: str | None,
    recipe: Recipe,
    model: str | None,
    uncertainty: bool,
    out: str,
    resume: bool,
    n_process: int,
    max_length: int | None,
) -> Iterator[BatchSource | None]:
    """Yield the Dask cluster's batch source for --scheduler (printing where it runs), else None."""
    from annotate.errors import UsageError

    if scheduler is None:
        if resume:
            raise UsageError("--resume continues a --scheduler run", hint="add --scheduler")
        yield None
        return
    if n_process != 1:
        raise UsageError("--n-process and --scheduler exclude each other", hint="drop --n-process")
    if resume and out == "-":
        raise UsageError("--resume needs --out FILE: the batches done are kept beside it")
    from annotate.nlp.distributed import on_cluster

    with on_cluster(
        scheduler,
        recipe,
        model=model,
        uncertainty=uncertainty,
        max_length=max_length,
        out=out,
        resume=resume,
    ) as source:
        c = source.cluster
        err(f"dask: {c.workers} workers, {c.threads} threads at {c.address}")
        if c.dashboard:
            err(f"dask dashboard: {c.dashboard}")
        yield source
        if source.leftovers:
            err(f"resumed: removed the partial output the killed run left ({source.leftovers} temp file(s))")
        if source.done is not None and source.done.reused:
            err(f"resumed: {source.done.reused} batches taken from {source.done.folder}")
