"""The recipe's data model: labels, relation types, entity sources, and the recipe itself.

Plain frozen dataclasses, built by :func:`annotate.recipe.load.load_recipe` (or by hand in
code and tests). The relation rules are held as declared (``[[rules]]`` tables); the kinds
and their checks are :mod:`annotate.recipe.rules`, the engine that runs them is
:mod:`annotate.nlp.relation_rules`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A pipeline name ``blank:<lang>`` is spaCy's blank pipeline for that language.
BLANK_PREFIX = "blank:"


@dataclass(frozen=True)
class EntityLabel:
    name: str
    description: str = ""
    color: str = "#209cee"
    shortcut: str | None = None


@dataclass(frozen=True)
class RelationType:
    name: str
    description: str = ""
    color: str = "#ff3860"
    directed: bool = True
    # Allowed (head label, tail label) pairs; empty means any pair.
    allowed: tuple[tuple[str, str], ...] = ()

    def allows(self, head_label: str, tail_label: str) -> bool:
        if not self.allowed:
            return True
        if (head_label, tail_label) in self.allowed:
            return True
        return not self.directed and (tail_label, head_label) in self.allowed


@dataclass(frozen=True)
class PipelineSource:
    """A spaCy pipeline entity source: the first installed name of ``names`` is used."""

    names: tuple[str, ...]
    label_map: dict[str, str] = field(default_factory=dict)


def recipe_label_of(model_label: str, label_map: Mapping[str, str], labels: Collection[str]) -> str | None:
    """Return the recipe label of a pipeline's label, or None when the recipe does not take it.

    The label map decides for the labels it names; a label it does not name is taken as itself
    when it is a recipe label (what ``annotate train --base`` writes for recipe labels the base
    pipeline had none for), and dropped otherwise.
    """
    if model_label in label_map:
        return label_map[model_label]
    return model_label if model_label in labels else None


@dataclass(frozen=True)
class Recipe:
    name: str
    version: str
    lang: str = "en"
    description: str = ""
    labels: tuple[EntityLabel, ...] = ()
    relation_types: tuple[RelationType, ...] = ()
    allow_overlapping: bool = False
    allow_self_loops: bool = False
    # Entity sources, in the order they are applied, and how a conflict is settled.
    pipeline: PipelineSource | None = None
    patterns: tuple[Path, ...] = ()
    conflict_policy: str = "first"
    # Relation rules as declared (dicts with a "kind" of annotate.recipe.rules).
    relation_rules: tuple[dict[str, Any], ...] = ()
    path: Path | None = None
    # The order in which entity sources are applied ("patterns", "pipeline").
    source_order: tuple[str, ...] = ("patterns", "pipeline")

    @property
    def id(self) -> str:
        """``name@version``, as recorded in every task's meta."""
        return f"{self.name}@{self.version}"

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @property
    def relation_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.relation_types)

    def relation_type(self, name: str) -> RelationType | None:
        for r in self.relation_types:
            if r.name == name:
                return r
        return None

    def pattern_source(self, file: Path) -> str:
        """Return the provenance of spans from pattern ``file``: ``pattern:<path relative to the recipe>``.

        Relative, so that the output does not depend on where the recipe is checked out.
        """
        if self.path is not None:
            try:
                return "pattern:" + file.resolve().relative_to(self.path.resolve().parent).as_posix()
            except ValueError:
                pass
        return f"pattern:{file.name}"
