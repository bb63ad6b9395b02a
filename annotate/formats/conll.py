"""CoNLL-2003 IOB2: ``token -X- _ TAG`` a line, a blank line between sentences, ``-DOCSTART-`` per document.

Relations and overlapping spans cannot be written here; the overlap policy (see
``annotate.formats.overlaps``) chooses which spans are kept and every other one is reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from annotate.fileio import open_text
from annotate.formats.iob import iob_sentences, tally_token_format
from annotate.formats.prepared import PreparedDoc, SplitFiles, Tally

FORMAT = "conll"
DOCSTART = "-DOCSTART- -X- -X- O"


def write_conll(f: IO[str], preps: Sequence[PreparedDoc], tally: Tally) -> None:
    """Write the records to ``f`` and count them into ``tally``."""
    for prep in preps:
        tally_token_format(tally, prep)
        f.write(DOCSTART + "\n\n")
        for sentence in iob_sentences(prep):
            for word, tag in zip(sentence.tokens, sentence.tags, strict=True):
                f.write(f"{word} -X- _ {tag}\n")
            f.write("\n")


class ConllWriter(SplitFiles):
    """Write ``<split>.conll`` for each split as documents come; ``finish()`` returns the tally."""

    def __init__(self, out_dir: Path, splits: Sequence[str]) -> None:
        super().__init__(out_dir, splits, ".conll", FORMAT)

    def add(self, prep: PreparedDoc, split: str, doc: object = None) -> None:
        write_conll(self._files[split], [prep], self.tallies[split])

    def finish(self) -> Tally:
        self._stack.close()
        return Tally.merge(FORMAT, [self.tallies[s] for s in self.splits])


def read_conll(path: str | os.PathLike[str]) -> Iterator[list[list[tuple[str, str]]]]:
    """Yield each document as a list of sentences of ``(token, tag)`` pairs."""
    doc: list[list[tuple[str, str]]] | None = None
    sentence: list[tuple[str, str]] = []
    with open_text(path) as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("-DOCSTART-"):
                if doc is not None:
                    if sentence:
                        doc.append(sentence)
                    yield doc
                doc, sentence = [], []
                continue
            if not line.strip():
                if sentence and doc is not None:
                    doc.append(sentence)
                sentence = []
                continue
            parts = line.split(" ")
            sentence.append((parts[0], parts[-1]))
    if doc is not None:
        if sentence:
            doc.append(sentence)
        yield doc
