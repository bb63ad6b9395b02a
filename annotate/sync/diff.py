"""The changes between two pulls: ``since`` compares the new snapshot with an earlier one.

The diff is written beside the output (``GOLD.diff.jsonl`` for ``GOLD.jsonl``): one JSON object
a line, one line per document (per document and annotator with ``per_annotator``) that changed,
sorted by ``doc_id``::

    {"doc_id": "a1", "annotator": null, "status": "added" | "removed" | "changed",
     "example_id": 12, "text_changed": false,
     "confirmed": {"old": false, "new": true},                    # only when it changed
     "spans": {"added": [[s, e, "LABEL"], ...], "removed": [...],
               "relabelled": [[s, e, "OLD", "NEW"], ...]},
     "relations": {"added": [[[hs, he], [ts, te], "TYPE"], ...], "removed": [...],
                   "relabelled": [[[hs, he], [ts, te], "OLD", "NEW"], ...]}}

Spans are identified by offsets (a span whose offsets stay and label changes is *relabelled*),
relations by their endpoints' offsets (a changed type is *relabelled*). An ``added`` document
lists all its spans and relations as added; a ``removed`` one lists them as removed.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from annotate.fileio import atomic_write, dumps_line
from annotate.records.model import Record


def diff_path_for(out: str | os.PathLike[str]) -> Path:
    """Return where the diff of a pull to ``out`` goes: ``X.diff.jsonl`` beside ``X.jsonl``."""
    p = Path(out)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".diff.jsonl")


def read_snapshot(path: str | os.PathLike[str]) -> list[Record]:
    """Return the records of an earlier pull."""
    from annotate.formats.jsonl import read_records

    return [rec for _, rec in read_records(path)]


def _span_sets(
    rec: Record,
) -> tuple[set[tuple[int, int, str]], set[tuple[tuple[int, int], tuple[int, int], str]]]:
    spans = {s.key for s in rec.entities}
    rels = {((h.start, h.end), (t.start, t.end), r.label) for h, t, r in rec.relation_triples()}
    return spans, rels


def _compare(old: set[Any], new: set[Any], ident: Callable[[Any], Any]) -> dict[str, list[Any]]:
    """Return added/removed/relabelled items; an item is relabelled when ``ident`` matches."""
    gone = sorted(old - new)
    came = sorted(new - old)
    relabelled = []
    came_by: dict[Any, list[Any]] = defaultdict(list)
    for item in came:
        came_by[ident(item)].append(item)
    removed = []
    for item in gone:
        partners = came_by.get(ident(item))
        if partners:
            other = partners.pop(0)
            came.remove(other)
            relabelled.append([*_listify(ident(item)), item[-1], other[-1]])
        else:
            removed.append(item)
    out: dict[str, list[Any]] = {}
    if came:
        out["added"] = [_listify(x) for x in came]
    if removed:
        out["removed"] = [_listify(x) for x in removed]
    if relabelled:
        out["relabelled"] = relabelled
    return out


def _listify(x: Any) -> Any:
    return [_listify(v) for v in x] if isinstance(x, tuple) else x


def diff_records(old: Iterable[Record], new: Iterable[Record]) -> list[dict[str, Any]]:
    """Return the changes from snapshot ``old`` to ``new``, one dict per changed document.

    The format is described in this module's docstring.
    """
    old_by = {(r.doc_id, r.annotator): r for r in old}
    new_by = {(r.doc_id, r.annotator): r for r in new}
    empty = Record(text="", doc_id="")
    changes = []
    for key in sorted(set(old_by) | set(new_by), key=lambda k: (k[0], k[1] or "")):
        a, b = old_by.get(key), new_by.get(key)
        status = "added" if a is None else "removed" if b is None else "changed"
        sa, ra = _span_sets(a or empty)
        sb, rb = _span_sets(b or empty)
        change: dict[str, Any] = {
            "doc_id": key[0],
            "annotator": key[1],
            "status": status,
            "example_id": (b or a or empty).example_id,
            "text_changed": a is not None and b is not None and a.doc_hash != b.doc_hash,
        }
        conf_a = bool(a.confirmed) if a is not None else False
        conf_b = bool(b.confirmed) if b is not None else False
        if conf_a != conf_b:
            change["confirmed"] = {"old": conf_a, "new": conf_b}
        spans = _compare(sa, sb, lambda s: (s[0], s[1]))
        rels = _compare(ra, rb, lambda r: (r[0], r[1]))
        if spans:
            change["spans"] = spans
        if rels:
            change["relations"] = rels
        if status == "changed" and not (spans or rels or "confirmed" in change or change["text_changed"]):
            continue
        changes.append(change)
    return changes


def write_diff(out: str | os.PathLike[str], changes: list[dict[str, Any]], *, force: bool) -> Path:
    """Write ``changes`` atomically beside ``out`` (see :func:`diff_path_for`); return the path."""
    path = diff_path_for(out)
    with atomic_write(path, force=force) as f:
        for change in changes:
            f.write(dumps_line(change) + "\n")
    return path


def diff_counts(changes: list[dict[str, Any]]) -> dict[str, int]:
    """Return how many documents were added, removed, changed, (un)confirmed, and items by kind."""
    counts: dict[str, int] = defaultdict(int)
    for c in changes:
        counts[c["status"]] += 1
        if "confirmed" in c:
            counts["confirmed" if c["confirmed"]["new"] else "unconfirmed"] += 1
        for part in ("spans", "relations"):
            for what, items in c.get(part, {}).items():
                counts[f"{part}_{what}"] += len(items)
    return dict(counts)
