"""Upload: batches through Doccano's import task, several at once, each tracked in the ledger.

A batch is a JSONL file uploaded and imported by one task, which is polled with our own
timeout. Two imports run at once by default (Doccano's Celery worker runs two tasks at a time),
so a push of a thousand tasks goes as two batches of five hundred. A batch the server failed is
rolled back and raised (exit 3); no further batch starts. Every batch is in the ledger from its
upload until its task ends, so a push killed meanwhile is resumed by the next one.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from annotate.errors import ServerError, TaskFailed
from annotate.formats.doccano import dumps_import_line
from annotate.records.model import Record
from annotate.sync.held import index
from annotate.sync.ledger import Ledger
from annotate.sync.report import PushReport

#: A push is cut into more batches than ``batch_size`` needs (so that every parallel import gets
#: one) only while each keeps at least this many documents: below it, the extra upload and task
#: cost more than they save.
MIN_SPLIT_BATCH = 100


def split_batches(records: list[Record], batch_size: int, parallel: int) -> list[list[Record]]:
    """Cut ``records`` into import batches of even size, at most ``batch_size`` each.

    When that makes fewer batches than ``parallel``, they are cut smaller so that each parallel
    import gets one, as long as a batch keeps ``MIN_SPLIT_BATCH`` documents.
    """
    n = len(records)
    count = max(-(-n // batch_size), min(parallel, n // MIN_SPLIT_BATCH))
    if count == 0:
        return []
    size = -(-n // count)
    return [records[i : i + size] for i in range(0, n, size)]


def finish_leftovers(
    api: Any, ledger: Ledger, timeout: float, *, dry_run: bool, report: PushReport
) -> tuple[list[dict[str, Any]], set[str]]:
    """Wait for the imports a killed push left in flight; return them and their doc_ids.

    Their documents are suspects: the import may have saved some of them, or saved them twice.
    """
    suspects: set[str] = set()
    leftovers = ledger.load()
    for entry in leftovers:
        suspects.update(entry.get("doc_ids", []))
        if entry.get("task_id") and not dry_run:
            try:
                api.wait_task(entry["task_id"], timeout=timeout, what="the import left by an earlier push")
            except TaskFailed as e:
                report.warnings.append(f"an earlier push's import task failed: {e.message}")
    return leftovers, suspects


class InFlight:
    """The batches being imported, kept in the ledger so that a killed push can find them."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.entries: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def add(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.entries.append(entry)
            self.ledger.save(list(self.entries))

    def changed(self) -> None:
        with self.lock:
            self.ledger.save(list(self.entries))

    def done(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.entries.remove(entry)
            self.ledger.save(list(self.entries))


def upload_batches(
    api: Any,
    pid: int,
    batches: list[list[Record]],
    to_replace: dict[str, list[int]],
    inflight: InFlight,
    timeout: float,
    parallel: int,
    imported: Callable[[list[Record]], None],
) -> None:
    """Import ``batches``, up to ``parallel`` at a time; call ``imported(batch)`` as each ends.

    A batch whose task fails is rolled back; the batches already running are waited for, no
    new one starts, and the first failure is raised. If this thread is interrupted, the others
    stop waiting at their next poll; their batches stay in the ledger for the next push.
    """
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="annotate-import")
    try:
        queue = iter(batches)
        running: dict[Future[None], list[Record]] = {}
        failure: BaseException | None = None

        def start_next() -> None:
            batch = next(queue, None)
            if batch is not None:
                running[pool.submit(upload_batch, api, pid, batch, to_replace, inflight, timeout)] = batch

        for _ in range(parallel):
            start_next()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                batch = running.pop(future)
                error = future.exception()
                if error is not None:
                    failure = failure or error
                    continue
                imported(batch)
                if failure is None:
                    start_next()
        if failure is not None:
            raise failure
    except BaseException:
        inflight.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def upload_batch(
    api: Any,
    pid: int,
    batch: list[Record],
    to_replace: dict[str, list[int]],
    inflight: InFlight,
    timeout: float,
) -> None:
    """Import one batch through Doccano's import task; roll it back if the task fails."""
    doc_ids = [r.doc_id for r in batch]
    old = [eid for r in batch for eid in to_replace.get(r.doc_id, [])]
    # Delete before import: if we die in between, the document is simply missing and the next
    # run pushes it again; the examples deleted were untouched, so nothing human is lost.
    api.delete_examples(pid, old)
    with tempfile.TemporaryDirectory(prefix="annotate-push-") as tmp:
        path = Path(tmp) / "tasks.jsonl"
        with path.open("w", encoding="ascii", newline="\n") as f:
            for rec in batch:
                f.write(dumps_import_line(rec))
                f.write("\n")
        upload_id = api.upload_file(path)
        entry: dict[str, Any] = {"doc_ids": doc_ids, "task_id": None, "at": time.time()}
        inflight.add(entry)
        task_id = api.start_import(pid, [upload_id])
        entry["task_id"] = task_id
        inflight.changed()
        try:
            result = api.wait_task(
                task_id, timeout=timeout, what=f"import of {len(batch)} documents", stop=inflight.stop
            )
            errors = api.import_errors(result)
            if errors:
                raise TaskFailed(
                    f"import of {len(batch)} documents: Doccano reported {len(errors)} error(s): "
                    + "; ".join(errors[:5]),
                    hint="this batch was rolled back; fix the data and push again",
                )
        except TaskFailed:
            _rollback(api, pid, set(doc_ids))
            inflight.done(entry)
            raise
    inflight.done(entry)


def _rollback(api: Any, pid: int, doc_ids: set[str]) -> None:
    """Delete the unconfirmed examples of ``doc_ids`` created by a failed batch (best effort)."""
    try:
        held = index(api.list_examples(pid))
        api.delete_examples(
            pid,
            [h.example_id for d in doc_ids for h in held.get(d, []) if not h.confirmed and not h.comments],
        )
    except ServerError:
        pass  # the next push finds and repairs them
