"""brat standoff (``.txt`` + ``.ann``) as records: T lines are spans, R lines relations.

What a record cannot hold is reported, never dropped: a discontinuous span whose gaps are
text (ours only ever cut at line breaks), and the relations that need it, are kept in the
record's ``meta["brat"]`` and counted; so are events (E), attributes (A/M), normalizations (N),
equivalences (*) and notes (#) other than the ``annotate:`` notes our own brat export writes,
which are read back so that our export converts back to the same records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotate.convert.builder import BAD_INPUT, RecordBuilder
from annotate.convert.ledger import Ledger, where
from annotate.convert.options import ConvertOptions
from annotate.errors import DataError
from annotate.formats.brat import AnnLines, line_break_gaps, read_doc_ids, read_document
from annotate.records.model import Record

NAME = "brat"
#: The kind of item a line of another kind is, by its first character.
OTHER_KINDS = {
    "E": "event",
    "A": "attribute",
    "M": "attribute",
    "N": "normalization",
    "*": "equivalence",
    "#": "note",
}


def read(options: ConvertOptions, ledger: Ledger) -> Iterator[Record]:
    """Yield one record per ``.txt``/``.ann`` pair of every input (a folder, or files)."""
    doc_ids: dict[Path, dict[str, str]] = {}  # each folder's doc_ids.json, read once
    for txt, ann in pairs(options.inputs):
        if txt.parent not in doc_ids:
            doc_ids[txt.parent] = read_doc_ids(txt.parent)
        doc_id = doc_ids[txt.parent].get(txt.stem, txt.stem)
        yield document_record(txt, ann, ledger, doc_id=doc_id)


def pairs(inputs: tuple[Path, ...]) -> list[tuple[Path, Path]]:
    """Return the ``(.txt, .ann)`` pairs of the inputs in order; an ``.ann`` needs its ``.txt``."""
    out: dict[Path, Path] = {}
    for path in inputs:
        files = (
            sorted(p for p in path.rglob("*") if p.suffix in (".ann", ".txt")) if path.is_dir() else [path]
        )
        for f in files:
            txt, ann = f.with_suffix(".txt"), f.with_suffix(".ann")
            if f.suffix not in (".ann", ".txt"):
                raise DataError("not a brat file (.txt or .ann)", path=str(f), code=BAD_INPUT)
            if not txt.is_file():
                raise DataError(
                    "no .txt beside this .ann: brat offsets need the text", path=str(ann), code=BAD_INPUT
                )
            out[txt] = ann
    return list(out.items())


def document_record(txt: Path, ann_path: Path, ledger: Ledger, *, doc_id: str) -> Record:
    """Return the record of one brat document (``doc_id``: what our brat export recorded for
    it in ``doc_ids.json``, else the file's stem)."""
    text, ann = read_document(txt, ann_path)
    name = str(ann_path)
    b = RecordBuilder(text, doc_id=doc_id, path=name, line=None, ledger=ledger)
    kept: dict[str, list[Any]] = {}
    discontinuous = add_spans(b, ann, kept, ledger)
    add_relations(b, ann, discontinuous, kept, ledger)
    for lineno, line in ann.other:
        kind = OTHER_KINDS.get(line[:1], "line")
        kept.setdefault(f"{kind}s", []).append(line)
        ledger.keep_in_meta(kind, f"brat_{kind}", where(name, lineno), "kept as a line in meta.brat")
    return b.build(meta={"brat": kept} if kept else {})


def add_spans(b: RecordBuilder, ann: AnnLines, kept: dict[str, list[Any]], ledger: Ledger) -> set[str]:
    """Add every T line as a span (our notes applied); return the ids of discontinuous ones kept in meta."""
    discontinuous: set[str] = set()
    for key, (label, frags, surface, lineno) in ann.spans.items():
        for a, e in frags:
            if not (0 <= a < e <= len(b.text)):
                raise b.error(f"{key} [{a}, {e}) is outside the text (length {len(b.text)}) or empty", lineno)
        if surface and " ".join(b.text[a:e] for a, e in frags) != surface:
            raise b.error(f"{key} records {surface!r} but the text there is different", lineno)
        if not line_break_gaps(b.text, frags):
            discontinuous.add(key)
            kept.setdefault("discontinuous_spans", []).append(
                {"id": key, "label": label, "fragments": [list(f) for f in frags], "text": surface}
            )
            ledger.keep_in_meta(
                "span",
                "discontinuous_span",
                where(b.path, lineno),
                f"{key} {label} has {len(frags)} fragments",
            )
            continue
        note = ann.notes.get(key, {})
        start, end = note.get("span", (frags[0][0], frags[-1][1]))
        b.span(start, end, note.get("label", label), key=key, line=lineno)
    return discontinuous


def add_relations(
    b: RecordBuilder, ann: AnnLines, discontinuous: set[str], kept: dict[str, list[Any]], ledger: Ledger
) -> None:
    """Add every R line; one to a discontinuous span is kept in meta, one to a missing span is an error."""
    for key, (label, arg1, arg2, lineno) in ann.relations.items():
        if arg1 in discontinuous or arg2 in discontinuous:
            kept.setdefault("relations", []).append({"id": key, "type": label, "arg1": arg1, "arg2": arg2})
            ledger.keep_in_meta(
                "relation", "relation_to_discontinuous_span", where(b.path, lineno), f"{key} {label}"
            )
            continue
        b.relation(arg1, arg2, ann.notes.get(key, {}).get("label", label), line=lineno)
