"""Repair: delete the duplicate and partly imported copies of pushed documents that nobody touched.

Duplicates come from an import the server finished after the push was killed, or from Celery
retrying a failed import (whose first attempt may have saved the examples without all their
annotations). A copy that carries human work (confirmed, commented, edited, or a changed text)
is always kept; of the untouched complete copies one is kept when no human copy exists.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from annotate.formats.doccano import fingerprint
from annotate.records.model import Record
from annotate.sync.held import Held, LabelNames, server_keys
from annotate.sync.report import PushReport

# (span keys, relation triples, users who made them) of one example, as the server holds it.
Keys = tuple[list[Any], list[Any], set[Any]]


def repair(
    api: Any,
    pid: int,
    held: dict[str, list[Held]],
    wanted: dict[str, Record],
    labels: LabelNames,
    suspects: set[str],
    report: PushReport,
) -> int:
    """Delete duplicate and partly imported copies of our documents that nobody touched.

    A single copy is checked only when it is a ``suspect`` (its batch was in flight), because a
    check costs two requests. Updates ``held``: a document whose every copy was deleted is no
    longer held, so it gets uploaded again. Returns how many were deleted.
    """
    todo = {
        doc_id: copies
        for doc_id, copies in held.items()
        if doc_id in wanted and (len(copies) > 1 or doc_id in suspects)
    }
    if not todo:
        return 0
    me = api.whoami().get("id")
    fetched = _fetch_keys(api, pid, todo, wanted, labels)
    doomed: list[int] = []
    for doc_id, copies in todo.items():
        complete, partial, human = _sort_copies(copies, wanted[doc_id], fetched, me)
        keep = human + complete[: 0 if human else 1]
        delete = [h for h in copies if h not in keep]
        if len(human) > 1:
            report.warnings.append(f"{doc_id}: {len(human)} copies carry human work; all were kept")
        doomed += [h.example_id for h in delete]
        report.duplicates_removed += sum(1 for h in delete if h in complete)
        report.repaired += sum(1 for h in delete if h in partial)
        if keep:
            held[doc_id] = keep
        else:
            del held[doc_id]
    api.delete_examples(pid, doomed)
    return len(doomed)


def _human(h: Held, rec: Record) -> bool:
    """True when what the listing says of a copy shows human work (or a text that changed)."""
    return h.confirmed or bool(h.comments) or h.doc_hash != rec.doc_hash


def _fetch_keys(
    api: Any, pid: int, todo: dict[str, list[Held]], wanted: dict[str, Record], labels: LabelNames
) -> dict[int, Keys]:
    """Return the server's annotations of every copy to inspect, by example id."""
    need = [h.example_id for doc_id, copies in todo.items() for h in copies if not _human(h, wanted[doc_id])]
    # Two requests per copy: fetch them side by side (a resumed batch can be a thousand documents).
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(need, pool.map(lambda eid: server_keys(api, pid, eid, labels), need), strict=True))


def _sort_copies(
    copies: list[Held], rec: Record, fetched: dict[int, Keys], me: Any
) -> tuple[list[Held], list[Held], list[Held]]:
    """Return the copies of one document as (complete, partly imported, carrying human work)."""
    want_spans = {s.key for s in rec.entities}
    complete: list[Held] = []
    partial: list[Held] = []
    human: list[Held] = []
    for h in copies:
        if _human(h, rec):
            human.append(h)
            continue
        spans, triples, users = fetched[h.example_id]
        fp = fingerprint(spans, triples)
        if h.task_hash is not None and fp == h.task_hash:
            complete.append(h)
        elif users <= {me} and set(spans) <= want_spans:
            # Only our own annotations, and a part of what we sent: an interrupted import.
            partial.append(h)
        else:
            human.append(h)
    return complete, partial, human
