"""The published JSON Schemas (``schemas/*.schema.json``): find them, load them, build validators.

The schemas live in the top-level ``schemas/`` directory of the project (the package is
installed editable, or run from the repository). They reference each other by ``$id``
through a local ``referencing`` registry, so nothing is ever fetched from the network.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from annotate.errors import ConfigError, UsageError

SUFFIX = ".schema.json"
# Overrides the schema directory (e.g. for a non-editable install that ships them elsewhere).
ENV_DIR = "ANNOTATE_SCHEMAS"


def schema_dir() -> Path:
    """Return the directory holding ``*.schema.json``."""
    env = os.environ.get(ENV_DIR)
    candidates = [Path(env)] if env else []
    package = Path(__file__).resolve().parent.parent
    # The repository layout (editable install), then the copy a wheel ships as annotate/_schemas.
    candidates += [package.parent / "schemas", package / "_schemas"]
    for c in candidates:
        if c.is_dir() and any(c.glob(f"*{SUFFIX}")):
            return c
    raise ConfigError(
        "cannot find the schemas/ directory of annotate",
        hint=f"install annotate from its repository (pip install -e .) or set {ENV_DIR}",
    )


def names() -> list[str]:
    """Return the schema names (``task``, ``gold``, ...), sorted."""
    return sorted(p.name[: -len(SUFFIX)] for p in schema_dir().glob(f"*{SUFFIX}"))


def schema_path(name: str) -> Path:
    """Return the file of schema ``name``; UsageError listing the valid names if unknown."""
    path = schema_dir() / f"{name}{SUFFIX}"
    if not path.is_file():
        raise UsageError(f"no schema named {name!r}", hint=f"valid names: {', '.join(names())}")
    return path


@functools.cache
def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def load_schema(name: str) -> dict[str, Any]:
    """Return schema ``name`` as a dict (shared; do not mutate)."""
    return _load(str(schema_path(name)))


def schema_text(name: str) -> str:
    """Return schema ``name`` exactly as published."""
    return schema_path(name).read_text(encoding="utf-8")


def registry() -> Registry:
    """Return a registry holding every schema under its ``$id``, for offline ``$ref`` resolution."""
    resources = []
    for n in names():
        schema = load_schema(n)
        resources.append((schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


@functools.cache
def _validator(name: str, directory: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry())


def validator(name: str) -> Draft202012Validator:
    """Return a (cached) validator for schema ``name``, its ``$ref``s resolved locally."""
    return _validator(name, str(schema_dir()))
