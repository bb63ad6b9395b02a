from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._paths import INPUT_FILE, INPUT_FILES_OR_FOLDERS, OUTPUT_FILE, OUTPUT_FILE_OR_STDOUT


@app.command("convert")
def convert_cli(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Files or folders of the source tool; - is stdin."),
        INPUT_FILES_OR_FOLDERS,
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="The records (JSONL), written atomically; - is stdout."),
        OUTPUT_FILE_OR_STDOUT,
    ],
    source: Annotated[
        str, typer.Option("--from", help="doccano, prodigy, label-studio, brat, conll, or auto.")
    ] = "auto",
    report: Annotated[
        Path | None,
        typer.Option(help="Write a JSON file listing each item skipped or repaired."),
        OUTPUT_FILE,
    ] = None,
    label_map: Annotated[
        Path | None,
        typer.Option("--label-map", help='A JSON object renaming labels: {"PER": "PERSON"}.'),
        INPUT_FILE,
    ] = None,
    predictions: Annotated[
        bool, typer.Option("--predictions", help="label-studio: read the predictions, not the annotations.")
    ] = False,
    scheme: Annotated[str | None, typer.Option(help="conll: IOB1 or IOB2 (guessed if not given).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output files.")] = False,
) -> None:
    """Convert another tool's annotations into records, counting every item not carried over."""
    from annotate.convert.convert import convert
    from annotate.convert.options import ConvertOptions
    from annotate.errors import UsageError

    with user_errors():
        if scheme is not None and scheme not in ("IOB1", "IOB2"):
            raise UsageError(f"--scheme must be IOB1 or IOB2, not {scheme!r}")
        options = ConvertOptions(
            inputs=tuple(inputs),
            source=source,
            out=out,
            report=report,
            label_map=label_map,
            force=force,
            predictions=predictions,
            scheme=scheme,
        )
        summary = convert(options)
        for line in summary.lines():
            err(line)
