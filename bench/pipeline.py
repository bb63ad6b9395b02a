"""The spaCy pipeline that ``annotate preannotate`` runs, loaded for the raw ``nlp.pipe`` baseline.

The baseline must run the *same* pipeline as ours (the same components enabled, the same entity
patterns), so it loads it the way ``annotate.preannotate.preannotate`` does; only the work around
``nlp.pipe`` (reading, relation rules, records, writing) differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_same_pipeline(recipe_path: str | Path, model: str | None = None) -> Any:
    """Return the ``Language`` object that ``annotate preannotate --recipe recipe_path`` would use."""
    from annotate.nlp.pipelines import load
    from annotate.nlp.relation_rules import build_rules, rules_needs
    from annotate.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    return load(recipe, model=model, needs=rules_needs(build_rules(recipe))).nlp
