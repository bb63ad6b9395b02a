"""Doccano's own files, read as our task records: its JSONL forms and its CoNLL import format.

Doccano 1.8 imports and exports sequence labeling and relation extraction in forms that are
not quite our task, and a Doccano user's data must be valid input as it is:

- **sequence labeling**: ``{"text": ..., "label": [[start, end, "LABEL"], ...]}``, in an
  export also with ``id`` (the example id) and ``Comments``. A label may also be an object
  with ``start_offset``, ``end_offset`` and ``label`` (Doccano's parser takes both).
- **relation extraction** as Doccano documents its import: ``entities`` and ``relations``,
  the relations without ``id``; and as it exports it, with the example's ``id``.
- **CoNLL** (its import format): ``token<TAB>tag`` lines, IOB2, one example a sentence
  (a blank line between), the text being the tokens joined by one space.

:func:`normalise` turns the JSON forms into our task form (entity ids 0.. in order, relation
ids assigned where missing, the example id as ``doc_id`` ``doccano:<id>``). What it cannot
read it leaves where it is, for the schema check to report: nothing is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from annotate.fileio import is_stdio, open_binary
from annotate.records.findings import ERROR, WARNING, Finding, decode_utf8
from annotate.records.iob_tags import IOB2, join_tokens, tag_ranges

SEQUENCE_LABELING = "doccano-sequence-labeling"
RELATION_IMPORT = "doccano-relation-import"
RELATION_EXPORT = "doccano-relation-export"
CONLL = "doccano-conll"
CONLL_SUFFIXES = (".conll",)
#: The meta key that keeps a Doccano example id (``id`` would override the id of a new example).
EXAMPLE_ID = "doccano_id"


def form_of(obj: Any) -> str | None:
    """Return which Doccano JSON form ``obj`` is in, or None (ours, or not a record)."""
    if not isinstance(obj, dict) or "text" not in obj:
        return None
    if "entities" not in obj and isinstance(obj.get("label"), list):
        return SEQUENCE_LABELING
    rels = obj.get("relations")
    if isinstance(rels, list) and any(isinstance(r, dict) and "id" not in r for r in rels):
        return RELATION_IMPORT
    if "id" in obj and "entities" in obj:
        return RELATION_EXPORT  # our records have no top-level id: this is Doccano's example id
    return None


def normalise(obj: Any) -> Any:
    """Return ``obj`` in our task form if it is in one of Doccano's; else ``obj`` itself."""
    form = form_of(obj)
    if form is None:
        return obj
    out = dict(obj)
    if form == SEQUENCE_LABELING:
        out["entities"] = label_entities(out.pop("label"))
        out.setdefault("relations", [])
    out["relations"] = with_relation_ids(out.get("relations") or [])
    example_id = out.pop("id", None)
    if example_id is not None:
        meta = dict(out.get("meta") or {}) if isinstance(out.get("meta"), dict) else {}
        meta.setdefault(EXAMPLE_ID, example_id)
        out["meta"] = meta
        if "doc_id" not in out and isinstance(example_id, (int, str)) and not isinstance(example_id, bool):
            out["doc_id"] = f"doccano:{example_id}"
    return out


def label_entities(labels: list[Any]) -> list[Any]:
    """Return Doccano's ``label`` list as our entities, ids 0.. in order.

    ``[start, end, label]`` and ``{"start_offset", "end_offset", "label"}`` are read; anything
    else is kept as it is, so that the schema check reports it.
    """
    out: list[Any] = []
    for i, lab in enumerate(labels):
        if isinstance(lab, (list, tuple)) and len(lab) == 3:
            out.append({"id": i, "start_offset": lab[0], "end_offset": lab[1], "label": lab[2]})
        elif isinstance(lab, dict) and {"start_offset", "end_offset", "label"} <= lab.keys():
            out.append({"id": i, **{k: lab[k] for k in ("start_offset", "end_offset", "label")}})
        else:
            out.append(lab)
    return out


def with_relation_ids(relations: list[Any]) -> list[Any]:
    """Return the relations, each without an ``id`` given the next id no other relation has."""
    used = {r["id"] for r in relations if isinstance(r, dict) and isinstance(r.get("id"), int)}
    next_id = 0
    out: list[Any] = []
    for r in relations:
        if isinstance(r, dict) and "id" not in r:
            while next_id in used:
                next_id += 1
            r = {"id": next_id, **r}
            used.add(next_id)
        out.append(r)
    return out


def is_conll_path(path: str | os.PathLike[str]) -> bool:
    """True for a file that Doccano's CoNLL form is read from (by its suffix)."""
    return not is_stdio(path) and str(path).lower().endswith(CONLL_SUFFIXES)


def iter_conll(path: str | os.PathLike[str], name: str) -> Iterator[tuple[int, Any, Finding | None]]:
    """Yield ``(line, task, None)`` per example of a Doccano CoNLL file, or ``(line, None, finding)``.

    Like Doccano, a line that is not ``token<TAB>tag`` stops the file (E109 names it); an
    ``I-`` without its ``B-`` is read as a start and said (W143), as Doccano drops that entity.
    """
    with open_binary(path) as f:
        data = f.read()
    text = decode_utf8(data, name)
    if isinstance(text, Finding):
        yield text.line or 1, None, text
        return
    tokens: list[str] = []
    tags: list[str] = []
    first = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line:
            if tokens:
                yield from _conll_example(tokens, tags, first, name)
            tokens, tags = [], []
            continue
        cols = line.split("\t")
        if len(cols) != 2:
            msg = (
                f"a line must be a token and a tag separated by one tab (Doccano's CoNLL), not {line[:40]!r}"
            )
            yield lineno, None, Finding("E109", ERROR, msg, name, lineno, None)
            return
        if not tokens:
            first = lineno
        tokens.append(cols[0])
        tags.append(cols[1])
    if tokens:
        yield from _conll_example(tokens, tags, first, name)


def _conll_example(
    tokens: list[str], tags: list[str], first: int, name: str
) -> Iterator[tuple[int, Any, Finding | None]]:
    """Yield one CoNLL example as a task, after a finding for each tag note."""
    ranges, notes = tag_ranges(tags, scheme=IOB2)
    for n in notes:
        code, level = ("E109", ERROR) if n.kind == "invalid" else ("W143", WARNING)
        line = first + n.index
        yield line, None, Finding(code, level, f"tag {n.tag!r}: {n.reason}", name, line, None)
    text, spans = join_tokens(tokens, ranges)
    entities = [
        {"id": i, "start_offset": s, "end_offset": e, "label": lab} for i, (s, e, lab) in enumerate(spans)
    ]
    yield first, {"text": text, "entities": entities, "relations": [], "meta": {"doccano_form": CONLL}}, None
