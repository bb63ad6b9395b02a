"""Hugging Face token classification: JSONL rows of ``tokens`` and IOB2 ``ner_tags``, plus ``labels.json``.

One row a sentence (``id`` is ``<doc_id>:<n>``), so rows stay within common model lengths.
``labels.json`` lists ``O`` then ``B-``/``I-`` of each label, sorted, the same for every split, so
a tag's index is stable across splits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from annotate.fileio import dumps_line
from annotate.formats.iob import iob_sentences, tally_token_format
from annotate.formats.prepared import PreparedDoc, SplitFiles, Tally

FORMAT = "hf"


def tag_names(labels: Sequence[str]) -> list[str]:
    """Return ``["O", "B-A", "I-A", ...]`` for the sorted labels."""
    out = ["O"]
    for label in sorted(set(labels)):
        out += [f"B-{label}", f"I-{label}"]
    return out


class HfWriter(SplitFiles):
    """Write ``<split>.jsonl`` for each split as documents come, and ``labels.json`` at ``finish()``."""

    def __init__(self, out_dir: Path, splits: Sequence[str], labels: Sequence[str]) -> None:
        super().__init__(out_dir, splits, ".jsonl", FORMAT)
        self.out_dir = out_dir
        self.labels = list(labels)

    def add(self, prep: PreparedDoc, split: str, doc: object = None) -> None:
        tally_token_format(self.tallies[split], prep)
        f = self._files[split]
        for n, sentence in enumerate(iob_sentences(prep)):
            row = {
                "id": f"{prep.doc_id}:{n}",
                "doc_id": prep.doc_id,
                "tokens": sentence.tokens,
                "ner_tags": sentence.tags,
            }
            f.write(dumps_line(row) + "\n")

    def finish(self) -> Tally:
        self._stack.close()
        tally = Tally.merge(FORMAT, [self.tallies[s] for s in self.splits])
        (self.out_dir / "labels.json").write_text(
            json.dumps(tag_names(self.labels), indent=2) + "\n", encoding="utf-8"
        )
        tally.files["labels"] = "labels.json"
        return tally
