"""The Typer app, and the one place where library errors become messages and exit codes."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from annotate.errors import AnnotateError

app = typer.Typer(
    name="annotate",
    help="Pre-annotate news articles with spaCy, correct them in Doccano, export training data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def err(message: str) -> None:
    """Print a message to stderr (all diagnostics go there; stdout is for data)."""
    typer.echo(message, err=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn an AnnotateError into ``error: [Exxx] message`` plus a hint, and its exit code."""
    try:
        yield
    except AnnotateError as e:
        err(f"error: {e}")
        if e.hint:
            err(f"hint: {e.hint}")
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        err("interrupted")
        raise typer.Exit(130) from None
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); that is not an error of ours.
        sys.stderr.close()
        raise typer.Exit(0) from None


@app.callback()
def _root() -> None:
    """Pre-annotate news articles with spaCy, correct them in Doccano, export training data."""
