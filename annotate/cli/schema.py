from __future__ import annotations

import typer

from annotate.cli._app import app, user_errors


@app.command("schema")
def schema_cli(
    name: str = typer.Argument(None, help="task, gold, article, recipe or defs; omit to list the names."),
) -> None:
    """Print a published JSON Schema, to feed to your own tools."""
    from annotate.records import schemas

    with user_errors():
        if name is None:
            typer.echo("\n".join(schemas.names()))
            return
        typer.echo(schemas.schema_text(name), nl=False)
