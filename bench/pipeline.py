"""The spaCy pipeline that ``annotate preannotate`` runs, loaded for the raw ``nlp.pipe`` baseline.

The baseline must run the *same* pipeline as ours (the same components enabled, the same entity
patterns), so it loads it the way ``annotate.preannotate.preannotate`` does; only the work around
``nlp.pipe`` (reading, relation rules, records, writing) differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# A stand-alone script: load the pipeline exactly as ours does and run nlp.pipe over the texts,
# keeping each doc's entities so that the work is not optimised away.
NLP_PIPE_SCRIPT = r"""
import json, sys
batch_size = int(sys.argv[2])
from bench.pipeline import load_same_pipeline
nlp = load_same_pipeline(sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
texts = (json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8"))
n = ents = 0
for doc in nlp.pipe(texts, batch_size=batch_size):
    n += 1
    ents += len(doc.ents)
print(json.dumps({"docs": n, "ents": ents}))
"""


def load_same_pipeline(recipe_path: str | Path, model: str | None = None) -> Any:
    """Return the ``Language`` object that ``annotate preannotate --recipe recipe_path`` would use."""
    from annotate.nlp.pipelines import load
    from annotate.nlp.relation_rules import build_rules, rules_needs
    from annotate.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    return load(recipe, model=model, needs=rules_needs(build_rules(recipe))).nlp
