"""The push ledger (``$ANNOTATE_HOME/push-ledger/``): what a push resumes from, one file per project.

It remembers the import tasks of the batches in flight, so a run after ``kill -9`` first waits
for those tasks and checks those documents. After a complete push it also records the project's
example count, its newest example id and each doc_id's hashes. Listing every example costs
Doccano several queries per example (seconds per thousand), so a push first probes the server
with one ``limit=1`` request: when the count and the newest id still match, nothing was added or
deleted since, and the recorded hashes stand in for the listing. Any mismatch, a batch left in
flight, or an ``update`` that would replace a document goes back to the full listing: the server
stays the source of truth.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from annotate.formats.doccano import record_fingerprint
from annotate.records.model import Record
from annotate.sync.held import Held


class Ledger:
    """Per project: the batch in flight (import task id, doc_ids), which survives ``kill -9``, and
    what the project held after the last complete push (see :func:`held_from_state`)."""

    def __init__(self, directory: Path, url: str, project_id: int) -> None:
        key = hashlib.sha256(f"{url}#{project_id}".encode()).hexdigest()[:16]
        self.path = directory / f"{key}.json"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in data.items() if v}
        if not data:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def load(self) -> list[dict[str, Any]]:
        """Return the batches in flight (empty when the last push finished its uploads)."""
        return list(self._read().get("batches") or [])

    def save(self, batches: list[dict[str, Any]]) -> None:
        data = self._read()
        if batches:
            # Uploads are under way: what the project held before them is no longer true.
            data.pop("state", None)
        data["batches"] = batches
        self._write(data)

    def load_state(self) -> dict[str, Any] | None:
        """Return what the project held after the last complete push, if recorded."""
        state = self._read().get("state")
        return state if isinstance(state, dict) else None

    def save_state(self, state: dict[str, Any] | None) -> None:
        data = self._read()
        if state is None and "state" not in data:
            return
        data["state"] = state
        self._write(data)


def default_ledger_dir() -> Path:
    """Return where the ledgers live: ``$ANNOTATE_HOME/push-ledger``."""
    from annotate.settings import annotate_home

    return annotate_home() / "push-ledger"


def _project_mark(proj: dict[str, Any]) -> str:
    """Return what tells this project from a later one that got the same id."""
    return f"{proj.get('id')}|{proj.get('created_at')}"


def state_for(
    proj: dict[str, Any], count: int, newest: int | None, held: dict[str, list[Held]]
) -> dict[str, Any] | None:
    """Return the ledger state for a project holding ``held`` (None if it cannot be recorded).

    Only a project where every doc_id has one copy is recorded: several copies are what
    :func:`annotate.sync.repair.repair` inspects, and that needs the full listing.
    """
    if any(len(copies) != 1 for copies in held.values()):
        return None
    return {
        "project": _project_mark(proj),
        "count": count,
        "newest": newest,
        "docs": {doc_id: [c[0].doc_hash, c[0].task_hash] for doc_id, c in held.items()},
    }


def state_matches(state: dict[str, Any] | None, proj: dict[str, Any], count: int, newest: int | None) -> bool:
    """True when the ledger's record is of this project and the probe still agrees with it."""
    return bool(
        state
        and state.get("project") == _project_mark(proj)
        and state.get("count") == count
        and state.get("newest") == newest
        and isinstance(state.get("docs"), dict)
    )


def held_from_state(
    state: dict[str, Any] | None,
    proj: dict[str, Any],
    count: int,
    newest: int | None,
    wanted: dict[str, Record],
    update: bool,
) -> dict[str, list[Held]] | None:
    """Return what the project holds, from the ledger, or None when the full listing is needed.

    The ledger is trusted only while the server agrees: the probe just read ``count`` and the
    ``newest`` example id from it. An example added since changes the newest id (ids and
    creation times only grow) and one deleted changes the count, so either sends us back to the
    full listing. The example ids themselves are not recorded, so an ``update`` that would
    replace a document (and must first check that nobody touched it) needs the listing too.
    """
    if not state_matches(state, proj, count, newest):
        return None
    assert state is not None
    held: dict[str, list[Held]] = {}
    for doc_id, (doc_hash, task_hash) in state["docs"].items():
        rec = wanted.get(doc_id)
        if update and rec is not None and doc_hash == rec.doc_hash and task_hash != record_fingerprint(rec):
            return None
        # Confirmed/comment state is only read for update and repair, which never use this.
        held[doc_id] = [Held(0, doc_hash, task_hash, confirmed=False, comments=0)]
    return held
