"""The batches a cluster run has done, kept beside its output (``OUT.parts/``) for ``--resume``.

Each batch's annotations are one JSON file named by the digest of what produced them: the
worker spec, the pipeline's fingerprint and the batch's texts. A resumed run takes a batch
from here when its digest matches, so a changed input, recipe or model is recomputed, never
reused. The folder is a cache: it is removed when the output has been written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from annotate.fileio import atomic_write

SUFFIX = ".parts"


def parts_folder(out: str) -> Path:
    """Return the folder beside ``out`` where its done batches are kept."""
    return Path(f"{out}{SUFFIX}")


def batch_digest(spec_key: str, texts: list[str]) -> str:
    """Return the digest naming a batch: the spec and pipeline (``spec_key``), and the texts."""
    h = hashlib.sha256(spec_key.encode("utf-8"))
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


class DoneBatches:
    """The done batches of one output: read back on ``--resume``, else started empty."""

    def __init__(self, folder: Path, *, resume: bool) -> None:
        self.folder = folder
        self.reused = 0
        if not resume and folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)

    def _file(self, digest: str) -> Path:
        return self.folder / f"{digest}.json"

    def get(self, digest: str) -> list[dict[str, Any]] | None:
        """Return the annotations of a batch done before, or None."""
        try:
            with open(self._file(digest), encoding="utf-8") as f:
                stored: list[dict[str, Any]] = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None  # not done, or cut short: computed again
        self.reused += 1
        return stored

    def put(self, digest: str, annotations: list[dict[str, Any]]) -> None:
        with atomic_write(self._file(digest), force=True) as f:
            json.dump(annotations, f, ensure_ascii=False, separators=(",", ":"))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def remove_if_empty(self) -> None:
        """Remove the folder of a run that failed before any batch was done."""
        with contextlib.suppress(OSError):
            self.folder.rmdir()
