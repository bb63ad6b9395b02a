"""``--from auto``: which source a set of inputs is, from their content, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from annotate.errors import UsageError
from annotate.records import doccano_forms

PEEK = 1 << 16
PRODIGY_KEYS = {"_input_hash", "_task_hash", "answer", "spans"}


def detect(inputs: tuple[Path, ...]) -> tuple[str, str]:
    """Return ``(source, reason)`` for the inputs (all must agree); UsageError when unclear."""
    found = {path: detect_one(path) for path in inputs}
    sources = {s for s, _ in found.values()}
    if len(sources) != 1:
        listed = ", ".join(f"{p}: {s}" for p, (s, _) in found.items())
        raise UsageError(
            f"the inputs are of different formats ({listed})", hint="convert them one format at a time"
        )
    path, (source, reason) = next(iter(found.items()))
    return source, reason if len(found) == 1 else f"{reason} (and {len(found) - 1} more inputs alike)"


def detect_one(path: Path) -> tuple[str, str]:
    """Return ``(source, reason)`` for one input."""
    suffix = path.suffix.lower()
    if path.is_dir():
        if any(path.rglob("*.ann")):
            return "brat", f"{path} is a folder of .ann files"
        raise UsageError(f"{path}: a folder without .ann files", hint="name a source with --from")
    if suffix in (".ann", ".txt") and path.with_suffix(".ann").exists():
        return "brat", f"{path.name} has a .ann file beside it"
    if suffix == ".zip":
        return "doccano", f"{path.name} is a zip file (Doccano's export)"
    head = path.read_bytes()[:PEEK].decode("utf-8", "replace").lstrip("\ufeff")
    stripped = head.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        return json_source(path, stripped)
    return conll_source(path, head)


def json_source(path: Path, head: str) -> tuple[str, str]:
    """Return the source of a JSON or JSONL file by the keys of its first record."""
    first = first_object(path, head)
    if not isinstance(first, dict):
        raise UsageError(
            f"{path}: cannot tell its format from its first record", hint="name a source with --from"
        )
    keys = set(first)
    if "data" in keys and ({"annotations", "predictions"} & keys or "id" in keys):
        return "label-studio", f"{path.name}: tasks with data and annotations (Label Studio)"
    if keys & PRODIGY_KEYS:
        return (
            "prodigy",
            f"{path.name}: records with {', '.join(sorted(keys & PRODIGY_KEYS))} (Prodigy)",
        )
    if "text" in keys and keys & {"label", "entities"}:
        return (
            "doccano",
            f"{path.name}: records with text and {'label' if 'label' in keys else 'entities'} (Doccano)",
        )
    raise UsageError(
        f"{path}: cannot tell its format from the keys {sorted(keys)}", hint="name a source with --from"
    )


def first_object(path: Path, head: str) -> Any:
    """Return the first record of a JSON document (an array or one object) or a JSONL file, or None."""
    try:
        if head.startswith("[") or path.suffix.lower() == ".json":
            data = json.loads(path.read_text("utf-8"))
            if isinstance(data, list):
                return data[0] if data else None
            return data
        return json.loads(head.splitlines()[0])
    except (json.JSONDecodeError, IndexError, UnicodeDecodeError):
        return None


def conll_source(path: Path, head: str) -> tuple[str, str]:
    """Return ``conll`` for a token-per-line file."""
    lines = [line for line in head.splitlines()[:50] if line.strip()]
    if lines and all(len(line.split()) >= 2 or line.startswith("-DOCSTART-") for line in lines):
        if doccano_forms.is_conll_path(path) and all(line.count("\t") == 1 for line in lines):
            return "doccano", f"{path.name}: token TAB tag lines in a .conll file (Doccano's CoNLL)"
        return "conll", f"{path.name}: one token and its tag a line (CoNLL)"
    raise UsageError(f"{path}: cannot tell its format from its content", hint="name a source with --from")
