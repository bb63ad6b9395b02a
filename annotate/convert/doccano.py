"""Doccano's files as records: every JSONL form it imports or exports, its export zip, its CoNLL.

- JSONL (or a ``.json`` document): ``label: [[s, e, l]]`` with or without ``id`` and ``Comments``,
  and ``entities`` + ``relations`` with or without relation ids (read by
  ``records.doccano_forms``); our own task and gold records are read as they are.
- the export zip: ``all.jsonl`` (a collaborative project: records with the example id) or one
  ``<user>.jsonl`` per member, which gives one record a (document, annotator).
- ``.conll``: Doccano's CoNLL import format (token TAB tag, IOB2, one example a sentence).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotate.convert.builder import BAD_INPUT, checked
from annotate.convert.ledger import Ledger, where
from annotate.convert.options import ConvertOptions
from annotate.errors import DataError
from annotate.fileio import iter_jsonl
from annotate.formats.doccano import record_from_export_row, repair_export_rows
from annotate.records import doccano_forms
from annotate.records.findings import ERROR
from annotate.records.model import Record

NAME = "doccano"
ALL_FILE = "all"


def read(options: ConvertOptions, ledger: Ledger) -> Iterator[Record]:
    """Yield the records of every input, in order."""
    for path in options.inputs:
        if path.suffix.lower() == ".zip":
            yield from read_export_zip(path, ledger)
        elif doccano_forms.is_conll_path(path):
            yield from read_conll(path, ledger)
        else:
            for line, obj in iter_lines(path):
                yield record_of(obj, str(path), line, ledger)


def iter_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` of a JSONL file, or of each object of a ``.json`` document."""
    if path.suffix.lower() != ".json":
        yield from iter_jsonl(path)
        return
    from annotate.records.validate import iter_json_document

    for line, obj, finding in iter_json_document(path, str(path)):
        if finding is not None:
            raise DataError(finding.message, path=str(path), line=finding.line, code=finding.code)
        yield line, obj


def record_of(obj: Any, path: str, line: int, ledger: Ledger, annotator: str | None = None) -> Record:
    """Return the record of one Doccano line (any of its forms, or ours), checked."""
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise DataError(
            "not a Doccano example: an object with a text is needed", path=path, line=line, code=BAD_INPUT
        )
    obj = doccano_forms.normalise(obj)
    for key in ("entities", "relations"):
        items = obj.get(key) or []
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise DataError(f"{key} is not a list of objects", path=path, line=line, code=BAD_INPUT)
    try:
        rec = Record.from_dict(obj)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(
            f"not a Doccano example ({type(e).__name__}: {e})", path=path, line=line, code=BAD_INPUT
        ) from None
    if annotator is not None:
        rec.annotator = annotator
    return checked(rec, path=path, line=line, ledger=ledger)


def read_conll(path: Path, ledger: Ledger) -> Iterator[Record]:
    """Yield the examples of a Doccano CoNLL file; a bad line is an error, a repaired tag said."""
    for line, obj, finding in doccano_forms.iter_conll(path, str(path)):
        if finding is not None:
            if finding.level == ERROR:
                raise DataError(finding.message, path=str(path), line=line, code=finding.code)
            ledger.repair("tag", "iob_i_without_b", where(str(path), line), finding.message)
            continue
        yield record_of(obj, str(path), line, ledger)


def read_export_zip(path: Path, ledger: Ledger) -> Iterator[Record]:
    """Yield the records of Doccano's export zip: per annotator, unless it holds ``all.jsonl``."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DataError(f"not a zip file ({e})", path=str(path), code=BAD_INPUT) from None
    with zf:
        for member in sorted(n for n in zf.namelist() if n.endswith(".jsonl")):
            stem = Path(member).stem
            annotator = None if stem == ALL_FILE else stem
            name = f"{path}!{member}"
            rows = member_rows(zf, member, name)
            for (line, _), row in zip(rows, repair_export_rows([r for _, r in rows]), strict=True):
                yield export_record(row, name, line, annotator, ledger)
        for other in sorted(n for n in zf.namelist() if not n.endswith(".jsonl") and not n.endswith("/")):
            ledger.skip(
                "file", "not_jsonl", where(f"{path}!{other}"), "only the .jsonl files of an export are read"
            )


def member_rows(zf: zipfile.ZipFile, member: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    """Return ``(line, row)`` of one JSONL file of the zip; bad JSON names its line."""
    rows: list[tuple[int, dict[str, Any]]] = []
    with zf.open(member) as raw:
        for line, text in enumerate(io.TextIOWrapper(raw, encoding="utf-8", newline=""), start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"invalid JSON: {e.msg} (column {e.colno})", path=name, line=line, code="E102"
                ) from None
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("text"), str):
                raise DataError(
                    "not an export row (id and text are needed)", path=name, line=line, code=BAD_INPUT
                )
            rows.append((line, row))
    return rows


def export_record(row: dict[str, Any], name: str, line: int, annotator: str | None, ledger: Ledger) -> Record:
    """Return the gold record of one export row (either form), checked."""
    if "entities" not in row and isinstance(row.get("label"), list):
        row = dict(row, entities=doccano_forms.label_entities(row["label"]))
        row.pop("label")
    row = dict(row, relations=doccano_forms.with_relation_ids(row.get("relations") or []))
    try:
        rec, stored_hash = record_from_export_row(row)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(
            f"not an export row ({type(e).__name__}: {e})", path=name, line=line, code=BAD_INPUT
        ) from None
    if stored_hash is not None and stored_hash != rec.doc_hash:
        ledger.repair(
            "document",
            "doc_hash_recomputed",
            where(name, line),
            f"{rec.doc_id}: the text changed since it was pushed",
        )
    rec.annotator = annotator
    return checked(rec, path=name, line=line, ledger=ledger)
