"""Recipes: one TOML file that declares a whole annotation task.

The data model is :mod:`annotate.recipe.model`, reading and checking a file
:mod:`annotate.recipe.load` (its JSON Schema is ``schemas/recipe.schema.json``), and the
relation-rule kinds a recipe may declare, with their checks, :mod:`annotate.recipe.rules`.
"""

from annotate.recipe.load import CONFLICT_POLICIES, SOURCE_KINDS, load_recipe
from annotate.recipe.model import (
    BLANK_PREFIX,
    EntityLabel,
    PipelineSource,
    Recipe,
    RelationType,
    recipe_label_of,
)

__all__ = [
    "BLANK_PREFIX",
    "CONFLICT_POLICIES",
    "SOURCE_KINDS",
    "EntityLabel",
    "PipelineSource",
    "Recipe",
    "RelationType",
    "load_recipe",
    "recipe_label_of",
]
