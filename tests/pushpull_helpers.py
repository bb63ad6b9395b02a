"""Helpers for the push/pull tests: synthetic tasks, the re3d recipe, and comparisons at offset level."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from annotate.formats.jsonl import read_records
from annotate.recipe import EntityLabel, Recipe, RelationType, load_recipe
from annotate.records.model import Record, Relation, Span

DATA = Path(__file__).parent / "data"
PUSHPULL = DATA / "pushpull"
RE3D = DATA / "re3d"
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "Zürich",
    "café",
    "naïve",
    "😀",
    "news",
    "report",
    "said",
    "today",
]


def pushpull_recipe() -> Recipe:
    return load_recipe(PUSHPULL / "recipe.toml")


def make_tasks(n: int, *, seed: int = 0, ents: int = 10, rels: int = 2, prefix: str = "doc") -> list[Record]:
    """Return ``n`` synthetic tasks of about ``ents`` non-overlapping entities and ``rels`` relations."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        parts: list[str] = []
        spans: list[Span] = []
        pos = 0
        for j in range(ents):
            filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))) + " "
            parts.append(filler)
            pos += len(filler)
            label = ("PERSON", "GPE", "ORG")[j % 3]
            name = f"{rng.choice(WORDS).title()}{j}"
            parts.append(name)
            spans.append(Span(j, pos, pos + len(name), label))
            pos += len(name)
            parts.append(" ")
            pos += 1
        parts.append("\r\nEnd of report ✓.")
        text = "".join(parts)
        persons = [s for s in spans if s.label == "PERSON"]
        gpes = [s for s in spans if s.label == "GPE"]
        relations = [
            Relation(k, persons[k].id, gpes[k].id, "LOCATED_IN") for k in range(min(rels, len(gpes)))
        ]
        out.append(
            Record(
                text=text,
                doc_id=f"{prefix}-{i:05d}",
                entities=spans,
                relations=relations,
                meta={"n": i, "source": "synthetic", "nested": {"seed": seed}},
            )
        )
    return out


def write_tasks(path: Path, records: list[Record]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        for r in records:
            f.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
    return path


def re3d_tasks(tmp: Path) -> tuple[Path, Recipe]:
    """Return all re3d documents as one task file, and a recipe with their labels.

    The recorded surface strings (``text`` of an entity) of the source data disagree with the
    text in a few places (curly quotes, line breaks), so they are left out; offsets are kept.
    re3d's label names are CamelCase, which recipe files do not allow, so the recipe is built here.
    """
    labels: Counter[str] = Counter()
    types: Counter[str] = Counter()
    lines = []
    for f in sorted(RE3D.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            d: dict[str, Any] = json.loads(line)
            for e in d["entities"]:
                e.pop("text", None)
                labels[e["label"]] += 1
            for r in d["relations"]:
                types[r["type"]] += 1
            lines.append(json.dumps(d, ensure_ascii=False))
    path = tmp / "re3d-tasks.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    recipe = Recipe(
        name="re3d",
        version="1",
        labels=tuple(EntityLabel(name) for name in sorted(labels)),
        relation_types=tuple(RelationType(name) for name in sorted(types)),
        allow_overlapping=True,
        allow_self_loops=True,
    )
    return path, recipe


def annotation_view(rec: Record) -> tuple[Any, ...]:
    """What must survive a round trip: text, meta, spans and relations at offset level."""
    spans = sorted(s.key for s in rec.entities)
    rels = sorted((h.key, t.key, r.label) for h, t, r in rec.relation_triples())
    return rec.text, rec.doc_hash, rec.meta, spans, rels


def read(path: Path) -> list[Record]:
    return [rec for _, rec in read_records(path)]
