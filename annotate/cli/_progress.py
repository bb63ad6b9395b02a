"""Progress bars for long steps: the library reports through a callback, the CLI draws."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Advance = Callable[[int], None]


def _no_progress(n: int = 1) -> None:
    """Draw nothing (no terminal)."""


@contextlib.contextmanager
def progress_bar(label: str, *, total: int | None = None, unit: str = "docs") -> Iterator[Advance]:
    """Yield ``advance(n)``; draw a bar with the rate on stderr when it is a terminal.

    With no terminal (CI, pipes) nothing is drawn, so logs stay clean.
    """
    if not sys.stderr.isatty() or os.environ.get("ANNOTATE_NO_PROGRESS"):
        yield _no_progress
        return
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(label, total=total, rate="")

        def advance(n: int = 1) -> None:
            progress.advance(task, n)
            t = progress.tasks[task]
            speed = t.finished_speed or t.speed
            progress.update(task, rate=f"{speed:,.0f} {unit}/s" if speed else "")

        yield advance
