"""Reading and checking a recipe file (TOML): :func:`load_recipe`.

The schema (``schemas/recipe.schema.json``) first, then the cross-references, in the file's
order: names unique, labels of relations, label maps and pattern files declared, pattern files
readable, the source order consistent, and every rule a valid declaration of its kind
(:mod:`annotate.recipe.rules`). The first problem is a ConfigError naming the file and the JSON
path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotate.errors import ConfigError, location
from annotate.recipe.model import BLANK_PREFIX, EntityLabel, PipelineSource, Recipe, RelationType
from annotate.recipe.rules import check_rules

SOURCE_KINDS = ("patterns", "pipeline")
CONFLICT_POLICIES = ("first", "longest", "preset")


def _config_error(
    path: Path, pointer: str, message: str, *, hint: str | None = None, code: str = "E212"
) -> ConfigError:
    return ConfigError(f"{location(str(path), None, pointer)}: {message}", hint=hint, code=code)


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with open(path, "rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such recipe file", code="E211") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a recipe file", code="E211") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}", code="E211") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8: {e.reason}", code="E211") from None
    return data


def _pointer(parts: Any) -> str:
    """Return a JSON pointer (``/rules/0/kind``) for a jsonschema error path."""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _check_schema(path: Path, data: dict[str, Any]) -> None:
    from annotate.records.schemas import validator

    errors = sorted(
        validator("recipe").iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message)
    )
    if errors:
        lines = [f"{_pointer(e.absolute_path)}: {e.message}" for e in errors]
        raise ConfigError(
            f"{path}: the recipe does not match schemas/recipe.schema.json:\n  " + "\n  ".join(lines),
            hint="see recipes/news.toml for a complete example",
            code="E211",
        )


def _is_path_like(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".")


def _check_duplicates(path: Path, items: list[dict[str, Any]], where: str, what: str) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        name = item["name"]
        if name in seen:
            raise _config_error(
                path, f"/{where}/{i}/name", f"duplicate {what} {name!r} (first at /{where}/{seen[name]})"
            )
        seen[name] = i


def _check_pattern_file(path: Path, pointer: str, file: Path, labels: set[str]) -> None:
    """Check that a pattern file exists and that every line is a pattern with a recipe label."""
    import json

    if not file.is_file():
        raise _config_error(path, pointer, f"pattern file {file} does not exist", code="E214")
    try:
        with open(file, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                where = f"{pointer} ({file}:{lineno})"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise _config_error(path, where, f"invalid JSON: {e.msg}", code="E214") from None
                if not isinstance(obj, dict) or "label" not in obj or "pattern" not in obj:
                    raise _config_error(
                        path,
                        where,
                        "a pattern line needs 'label' and 'pattern' (EntityRuler JSONL)",
                        code="E214",
                    )
                if not isinstance(obj["pattern"], (str, list)) or not obj["pattern"]:
                    raise _config_error(
                        path, where, "'pattern' must be a string or a list of token dicts", code="E214"
                    )
                if obj["label"] not in labels:
                    raise _unknown_label(
                        path, where, f"unknown label {obj['label']!r} in a pattern", labels, code="E214"
                    )
    except UnicodeDecodeError as e:
        raise _config_error(
            path, pointer, f"pattern file {file} is not UTF-8: {e.reason}", code="E214"
        ) from None


def load_recipe(path: str | Path) -> Recipe:
    """Read, check and return the recipe at ``path`` (TOML).

    Checks the schema (``schemas/recipe.schema.json``) first, then the cross-references:
    labels used by relations, label maps, pattern files and rules must be declared, names
    must be unique, pattern files must exist, and every rule must be a valid declaration of
    its kind. Every problem is a ConfigError naming the file and the JSON path.
    """
    path = Path(path)
    data = _read_toml(path)
    _check_schema(path, data)
    base = path.resolve().parent

    _check_duplicates(path, data["labels"], "labels", "label")
    _check_duplicates(path, data.get("relations", []), "relations", "relation type")
    _check_duplicates(path, data.get("rules", []), "rules", "rule")
    labels = _labels(path, data["labels"])
    label_set = {label.name for label in labels}
    relation_types = _relation_types(path, data.get("relations", []), label_set)
    entities = data.get("entities", {})
    pipeline = _pipeline(path, entities["pipeline"], label_set, base) if "pipeline" in entities else None
    patterns = _pattern_files(path, entities, label_set, base)
    order = _source_order(path, entities)

    recipe = Recipe(
        name=data["name"],
        version=data["version"],
        lang=data.get("lang", "en"),
        description=data.get("description", ""),
        labels=labels,
        relation_types=relation_types,
        allow_overlapping=data.get("allow_overlapping", False),
        allow_self_loops=data.get("allow_self_loops", False),
        pipeline=pipeline,
        patterns=patterns,
        conflict_policy=entities.get("conflict", "longest"),
        relation_rules=tuple(data.get("rules", [])),
        path=path,
        source_order=order,
    )
    check_rules(recipe)
    return recipe


def _unknown_label(
    path: Path, pointer: str, message: str, labels: set[str], *, code: str = "E212"
) -> ConfigError:
    return _config_error(
        path, pointer, message, hint=f"labels of this recipe: {', '.join(sorted(labels))}", code=code
    )


def _labels(path: Path, declared: list[dict[str, Any]]) -> tuple[EntityLabel, ...]:
    """Return the entity labels, each keyboard shortcut used once."""
    labels = tuple(
        EntityLabel(
            name=d["name"],
            description=d.get("description", ""),
            color=d.get("color", EntityLabel.color),
            shortcut=d.get("shortcut"),
        )
        for d in declared
    )
    shortcuts: dict[str, str] = {}
    for i, label in enumerate(labels):
        if label.shortcut is not None:
            if label.shortcut in shortcuts:
                raise _config_error(
                    path,
                    f"/labels/{i}/shortcut",
                    f"shortcut {label.shortcut!r} is already used by {shortcuts[label.shortcut]}",
                )
            shortcuts[label.shortcut] = label.name
    return labels


def _relation_types(path: Path, declared: list[dict[str, Any]], labels: set[str]) -> tuple[RelationType, ...]:
    """Return the relation types, each allowed pair made of declared labels."""
    relation_types = []
    for i, d in enumerate(declared):
        for j, pair in enumerate(d.get("allowed", [])):
            for k, name in enumerate(pair):
                if name not in labels:
                    raise _unknown_label(
                        path,
                        f"/relations/{i}/allowed/{j}/{k}",
                        f"unknown label {name!r} in the allowed pairs of {d['name']}",
                        labels,
                    )
        relation_types.append(
            RelationType(
                name=d["name"],
                description=d.get("description", ""),
                color=d.get("color", RelationType.color),
                directed=d.get("directed", True),
                allowed=tuple((a, b) for a, b in d.get("allowed", [])),
            )
        )
    return tuple(relation_types)


def _pipeline(path: Path, declared: dict[str, Any], labels: set[str], base: Path) -> PipelineSource:
    """Return the pipeline source: its label map onto declared labels, paths resolved."""
    for src, dst in declared.get("label_map", {}).items():
        if dst not in labels:
            raise _unknown_label(
                path, f"/entities/pipeline/label_map/{src}", f"unknown label {dst!r} in the label map", labels
            )
    names = []
    for name in declared["names"]:
        # A path names a pipeline directory relative to the recipe file.
        names.append(
            str((base / name).resolve())
            if _is_path_like(name) and not name.startswith(BLANK_PREFIX)
            else name
        )
    return PipelineSource(names=tuple(names), label_map=dict(declared.get("label_map", {})))


def _pattern_files(path: Path, entities: dict[str, Any], labels: set[str], base: Path) -> tuple[Path, ...]:
    """Return the pattern files, resolved against the recipe's folder, each checked."""
    patterns: list[Path] = []
    for i, file in enumerate(entities.get("patterns", {}).get("files", [])):
        resolved = (base / file).resolve()
        _check_pattern_file(path, f"/entities/patterns/files/{i}", resolved, labels)
        patterns.append(resolved)
    return tuple(patterns)


def _source_order(path: Path, entities: dict[str, Any]) -> tuple[str, ...]:
    """Return the order of the entity sources: declared ones only, patterns first for 'preset'."""
    order = tuple(entities.get("order", [k for k in SOURCE_KINDS if k in entities]))
    for i, kind in enumerate(order):
        if kind not in entities:
            raise _config_error(
                path, f"/entities/order/{i}", f"source {kind!r} is in the order but not declared"
            )
    if entities.get("conflict") == "preset" and order[:1] != ("patterns",):
        raise _config_error(
            path,
            "/entities/conflict",
            "'preset' sets the patterns before the pipeline: order must start with patterns",
        )
    return order
