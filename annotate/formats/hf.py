"""Hugging Face token classification: JSONL rows of ``tokens`` and IOB2 ``ner_tags``, plus ``labels.json``.

One row a sentence (``id`` is ``<doc_id>:<n>``), so rows stay within common model lengths.
``labels.json`` lists ``O`` then ``B-``/``I-`` of each label, sorted, the same for every split, so
a tag's index is stable across splits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from annotate.fileio import dumps_line
from annotate.formats.iob import iob_sentences, tally_token_format
from annotate.prepared import PreparedDoc, Tally

FORMAT = "hf"


def tag_names(labels: Sequence[str]) -> list[str]:
    """Return ``["O", "B-A", "I-A", ...]`` for the sorted labels."""
    out = ["O"]
    for label in sorted(set(labels)):
        out += [f"B-{label}", f"I-{label}"]
    return out


def write_split_hf(
    by_split: Mapping[str, Sequence[PreparedDoc]], out_dir: Path, labels: Sequence[str]
) -> Tally:
    """Write ``<split>.jsonl`` and ``labels.json`` in ``out_dir``. Returns the tally."""
    tally = Tally(FORMAT)
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, preps in by_split.items():
        path = out_dir / f"{split}.jsonl"
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for prep in preps:
                tally_token_format(tally, prep)
                for n, sentence in enumerate(iob_sentences(prep)):
                    row = {
                        "id": f"{prep.doc_id}:{n}",
                        "doc_id": prep.doc_id,
                        "tokens": sentence.tokens,
                        "ner_tags": sentence.tags,
                    }
                    f.write(dumps_line(row) + "\n")
        tally.files[split] = path.name
    (out_dir / "labels.json").write_text(json.dumps(tag_names(labels), indent=2) + "\n", encoding="utf-8")
    tally.files["labels"] = "labels.json"
    return tally
