"""Our JSONL format: one Record a line (see annotate.records.model for the keys)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from annotate.errors import DataError
from annotate.fileio import is_stdio, iter_jsonl, write_jsonl
from annotate.records import doccano_forms
from annotate.records.model import Record

if TYPE_CHECKING:
    from annotate.records.validate import ValidationReport


def read_records(path: str | os.PathLike[str]) -> Iterator[tuple[int, Record]]:
    """Yield ``(line_number, Record)`` for each record of a JSONL file.

    Doccano's own JSONL forms are read too (see ``annotate.records.doccano_forms``).
    This only parses; it does not validate. Run ``annotate.records.validate`` first where the input
    is untrusted. A record too broken to parse raises a DataError naming file:line.
    """
    name = "<stdin>" if is_stdio(path) else str(path)
    for lineno, obj in iter_jsonl(path):
        if not isinstance(obj, dict):
            raise DataError("a record must be a JSON object", path=name, line=lineno, pointer="", code="E105")
        try:
            rec = Record.from_dict(doccano_forms.normalise(obj))
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise _record_error(name, lineno, e) from None
        yield lineno, rec


def read_validated(
    path: str | os.PathLike[str], report: ValidationReport, **checks: Any
) -> Iterator[tuple[int, Record | DataError]]:
    """Yield ``(line_number, Record)`` for each record of a file as the validator checks it,
    or ``(line_number, DataError)`` (E106) for a JSON value that is not a record.

    The findings go to ``report`` (complete when the iteration ends); ``checks`` are
    :func:`annotate.validate.iter_validated`'s options. The file is read once.
    """
    from annotate.records.validate import iter_validated  # jsonschema is only needed when validating

    for lineno, obj in iter_validated(path, report, **checks):
        try:
            yield lineno, Record.from_dict(obj)
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            yield lineno, _record_error(report.path, lineno, e)


def _record_error(name: str, lineno: int, e: Exception) -> DataError:
    """Return the error (E106) for a JSON object at ``name:lineno`` that is not a record."""
    return DataError(
        f"not a valid record ({type(e).__name__}: {e})",
        path=name,
        line=lineno,
        code="E106",
        hint="run `annotate validate` on the file for every problem with its JSON path",
    )


def write_records(path: str | os.PathLike[str], records: Iterable[Record], *, force: bool = False) -> int:
    """Write records atomically, one a line. Returns the count."""
    return write_jsonl(path, (r.to_dict() for r in records), force=force)
