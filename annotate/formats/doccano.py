"""Doccano's relation JSONL: our Record <-> the lines Doccano imports and exports.

What we import (one line per task, every key on every line, ASCII-escaped)::

    {"text": ..., "doc_id": ..., "doc_hash": "sha256:...", "task_hash": "sha256:...",
     "meta": {...our meta, nested, verbatim...},
     "entities": [{"id", "start_offset", "end_offset", "label"}],
     "relations": [{"id", "from_id", "to_id", "type"}]}

Doccano keeps every top-level key except text/entities/relations as the example's meta. We
carry the record's own meta under the single key ``meta``: measured on Doccano 1.8.4, a nested
object survives import, the REST API and export unchanged (ints stay ints, no flattening of its
inside, no clash between a user key such as ``id`` or ``text`` and Doccano's own keys).
``task_hash`` fingerprints the pushed annotations, so a later push or pull can tell whether
anyone changed them.

What Doccano exports (``all.jsonl`` of the export zip)::

    {"id": <example id>, "text": ..., <meta flattened to the top level>,
     "entities": [{"id", "label", "start_offset", "end_offset"}],
     "relations": [{"id", "from_id", "to_id", "type"}], "Comments": [...]}

A key missing from some examples comes back as ``null`` there, and its ints as floats:
:func:`repair_export_rows` undoes both.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from annotate.records.model import HASH_PREFIX, Record, Relation, Span

# Meta keys of an example that we own.
DOC_ID = "doc_id"
DOC_HASH = "doc_hash"
TASK_HASH = "task_hash"
META = "meta"
OUR_META_KEYS = (DOC_ID, DOC_HASH, TASK_HASH, META)
# Keys of an export line that are Doccano's, not meta.
EXPORT_KEYS = ("id", "text", "entities", "relations", "Comments", "label")

SpanKey = tuple[int, int, str]
RelationKey = tuple[int, int, int, int, str]


def annotation_keys(
    spans: Iterable[tuple[int, int, str]], relations: Iterable[tuple[SpanKey, SpanKey, str]]
) -> tuple[list[SpanKey], list[RelationKey]]:
    """Return the sorted span keys and relation keys (endpoints by offsets, not by id)."""
    span_keys = sorted((int(s), int(e), str(lab)) for s, e, lab in spans)
    rel_keys = sorted((h[0], h[1], t[0], t[1], str(typ)) for h, t, typ in relations)
    return span_keys, rel_keys


def fingerprint(spans: Iterable[SpanKey], relations: Iterable[tuple[SpanKey, SpanKey, str]]) -> str:
    """Return ``sha256:<hex>`` of a set of annotations, independent of ids and order.

    Relations are identified by their endpoints' offsets and labels and their type.
    """
    span_keys, _ = annotation_keys(spans, [])
    rels = sorted([list(h), list(t), str(typ)] for h, t, typ in relations)
    payload = json.dumps({"spans": [list(k) for k in span_keys], "relations": rels}, separators=(",", ":"))
    return HASH_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record_fingerprint(record: Record) -> str:
    """Return the fingerprint of a record's entities and relations (its ``task_hash``)."""
    triples = [(h.key, t.key, r.label) for h, t, r in record.relation_triples()]
    return fingerprint((s.key for s in record.entities), triples)


def to_import_line(record: Record) -> dict[str, Any]:
    """Return the Doccano import object for a task. Every line has exactly the same keys."""
    return {
        "text": record.text,
        DOC_ID: record.doc_id,
        DOC_HASH: record.doc_hash,
        TASK_HASH: record_fingerprint(record),
        META: dict(record.meta),
        "entities": [
            {"id": s.id, "start_offset": s.start, "end_offset": s.end, "label": s.label}
            for s in record.entities
        ],
        "relations": [
            {"id": r.id, "from_id": r.head, "to_id": r.tail, "type": r.label} for r in record.relations
        ],
    }


def dumps_import_line(record: Record) -> str:
    """Return one import line: ASCII-escaped JSON, because Doccano garbles raw UTF-8."""
    return json.dumps(to_import_line(record), ensure_ascii=True, separators=(",", ":"))


def _int_if_integral(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def repair_export_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Undo what Doccano's (pandas) export does to flattened meta; return new rows.

    A meta key absent from some examples is written as ``null`` there (drop it: it was never
    set), and its ints become floats everywhere (turn integral floats back into ints, in that
    key only; a key present on every row keeps its floats).
    """
    gappy: set[str] = set()
    for row in rows:
        for k, v in row.items():
            if k not in EXPORT_KEYS and v is None:
                gappy.add(k)
    fixed = []
    for row in rows:
        new: dict[str, Any] = {}
        for k, v in row.items():
            if k in gappy:
                if v is None:
                    continue
                v = _int_if_integral(v)
            new[k] = v
        fixed.append(new)
    return fixed


def _renumber(
    spans: list[tuple[Any, int, int, str]], relations: list[tuple[Any, Any, Any, str]]
) -> tuple[list[Span], list[Relation]]:
    """Return our spans (ids 0.. in offset order) and relations for server spans/relations.

    ``spans`` are ``(server id, start, end, label)``; ``relations`` ``(server id, from, to, type)``.
    A relation whose endpoint is not among ``spans`` is dropped (it belongs to another annotator).
    """
    ordered = sorted(spans, key=lambda s: (s[1], s[2], s[3], str(s[0])))
    new_id = {sid: i for i, (sid, _, _, _) in enumerate(ordered)}
    out_spans = [Span(id=i, start=s, end=e, label=lab) for i, (_, s, e, lab) in enumerate(ordered)]
    rels = [(new_id[f], new_id[t], typ) for _, f, t, typ in relations if f in new_id and t in new_id]
    rels.sort(key=lambda r: (out_spans[r[0]].key, out_spans[r[1]].key, r[2]))
    out_rels = [Relation(id=i, head=h, tail=t, label=typ) for i, (h, t, typ) in enumerate(rels)]
    return out_spans, out_rels


def split_meta(flat: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, dict[str, Any]]:
    """Return ``(doc_id, doc_hash, task_hash, meta)`` from an example's (possibly flattened) meta.

    Our own meta sits under ``meta``; any other key (an example imported by someone else, or
    flattened by an export) is merged into it, our nested value winning.
    """
    nested = flat.get(META)
    meta: dict[str, Any] = {k: v for k, v in flat.items() if k not in OUR_META_KEYS and k not in EXPORT_KEYS}
    if isinstance(nested, dict):
        meta.update(nested)
    elif nested is not None:
        meta[META] = nested
    doc_id = flat.get(DOC_ID)
    if isinstance(doc_id, float):
        doc_id = _int_if_integral(doc_id)
    return (
        None if doc_id is None else str(doc_id),
        flat.get(DOC_HASH),
        flat.get(TASK_HASH),
        meta,
    )


def record_from_parts(
    *,
    example_id: int,
    text: str,
    meta: Mapping[str, Any],
    spans: list[tuple[Any, int, int, str]],
    relations: list[tuple[Any, Any, Any, str]],
    confirmed: bool | None,
    comments: list[Any] | None,
    annotator: str | None = None,
) -> tuple[Record, str | None]:
    """Return a gold Record built from an example's parts, and the ``doc_hash`` the server holds.

    The record's ``doc_hash`` is recomputed from the text; the caller compares it with the
    stored one (a mismatch means the text changed on the server).
    """
    doc_id, stored_hash, _task_hash, user_meta = split_meta(meta)
    ents, rels = _renumber(spans, relations)
    rec = Record(
        text=text,
        doc_id=doc_id if doc_id is not None else f"doccano:{example_id}",
        entities=ents,
        relations=rels,
        meta=user_meta,
        example_id=example_id,
        annotator=annotator,
        confirmed=confirmed,
        comments=comments,
    )
    return rec, stored_hash


def record_from_export_row(
    row: Mapping[str, Any], *, confirmed: bool | None = None
) -> tuple[Record, str | None]:
    """Return a gold Record for one (repaired) export row, and the stored ``doc_hash``."""
    spans = [
        (e["id"], int(e["start_offset"]), int(e["end_offset"]), str(e["label"]))
        for e in row.get("entities") or []
    ]
    rels = [(r.get("id"), r["from_id"], r["to_id"], str(r["type"])) for r in row.get("relations") or []]
    # Same shape as a REST pull's comments; an export does not say who wrote them.
    comments = [
        {"user": None, "text": c.get("comment"), "created_at": None} if isinstance(c, dict) else {"text": c}
        for c in row.get("Comments") or []
    ]
    return record_from_parts(
        example_id=int(row["id"]),
        text=row.get("text") or "",
        meta=row,
        spans=spans,
        relations=rels,
        confirmed=confirmed,
        comments=comments,
    )
