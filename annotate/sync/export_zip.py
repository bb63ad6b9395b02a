"""Doccano's export zip as rows: its files, the annotations they hold, and the examples of our rows.

On the export path of a collaborative project the export rows of examples we pushed carry the
same text and meta as the REST list (checked row by row, see :func:`_example_from_row`), and
``?confirmed=true`` lists the confirmed ones, because the full list costs Doccano several
queries per example.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from annotate.formats.doccano import (
    DOC_HASH,
    DOC_ID,
    EXPORT_KEYS,
    META,
    OUR_META_KEYS,
    TASK_HASH,
    repair_export_rows,
)
from annotate.sync.views import Annotations

Progress = Callable[[int], None]


def export_files(api: Any, pid: int, *, only_approved: bool) -> dict[str, list[dict[str, Any]]]:
    """Return the rows of each file of one export, by file stem (``all``, or a member's name)."""
    files: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="annotate-pull-") as tmp:
        path = api.export_zip(pid, Path(tmp) / "export.zip", only_approved=only_approved)
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if not name.endswith(".jsonl"):
                    continue
                with zf.open(name) as raw:
                    text = io.TextIOWrapper(raw, encoding="utf-8")
                    rows = [json.loads(line) for line in text if line.strip()]
                files[name[: -len(".jsonl")]] = repair_export_rows(rows)
    return files


def export_annotations(
    files: dict[str, list[dict[str, Any]]], *, per_user: bool, progress: Progress | None
) -> Annotations:
    """Return every example's spans and relations from an export's files.

    A collaborative project exports one ``all.jsonl`` (users unknown); otherwise each member's
    file holds that member's annotations, and ``per_user`` tags them with the member's name.
    """
    out: Annotations = {}
    for stem, rows in files.items():
        user = stem if per_user else None
        for row in rows:
            eid = int(row["id"])
            # Span ids are unique server-wide, so the files' spans and relations can be pooled.
            have = out.setdefault(eid, ([], []))
            have[0].extend(
                (e["id"], int(e["start_offset"]), int(e["end_offset"]), str(e["label"]), user)
                for e in row.get("entities") or []
            )
            have[1].extend(
                (r.get("id"), r["from_id"], r["to_id"], str(r["type"]), user)
                for r in row.get("relations") or []
            )
            if progress is not None and (per_user is False or stem == next(iter(files))):
                progress(1)
    return out


def _exact_meta(value: Any) -> bool:
    """True when Doccano's (pandas) export writes ``value`` back exactly.

    pandas rounds floats to 10 decimals, and ints beyond 2**53 may pass through a float.
    """
    if isinstance(value, dict):
        return all(_exact_meta(v) for v in value.values())
    if isinstance(value, list):
        return all(_exact_meta(v) for v in value)
    if isinstance(value, float):
        return False
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < 2**53
    return True


def _example_from_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """Return the example (as the REST list gives it) of an export row of ours, or None.

    A row is ours when its meta is exactly what a push imports (``doc_id``, ``doc_hash``,
    ``task_hash`` and the nested ``meta``) and nothing in it can have been altered by the
    export, so the row's meta equals the example's. Any other row needs the REST list.
    """
    meta = {k: row[k] for k in row if k not in EXPORT_KEYS}
    if set(meta) != set(OUR_META_KEYS):
        return None
    if not all(isinstance(meta[k], str) for k in (DOC_ID, DOC_HASH, TASK_HASH)):
        return None
    if not isinstance(meta[META], dict) or not _exact_meta(meta[META]):
        return None
    if not isinstance(row.get("text"), str):
        return None
    return {
        "id": int(row["id"]),
        "text": row["text"],
        "meta": meta,
        "comment_count": len(row.get("Comments") or []),
    }


def export_examples(
    api: Any, pid: int, *, only_approved: bool, progress: Progress | None
) -> tuple[list[dict[str, Any]], Annotations]:
    """Return the examples and their annotations of a collaborative project, from one export.

    The export rows carry text, meta and comments; only the confirmed state is missing, and
    ``?confirmed=true`` lists just the confirmed examples, side by side with the export task.
    The full example list (every example through Doccano's slow per-example serializer) is
    read only when a row's meta may not have survived the export (see :func:`_example_from_row`).
    """
    if only_approved:
        # Doccano exported the confirmed examples alone: every row is confirmed.
        files = export_files(api, pid, only_approved=True)
        confirmed: set[int] = set()
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            confirmed_f = pool.submit(api.list_confirmed_ids, pid)
            files = export_files(api, pid, only_approved=False)
            confirmed = confirmed_f.result()
    annotations = export_annotations(files, per_user=False, progress=progress)
    rows = [row for rows in files.values() for row in rows]
    examples: list[dict[str, Any]] = []
    for row in rows:
        ex = _example_from_row(row)
        if ex is None:
            examples = api.list_examples(pid)
            if only_approved:
                examples = [ex for ex in examples if ex.get("is_confirmed")]
            return examples, annotations
        ex["is_confirmed"] = only_approved or ex["id"] in confirmed
        examples.append(ex)
    return examples, annotations
