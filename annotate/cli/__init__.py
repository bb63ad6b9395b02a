"""The command line: thin Typer commands, one module a verb, each calling one library function."""

from __future__ import annotations

import importlib
import pkgutil

from annotate.cli._app import app, main

# Every public module in this package registers its commands on ``app`` when imported.
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")


__all__ = ["app", "main"]
