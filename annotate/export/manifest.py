"""The manifest of an export (``manifest.json``): options, split, counts, and every report.

For every format its totals add up: spans in = written + reported, and the same for
relations; every reported span or relation is listed with its reason. The manifest holds no
clock, so one input and one set of options give one manifest.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import annotate
from annotate.export.options import ExportOptions
from annotate.export.plan import ExportPlan
from annotate.export.writing import Written
from annotate.formats.prepared import Tally

MANIFEST = "manifest.json"


def build_manifest(
    options: ExportOptions,
    plan: ExportPlan,
    written: Written,
    tallies: Mapping[str, Tally],
    input_info: dict[str, Any] | None,
) -> dict[str, Any]:
    """Return the manifest of an export with ``options`` that followed ``plan``."""
    formats = options.formats
    return {
        "tool": {"name": "annotate", "version": annotate.__version__},
        "input": input_info or {"file": None, "sha256": None},
        "recipe": options.recipe.id if options.recipe is not None else None,
        "options": {
            "formats": list(formats),
            "alignment": options.alignment,
            "overlap": options.overlap,
            "only_confirmed": options.only_confirmed,
            "tokenizer": f"spacy.blank({options.lang!r})",
            "span_key": options.span_key,
        },
        "split": {
            "seed": options.seed,
            "ratios": dict(options.ratios),
            "stratify": options.stratify,
            "by": "sha256 of the document text",
        },
        "counts": {
            "docs": written.docs,
            "excluded_docs": len(plan.excluded),
            "splits": {name: c.to_dict() for name, c in plan.counts.items()},
        },
        "totals": {fmt: tallies[fmt].summary() for fmt in formats},
        "spans_omitted_by_doc": _spans_omitted_by_doc(formats, tallies),
        "not_represented": [o.to_dict() for fmt in formats for o in tallies[fmt].omissions],
        "alignment_changes": written.changes,
        "notes": written.notes,
        "excluded": plan.excluded,
        "warnings": plan.warnings,
    }


def _spans_omitted_by_doc(
    formats: tuple[str, ...], tallies: Mapping[str, Tally]
) -> dict[str, dict[str, int]]:
    """Return, per format, how many spans of each document it could not hold."""
    omitted_by_doc: dict[str, dict[str, int]] = {}
    for fmt in formats:
        per_doc = Counter(o.doc_id for o in tallies[fmt].omissions if o.kind == "span")
        omitted_by_doc[fmt] = dict(sorted(per_doc.items()))
    return omitted_by_doc


def write_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> None:
    """Write ``manifest`` as ``out_dir/manifest.json``."""
    (out_dir / MANIFEST).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
