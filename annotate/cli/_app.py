"""The Typer app, and the one place where library errors become messages and exit codes.

Three layers keep a user from ever meeting a raw traceback:

- every command's path arguments are checked before it runs (:class:`CheckedCommand`, with
  the roles of :mod:`annotate.cli._paths`);
- inside a command, :func:`user_errors` turns an ``AnnotateError`` into ``error: [Exxx] ...``
  and its exit code;
- :func:`main` turns any other exception that escapes into one ``[E900] internal error`` line
  (the traceback with ``--debug`` or ``ANNOTATE_DEBUG=1``), exit 4.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand

from annotate.cli._paths import check_paths, path_roles
from annotate.errors import EXIT_INTERNAL, AnnotateError

DEBUG_ENV = "ANNOTATE_DEBUG"
_debug = False  # set by --debug


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


def _option_name(param: Any) -> str:
    """The name a user typed for a parameter: its long option, or an argument's metavar."""
    if isinstance(param, TyperArgument):
        return str(param.name).upper()
    longs = [o for o in param.opts if o.startswith("--")]
    return max(longs, key=len) if longs else str(param.name)


class CheckedCommand(TyperCommand):
    """A command whose path arguments are checked (see ``annotate.cli._paths``) before it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path_roles = path_roles(self.callback) if self.callback is not None else {}
        for param in self.params:
            # Click's own readability check of a Path would answer first, in a box of its own.
            if param.name in self.path_roles and hasattr(param.type, "readable"):
                param.type.readable = False

    def invoke(self, ctx: Any) -> Any:
        names = {p.name: _option_name(p) for p in self.params if p.name}
        with user_errors():
            check_paths(self.path_roles, ctx.params, names)
        return super().invoke(ctx)


class App(typer.Typer):
    """``typer.Typer`` whose commands are :class:`CheckedCommand`s, for the app and its sub-apps."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        kwargs.setdefault("cls", CheckedCommand)
        return super().command(*args, **kwargs)


app = App(
    name="annotate",
    help="Pre-annotate news articles with spaCy, correct them in Doccano, export training data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar=DEBUG_ENV, help="Show the traceback of an internal error (or ANNOTATE_DEBUG=1)."
        ),
    ] = False,
) -> None:
    """Pre-annotate news articles with spaCy, correct them in Doccano, export training data."""
    global _debug
    _debug = debug


def main() -> None:
    """Run the app; an exception no command expected becomes one line asking for a report."""
    try:
        app()
    except Exception as e:  # SystemExit and KeyboardInterrupt are not Exceptions: they pass
        _internal_error(e)


def _internal_error(e: Exception) -> None:
    if _debug or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes"):
        traceback.print_exception(e)
    lines = str(e).strip().splitlines()
    message = f"{type(e).__name__}: {lines[0][:300]}" if lines else type(e).__name__
    err(
        f"error: [E900] internal error: {message}. This is a bug in annotate: please report it, "
        f"with the output of the same command run with --debug (or {DEBUG_ENV}=1)."
    )
    sys.exit(EXIT_INTERNAL)
