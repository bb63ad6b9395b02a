"""CoNLL files as records: CoNLL-2003 (``-DOCSTART-``, several columns, the tag last; IOB1 or
IOB2) and plain two-column IOB2.

CoNLL holds tokens, not text, so the text is rebuilt: tokens joined by one space, sentences by
a newline; the record's ``meta["conll"]`` says so, with the tag scheme and the source line. A
file's scheme is guessed from its tags unless ``--scheme`` names it. Columns between the token
and the tag (POS, chunk) are not annotations we hold: they are counted, once a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from annotate.convert.builder import BAD_INPUT, RecordBuilder
from annotate.convert.ledger import Ledger, where
from annotate.convert.options import ConvertOptions
from annotate.errors import DataError
from annotate.formats.conll import ConllDocument, iter_conll_documents
from annotate.records.iob_tags import guess_scheme, join_tokens, tag_ranges
from annotate.records.model import Record

NAME = "conll"
REBUILT = "rebuilt from the tokens: joined by one space, sentences by a newline"


def read(options: ConvertOptions, ledger: Ledger) -> Iterator[Record]:
    """Yield one record per document of every input."""
    for path in options.inputs:
        docs = list(iter_conll_documents(path))
        scheme = options.scheme or guess_scheme([t for d in docs for s in d.sentences for t in s.tags])
        extra = sum(len(s.tokens) for d in docs for s in d.sentences if s.columns > 2)
        if extra:
            ledger.skip(
                "column",
                "conll_middle_columns",
                where(str(path)),
                f"{extra} tokens' columns between token and tag",
            )
        for n, doc in enumerate(docs, start=1):
            yield document_record(doc, path, n, scheme, ledger)


def document_record(doc: ConllDocument, path: Path, n: int, scheme: str, ledger: Ledger) -> Record:
    """Return the record of one document, its text rebuilt and its tags read as spans."""
    name = str(path)
    pieces: list[str] = []
    spans: list[tuple[int, int, str, int]] = []
    offset = 0
    for sentence in doc.sentences:
        ranges, notes = tag_ranges(sentence.tags, scheme=scheme)
        for note in notes:
            line = sentence.lines[note.index]
            if note.kind == "invalid":
                raise DataError(f"tag {note.tag!r}: {note.reason}", path=name, line=line, code=BAD_INPUT)
            ledger.repair("tag", "iob_i_without_b", where(name, line), note.reason)
        text, char_spans = join_tokens(sentence.tokens, ranges)
        for (s, e, label), (a, _, _) in zip(char_spans, ranges, strict=True):
            spans.append((offset + s, offset + e, label, sentence.lines[a]))
        pieces.append(text)
        offset += len(text) + 1
    b = RecordBuilder("\n".join(pieces), doc_id=f"{path.stem}:{n}", path=name, line=doc.line, ledger=ledger)
    for s, e, label, line in spans:
        b.span(s, e, label, line=line)
    meta = {"conll": {"text": REBUILT, "scheme": scheme, "file": path.name, "line": doc.line}}
    return b.build(meta=meta)
