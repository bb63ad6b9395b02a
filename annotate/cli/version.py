from __future__ import annotations

import typer

from annotate import __version__
from annotate.cli._app import app


@app.command("version")
def version_cli() -> None:
    """Print the version of annotate, spaCy and doccano-client."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"annotate {__version__}"]
    for dist in ("spacy", "doccano-client"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    typer.echo("\n".join(parts))
