"""Doccano's file uploads and its Celery tasks: import, export (with the zip's download), polling."""

from __future__ import annotations

import os
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import requests

from annotate.doccano.transport import Transport, describe_failure
from annotate.errors import ConnectionFailed, ServerError, TaskFailed


class WaitStopped(Exception):
    """``wait_task`` gave up because its caller asked it to stop (the task itself runs on)."""


#: Seconds a task is polled at the short pause before the pause grows (see ``wait_task``).
SLOW_AFTER = 10.0


class Tasks(Transport):
    """The upload, import, export and task calls of :class:`annotate.doccano.DoccanoAPI`."""

    def upload_file(self, path: str | os.PathLike[str]) -> str:
        """Send a file to Doccano's upload area; return its upload id. Safe to retry."""
        p = Path(path)
        # Bytes, not an open file: a retried request must send the whole file again.
        content = p.read_bytes()
        response = self._request(
            "POST",
            "fp/process/",
            idempotent=True,  # an unused upload is only a temp file on the server
            files={"filepond": (p.name, content, "application/octet-stream")},
            # Drop a session-wide JSON Content-Type so that requests writes the multipart one.
            headers={"Content-Type": None, "Accept": "*/*"},  # type: ignore[dict-item]
            what="upload file",
        )
        upload_id = response.text.strip()
        if not upload_id:
            raise ServerError("upload file: Doccano returned no upload id")
        return upload_id

    def start_import(
        self,
        project_id: int,
        upload_ids: list[str],
        *,
        task: str = "RelationExtraction",
        fmt: str = "JSONL",
        column_data: str = "text",
    ) -> str:
        """Start Doccano's import task on uploaded files; return the Celery task id.

        Never retried here: a repeat would import the file twice. Callers dedupe instead.
        """
        body = {"uploadIds": upload_ids, "task": task, "format": fmt, "column_data": column_data}
        data = self._request(
            "POST", f"projects/{int(project_id)}/upload", json=body, what="start import task"
        ).json()
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not task_id:
            raise ServerError("start import task: Doccano returned no task id")
        return str(task_id)

    def task_status(self, task_id: str) -> dict[str, Any]:
        """Return a Celery task's status: ``{"ready", "result", "error"}``."""
        return self.get_json(f"tasks/status/{task_id}", what="task status")

    def wait_task(
        self,
        task_id: str,
        *,
        timeout: float,
        what: str,
        poll: float = 0.05,
        slow_poll: float = 0.25,
        stop: threading.Event | None = None,
    ) -> Any:
        """Poll a task until it is ready; return its result.

        The pause between polls is short: an import or export of a thousand documents takes
        seconds and a status GET milliseconds, so a longer pause only finds the finished task
        late. After ``SLOW_AFTER`` seconds (a large task) it becomes ``slow_poll``. The last pause
        is cut so that no poll falls after ``timeout``. Raises TaskFailed when the task failed
        (with its error) or is not ready after ``timeout`` seconds (the usual cause: no Celery
        worker, or one on another database). When ``stop`` is set (the caller was interrupted),
        raises WaitStopped between polls: the task runs on, unwatched.
        """
        began = time.monotonic()
        deadline = began + timeout
        while True:
            if stop is not None and stop.is_set():
                raise WaitStopped(f"{what}: no longer waiting for task {task_id}")
            status = self.task_status(task_id)
            if status.get("ready"):
                if status.get("error"):
                    err = status["error"]
                    text = err.get("text") if isinstance(err, dict) else str(err)
                    raise TaskFailed(self._redact(f"{what}: the Doccano task failed: {text}"))
                return status.get("result")
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                raise TaskFailed(
                    f"{what}: the Doccano task was not done after {timeout:.0f} s",
                    hint="is the Celery worker running, on the same database as the web server? "
                    "see `annotate server logs`",
                )
            pause = poll if now - began < SLOW_AFTER else slow_poll
            if stop is not None:
                stop.wait(max(0.0, min(pause, left)))
            else:
                time.sleep(max(0.0, min(pause, left)))

    def import_errors(self, result: Any) -> list[str]:
        """Return the per-line errors an import task reported (``file:line: message``)."""
        errors = result.get("error") if isinstance(result, dict) else None
        out = []
        for e in errors or []:
            if isinstance(e, dict):
                where = f"{e.get('filename', '?')}:{e.get('line_num', '?')}"
                out.append(f"{where}: {e.get('message', e)}")
            else:
                out.append(str(e))
        return out

    def export_zip(
        self,
        project_id: int,
        dest: str | os.PathLike[str],
        *,
        only_approved: bool = False,
        timeout: float = 600.0,
    ) -> Path:
        """Run the JSONL export task and download its zip to ``dest``; return ``dest``.

        The body is streamed to ``dest`` and checked (length and zip directory), so a dropped
        connection raises ConnectionFailed instead of leaving a truncated archive behind.
        """
        data = self._request(
            "POST",
            f"projects/{int(project_id)}/download",
            json={"format": "JSONL", "exportApproved": bool(only_approved)},
            idempotent=True,  # a repeated export only starts a second, harmless export
            what="start export task",
        ).json()
        task_id = str(data["task_id"])
        self.wait_task(task_id, timeout=timeout, what="export")
        target = Path(dest)
        attempts = self.session.policy.attempts
        for attempt in range(attempts):
            try:
                self._download(project_id, task_id, target)
                return target
            except ConnectionFailed:
                target.unlink(missing_ok=True)
                # Downloading the finished export again is safe: retry a dropped transfer.
                if attempt + 1 >= attempts:
                    raise
                self.session.policy.sleep(self.session.policy.delay(attempt))
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(self, project_id: int, task_id: str, target: Path) -> None:
        """Stream a finished export's zip into ``target``; ConnectionFailed if it arrives incomplete."""
        try:
            response = self._request(
                "GET",
                f"projects/{int(project_id)}/download",
                params={"taskId": task_id},
                stream=True,
                headers={"Accept": "*/*"},
                what="download export",
            )
            expected_len = response.headers.get("Content-Length")
            n = 0
            with target.open("wb") as f:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    f.write(chunk)
                    n += len(chunk)
        except requests.exceptions.RequestException as e:
            raise ConnectionFailed(
                self._redact(f"download export: the connection to {self.url} failed: {describe_failure(e)}")
            ) from None
        if expected_len is not None and int(expected_len) != n:
            raise ConnectionFailed(
                f"download export: the connection dropped after {n} of {expected_len} bytes"
            )
        if not zipfile.is_zipfile(target):
            raise ConnectionFailed("download export: the archive is incomplete or not a zip file")
