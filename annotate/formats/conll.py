"""CoNLL-2003 IOB2: ``token -X- _ TAG`` a line, a blank line between sentences, ``-DOCSTART-`` per document.

Relations and overlapping spans cannot be written here; the overlap policy (see
``annotate.formats.overlaps``) chooses which spans are kept and every other one is reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from annotate.errors import DataError
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


@dataclass
class ConllSentence:
    """One sentence: its tokens, their tags (the last column), the line of each, and the column count."""

    tokens: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    columns: int = 0


@dataclass
class ConllDocument:
    """The sentences of one ``-DOCSTART-`` document, or a lone sentence in a file without them."""

    line: int
    sentences: list[ConllSentence] = field(default_factory=list)


def iter_conll_documents(path: str | os.PathLike[str]) -> Iterator[ConllDocument]:
    """Yield the documents of a CoNLL file: CoNLL-2003 (several columns, the tag last) or two columns.

    Columns are split at tabs if the line has one, else at spaces. With ``-DOCSTART-`` lines each
    opens a document; without them each sentence is one. A line with one column is a DataError.
    """
    name = str(path)
    doc: ConllDocument | None = None  # the open -DOCSTART- document; none: each sentence is one
    sentence = ConllSentence()
    with open_text(path) as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if line.startswith("-DOCSTART-"):
                yield from _flush(doc, sentence)
                doc, sentence = ConllDocument(lineno), ConllSentence()
                continue
            if not line.strip():
                yield from _flush_sentence(doc, sentence)
                sentence = ConllSentence()
                continue
            parts = line.split("\t") if "\t" in line else line.split(" ")
            if len(parts) < 2 or not parts[0] or not parts[-1]:
                raise DataError("a CoNLL line needs a token and a tag", path=name, line=lineno, code="E182")
            sentence.tokens.append(parts[0])
            sentence.tags.append(parts[-1])
            sentence.lines.append(lineno)
            sentence.columns = max(sentence.columns, len(parts))
    yield from _flush(doc, sentence)


def _flush_sentence(doc: ConllDocument | None, sentence: ConllSentence) -> Iterator[ConllDocument]:
    """Add a finished sentence to the open document, or (none open) yield it as a document of its own."""
    if not sentence.tokens:
        return
    if doc is None:
        yield ConllDocument(sentence.lines[0], [sentence])
    else:
        doc.sentences.append(sentence)


def _flush(doc: ConllDocument | None, sentence: ConllSentence) -> Iterator[ConllDocument]:
    """Finish the sentence, then yield the open document, if there is one."""
    yield from _flush_sentence(doc, sentence)
    if doc is not None:
        yield doc


def read_conll(path: str | os.PathLike[str]) -> Iterator[list[list[tuple[str, str]]]]:
    """Yield each document as a list of sentences of ``(token, tag)`` pairs."""
    for doc in iter_conll_documents(path):
        yield [list(zip(s.tokens, s.tags, strict=True)) for s in doc.sentences]
