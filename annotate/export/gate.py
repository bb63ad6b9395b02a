"""The input of an export: a gold JSONL file's records, whose first reading is the validation gate.

Export reads its input twice (see :mod:`annotate.export.exporter`), so the records come as a
re-iterable of ``(file:line, Record)`` pairs. With validation on, the first iteration also
validates every record and refuses the file, before anything is written, when a record cannot
be read safely; every other finding is only counted, for the manifest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotate.errors import DataError
from annotate.fileio import is_stdio
from annotate.formats.jsonl import read_records, read_validated
from annotate.recipe import Recipe
from annotate.records.model import Record

# Validation findings that make a file unsafe to read at all; everything else (overlaps,
# misaligned spans, recorded-text mismatches, ...) export survives and reports.
BLOCKING_FINDINGS = ("E102", "E103", "E104", "E105", "E110")


@dataclass
class InputFile:
    """An export's input file: its records, and what the manifest says of it."""

    name: str
    records: Iterable[tuple[str, Record]]
    sha256: str | None
    gate: GatedFileRecords | None

    def info(self, n_records: int) -> dict[str, Any]:
        """Return the manifest's ``input``: the file's name, digest, records and the gate's counts."""
        info: dict[str, Any] = {"file": Path(self.name).name, "sha256": self.sha256, "records": n_records}
        if self.gate is not None:
            info["validation"] = self.gate.summary()
        return info


def open_input(input_path: str | os.PathLike[str], *, recipe: Recipe | None, validate: bool) -> InputFile:
    """Return the input file ``input_path`` (``-`` is stdin, read into memory at once).

    With ``validate`` (not for stdin) its first reading is the gate; nothing is read yet.
    """
    if is_stdio(input_path):
        name = "<stdin>"
        return InputFile(name, list(_file_records(input_path, name)), None, None)
    name = str(input_path)
    gate = GatedFileRecords(input_path, name, recipe) if validate else None
    records = gate if gate is not None else FileRecords(input_path, name)
    return InputFile(name, records, file_sha256(input_path), gate)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return ``sha256:<hex>`` of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _file_records(path: str | os.PathLike[str], name: str) -> Iterator[tuple[str, Record]]:
    for lineno, rec in read_records(path):
        yield f"{Path(name).name}:{lineno}", rec


class FileRecords:
    """The ``(file:line, Record)`` pairs of a JSONL file, read afresh on each iteration."""

    def __init__(self, path: str | os.PathLike[str], name: str) -> None:
        self.path, self.name = path, name

    def __iter__(self) -> Iterator[tuple[str, Record]]:
        return _file_records(self.path, self.name)


class GatedFileRecords(FileRecords):
    """A JSONL file's pairs whose first reading is also its validation gate.

    The first iteration validates each record as it parses it (``iter_validated``) and, at its
    end, refuses the file when a record cannot be read safely (bad JSON or encoding, not an
    object, schema errors). Export's first pass writes nothing, so the refusal comes before any
    output. Later iterations read the file as ``FileRecords`` does.
    """

    def __init__(self, path: str | os.PathLike[str], name: str, recipe: Recipe | None) -> None:
        super().__init__(path, name)
        self.recipe = recipe
        self.report: Any = None

    def __iter__(self) -> Iterator[tuple[str, Record]]:
        if self.report is not None:
            return super().__iter__()
        return self._first()

    def _first(self) -> Iterator[tuple[str, Record]]:
        from annotate.records.validate import ValidationReport

        self.report = report = ValidationReport(path=self.name, kind="task")
        base = Path(self.name).name
        unreadable: DataError | None = None
        # tokens=False: token alignment is only a warning to the gate, and export aligns every
        # span itself and reports each change, so checking it here would tokenise every text twice.
        for lineno, rec in read_validated(self.path, report, recipe=self.recipe, tokens=False):
            if isinstance(rec, DataError):
                # Not an object (a finding, E105, the gate refuses below) or not a record.
                unreadable = unreadable or rec
                continue
            yield f"{base}:{lineno}", rec
        self._refuse_unsafe(report)
        if unreadable is not None:
            raise unreadable

    def _refuse_unsafe(self, report: Any) -> None:
        """Raise DataError E180 when the gate found records that cannot be read safely."""
        blocking = [f for f in report.findings if f.code in BLOCKING_FINDINGS]
        if blocking:
            first = "; ".join(str(f) for f in blocking[:3])
            more = f" (and {len(blocking) - 3} more)" if len(blocking) > 3 else ""
            raise DataError(
                f"{len(blocking)} records cannot be read safely: {first}{more}",
                hint=f"run `annotate validate {self.path}` for every finding",
                code="E180",
            )

    def summary(self) -> dict[str, Any]:
        """The gate's counts, for the manifest."""
        r = self.report
        return {
            "kind": r.kind,
            "errors": r.n_errors,
            "warnings": r.n_warnings,
            "counts": dict(sorted(r.counts.items())),
        }
