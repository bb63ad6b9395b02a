"""Validation: the JSON Schemas plus the semantic checks that Doccano does not make.

Every command that reads or writes records uses this module: push validates before it
uploads, pull before it renames its output into place, and the tests of export and
pre-annotation assert validity with it.

- ``Validator(kind, recipe)`` is built once per file; ``.check(obj, line)`` returns the
  findings of one record (schema first, then the semantic checks).
- ``validate_file(path)`` collects *every* finding of a file, file-level ones included
  (invalid JSON, not UTF-8, BOM, non-object, duplicate ``doc_id``), into a ValidationReport.
- ``validate_records(records, kind=...)`` does the same for records in memory.

Each finding has a stable code (see ``CHECKS``), a level (``error`` or ``warning``), the
physical line and a JSON pointer into the record. The per-record checks themselves are in
:mod:`annotate.records.checks`, the findings and reports in :mod:`annotate.records.findings`.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from annotate.errors import ConfigError
from annotate.fileio import is_stdio, open_binary
from annotate.recipe import Recipe
from annotate.records import doccano_forms
from annotate.records.checks import (
    GOLD_KEYS,
    RecordRules,
    _ptr,
    check_doc_id,
    check_entities,
    check_meta,
    check_overlaps,
    check_relations,
    check_text,
    fast_schema_ok,
)
from annotate.records.findings import (
    CHECKS,
    ERROR,
    WARNING,
    Check,
    Finding,
    ValidationFailed,
    ValidationReport,
    decode_utf8,
)
from annotate.records.model import Record
from annotate.records.spans import TokenAligner, _align, edge_fix

# The names other modules and the tests import from here.
__all__ = [
    "CHECKS",
    "ERROR",
    "GOLD_KEYS",
    "KINDS",
    "RECORD_KINDS",
    "WARNING",
    "Check",
    "Finding",
    "TokenAligner",
    "ValidationFailed",
    "ValidationReport",
    "Validator",
    "_align",
    "_fast_schema_ok",
    "detect_kind",
    "edge_fix",
    "guess_kind",
    "iter_json_document",
    "iter_jsonl_lenient",
    "iter_validated",
    "render_json",
    "render_text",
    "validate_file",
    "validate_paths",
    "validate_recipe_file",
    "validate_records",
]

KINDS = ("task", "gold", "article", "recipe")
RECORD_KINDS = ("task", "gold", "article")
_fast_schema_ok = fast_schema_ok


# --------------------------------------------------------------------------- the validator


def detect_kind(obj: Any) -> str:
    """Return the record kind of a JSON object: gold, task or article (task if unclear)."""
    if isinstance(obj, dict):
        if any(k in obj for k in GOLD_KEYS):
            return "gold"
        # A Doccano sequence-labeling record ("label": [[start, end, label]]) is task-shaped
        # data in the wrong format: checking it as a task says so, as an article would not.
        if "entities" in obj or "relations" in obj or isinstance(obj.get("label"), list):
            return "task"
        if "text" in obj:
            return "article"
    return "task"


class Validator:
    """Checks records of one kind against a recipe. Build once per file, then ``check`` each record.

    It remembers the doc_ids it has seen (to report duplicates); ``reset()`` forgets them.
    """

    def __init__(
        self, kind: str, recipe: Recipe | None = None, *, path: str | None = None, tokens: bool = True
    ) -> None:
        if kind not in RECORD_KINDS:
            raise ValueError(f"kind must be one of {RECORD_KINDS}, not {kind!r}")
        from annotate.records import schemas

        self.kind = kind
        self.recipe = recipe
        self.path = path
        self.schema = schemas.validator(kind)
        # No recipe means the recipe defaults: no overlaps, no self-loops (Doccano's relation
        # projects reject overlapping spans and drop them silently on import), any label.
        self.allow_overlapping = recipe.allow_overlapping if recipe else False
        self.allow_self_loops = recipe.allow_self_loops if recipe else False
        self.labels = frozenset(recipe.label_names) if recipe and recipe.labels else None
        self.relation_types = (
            {r.name: r for r in recipe.relation_types} if recipe and recipe.relation_types else None
        )
        # The token check needs spaCy (seconds to import); callers that act only on errors skip it.
        self.aligner = TokenAligner.for_lang(recipe.lang) if recipe and tokens else None
        self.rules = RecordRules(
            path,
            self.allow_overlapping,
            self.allow_self_loops,
            self.labels,
            self.relation_types,
            self.aligner,
        )
        self._seen: dict[str, int | None] = {}

    def reset(self) -> None:
        self._seen.clear()

    def check(self, obj: Any, line: int | None = None) -> list[Finding]:
        """Return the findings of one record (schema first, then semantic checks)."""
        if isinstance(obj, Record):
            obj = obj.to_dict()
        if not isinstance(obj, dict):
            return [
                self.rules.finding("E105", f"a record must be a JSON object, not {_json_type(obj)}", line, "")
            ]
        out: list[Finding] = []
        if not fast_schema_ok(obj, self.kind):
            for err in self.schema.iter_errors(obj):
                message = err.message if len(err.message) < 200 else _schema_msg(err)
                out.append(self.rules.finding("E110", message, line, _ptr(*err.absolute_path)))
        self._check_doc(obj, line, out)
        if self.kind != "article":
            self._check_annotations(obj, line, out)
        return out

    def _check_doc(self, obj: dict[str, Any], line: int | None, out: list[Finding]) -> None:
        check_doc_id(self.rules, obj, self.kind, self._seen, line, out)
        if self.kind == "task":
            check_meta(self.rules, obj, line, out)
        text = obj.get("text")
        if isinstance(text, str):
            check_text(self.rules, text, obj, line, out)

    def _check_annotations(self, obj: dict[str, Any], line: int | None, out: list[Finding]) -> None:
        text = obj.get("text")
        ents = obj.get("entities")
        if not isinstance(text, str) or not isinstance(ents, list):
            return
        spans, ids, labels_by_id = check_entities(self.rules, text, ents, line, out)
        check_overlaps(self.rules, spans, text, line, out)
        rels = obj.get("relations")
        if isinstance(rels, list):
            check_relations(self.rules, rels, labels_by_id, ids, line, out)


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return type(v).__name__


def _schema_msg(err: Any) -> str:
    """A short message for schema errors whose default message quotes a whole record."""
    if err.validator == "anyOf" and err.schema_path and "required" in json.dumps(err.schema.get("anyOf", "")):
        keys = [next(iter(s.get("required", [])), "?") for s in err.schema["anyOf"]]
        return f"needs at least one of {', '.join(keys)}"
    return f"fails the schema's {err.validator!r} rule"


# --------------------------------------------------------------------------- files


_BOM = b"\xef\xbb\xbf"


def _bom_finding(name: str) -> Finding:
    """E103 for a file that starts with a UTF-8 byte order mark (JSONL or whole-file JSON)."""
    return Finding(
        "E103",
        ERROR,
        "the file starts with a UTF-8 byte order mark; save it without",
        name,
        1,
        None,
        {"strip_bom": True},
    )


def _physical_lines(f: IO[bytes]) -> Iterator[bytes]:
    """Yield lines split as text mode with ``newline=''`` splits them (\\n, \\r\\n and \\r)."""
    for raw in f:
        if b"\r" in raw[:-2]:
            yield from raw.splitlines(keepends=True)
        else:
            yield raw


def iter_jsonl_lenient(path: str | os.PathLike[str], name: str) -> Iterator[tuple[int, Any, Finding | None]]:
    """Yield ``(line, value, None)`` per JSON line, or ``(line, None, finding)`` per broken line.

    Unlike ``fileio.iter_jsonl`` it never stops at a broken line: every one is reported.
    Blank lines are skipped but counted, so line numbers are physical.
    """
    f = open_binary(path)
    try:
        for lineno, raw in enumerate(_physical_lines(f), start=1):
            if lineno == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
                yield 1, None, _bom_finding(name)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield (
                    lineno,
                    None,
                    Finding(
                        "E104",
                        ERROR,
                        f"not UTF-8: {e.reason} at byte {e.start} of the line",
                        name,
                        lineno,
                        None,
                    ),
                )
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_constant=_reject_constant)
            except ValueError as e:  # JSONDecodeError, or NaN/Infinity
                yield lineno, None, Finding("E102", ERROR, _json_msg(e), name, lineno, None)
                continue
            except RecursionError:
                yield (
                    lineno,
                    None,
                    Finding("E102", ERROR, "invalid JSON: nested too deeply", name, lineno, None),
                )
                continue
            yield lineno, obj, None
    finally:
        if not is_stdio(path):
            f.close()


def iter_json_document(path: str | os.PathLike[str], name: str) -> Iterator[tuple[int, Any, Finding | None]]:
    """Yield the record(s) of a whole-file ``.json`` document: one object, or an array of them."""
    with open_binary(path) as f:
        data = f.read()
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
        yield 1, None, _bom_finding(name)
    s = decode_utf8(data, name)
    if isinstance(s, Finding):
        yield s.line or 1, None, s
        return
    dec = json.JSONDecoder(parse_constant=_reject_constant)
    ws = re.compile(r"\s*")
    pos = ws.match(s, 0).end()  # type: ignore[union-attr]
    try:
        if s.startswith("[", pos):
            pos = ws.match(s, pos + 1).end()  # type: ignore[union-attr]
            if s.startswith("]", pos):
                return
            while True:
                line = s.count("\n", 0, pos) + 1
                obj, pos = dec.raw_decode(s, pos)
                yield line, obj, None
                pos = ws.match(s, pos).end()  # type: ignore[union-attr]
                if s.startswith(",", pos):
                    pos = ws.match(s, pos + 1).end()  # type: ignore[union-attr]
                    continue
                if s.startswith("]", pos):
                    pos += 1
                    break
                raise json.JSONDecodeError("expected ',' or ']'", s, pos)
        else:
            line = s.count("\n", 0, pos) + 1
            obj, pos = dec.raw_decode(s, pos)
            yield line, obj, None
        if s[pos:].strip():
            raise json.JSONDecodeError("extra data after the document", s, ws.match(s, pos).end())  # type: ignore[union-attr]
    except ValueError as e:  # JSONDecodeError, or NaN/Infinity
        line = e.lineno if isinstance(e, json.JSONDecodeError) else s.count("\n", 0, pos) + 1
        yield line, None, Finding("E102", ERROR, _json_msg(e), name, line, None)
    except RecursionError:
        yield 1, None, Finding("E102", ERROR, "invalid JSON: nested too deeply", name, 1, None)


def _json_msg(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"invalid JSON: {e.msg} (column {e.colno})"
    return f"invalid JSON: {e}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (other tools reject it)")


def guess_kind(path: str | os.PathLike[str]) -> str | None:
    """Return the kind implied by a file name (``.toml`` is a recipe), else None."""
    return "recipe" if not is_stdio(path) and str(path).endswith(".toml") else None


def validate_file(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    recipe: Recipe | None = None,
    max_errors: int | None = None,
    progress: Callable[[int], None] | None = None,
    tokens: bool = True,
) -> ValidationReport:
    """Validate a JSONL file (or a ``.json`` document, a Doccano ``.conll`` file, or a ``.toml``
    recipe); return every finding.

    ``kind`` is detected from the first record when not given. ``max_errors`` stops after that
    many errors (the report is then ``truncated``). ``tokens=False`` skips the token-alignment
    warning (and spaCy). ``-`` reads stdin. Raises DataError (E101)
    only when the file cannot be opened; everything wrong inside it is a finding.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if (kind or guess_kind(path)) == "recipe":
        return validate_recipe_file(path)
    report = ValidationReport(path="<stdin>" if is_stdio(path) else str(path), kind=kind or "task")
    for _ in iter_validated(
        path, report, kind=kind, recipe=recipe, max_errors=max_errors, progress=progress, tokens=tokens
    ):
        pass
    return report


def iter_validated(
    path: str | os.PathLike[str],
    report: ValidationReport,
    *,
    kind: str | None = None,
    recipe: Recipe | None = None,
    max_errors: int | None = None,
    progress: Callable[[int], None] | None = None,
    tokens: bool = True,
) -> Iterator[tuple[int, Any]]:
    """Validate a JSONL file (or a ``.json`` document) record by record, adding every finding
    to ``report``; yield ``(line, value)`` for each record that parsed as JSON, once checked.

    This is :func:`validate_file` for a caller that also reads the records (export does, so
    the file is parsed once, not twice). The report is complete when the iteration ends.
    """
    name = report.path
    whole = not is_stdio(path) and str(path).endswith(".json")
    if doccano_forms.is_conll_path(path):
        lines = doccano_forms.iter_conll(path, name)
    else:
        lines = iter_json_document(path, name) if whole else iter_jsonl_lenient(path, name)
    validator: Validator | None = None
    n_err = 0
    for lineno, obj, finding in lines:
        if finding is not None:
            found = [finding]
        else:
            # Doccano's own forms are read as the tasks they are (see records.doccano_forms).
            obj = doccano_forms.normalise(obj)
            if validator is None:
                report.kind = kind or detect_kind(obj)
                validator = Validator(report.kind, recipe, path=name, tokens=tokens)
            report.n_records += 1
            found = validator.check(obj, lineno)
            if progress is not None:
                progress(1)
        for fd in found:
            report.findings.append(fd)
            if fd.level == ERROR:
                n_err += 1
                if max_errors is not None and n_err >= max_errors:
                    report.truncated = True
                    return
        if finding is None:
            yield lineno, obj
    if report.n_records == 0 and not report.findings:
        report.findings.append(Finding("W108", WARNING, "the file holds no record", name, None, None))


def validate_records(
    records: Iterable[Record | dict[str, Any]],
    *,
    kind: str,
    recipe: Recipe | None = None,
    path: str = "<records>",
    tokens: bool = True,
) -> ValidationReport:
    """Validate records in memory; ``line`` in each finding is the 1-based record number."""
    v = Validator(kind, recipe, path=path, tokens=tokens)
    report = ValidationReport(path=path, kind=kind)
    for i, rec in enumerate(records, start=1):
        report.n_records += 1
        report.findings.extend(v.check(doccano_forms.normalise(rec), i))
    return report


def validate_recipe_file(path: str | os.PathLike[str]) -> ValidationReport:
    """Validate a recipe file: TOML syntax, the recipe schema, then the recipe loader's checks."""
    import tomllib

    from annotate.records import schemas

    name = "<stdin>" if is_stdio(path) else str(path)
    report = ValidationReport(path=name, kind="recipe")
    f = open_binary(path)
    try:
        data = f.read()
    finally:
        if not is_stdio(path):
            f.close()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        report.findings.append(Finding("E104", ERROR, f"not UTF-8: {e.reason}", name, line, None))
        return report
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        report.findings.append(
            Finding("E150", ERROR, f"invalid TOML: {e}", name, int(m.group(1)) if m else None, None)
        )
        return report
    report.n_records = 1
    if "recipe" in schemas.names():
        for err in schemas.validator("recipe").iter_errors(doc):
            report.findings.append(Finding("E110", ERROR, err.message, name, None, _ptr(*err.absolute_path)))
    if not report.findings and not is_stdio(path):
        from annotate import recipe as recipe_mod

        load = getattr(recipe_mod, "load_recipe", None)
        if load is not None:
            try:
                load(Path(path))
            except ConfigError as e:
                report.findings.append(Finding("E151", ERROR, e.message, name, None, None))
    return report


def validate_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    kind: str | None = None,
    recipe: Recipe | None = None,
    max_errors: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ValidationReport]:
    """Validate several files; ``max_errors`` counts errors over all of them. Returns one report a file."""
    reports: list[ValidationReport] = []
    budget = max_errors
    for p in paths:
        if budget is not None and budget <= 0:
            break
        rep = validate_file(p, kind=kind, recipe=recipe, max_errors=budget, progress=progress)
        reports.append(rep)
        if budget is not None:
            budget -= rep.n_errors
    return reports


def render_text(reports: list[ValidationReport], *, strict: bool = False) -> str:
    """Return the findings, one ``file:line: /pointer: [CODE] message`` a line, then a summary table."""
    lines = [str(f) for rep in reports for f in rep.findings]
    counts: Counter[str] = Counter()
    for rep in reports:
        counts.update(rep.counts)
    n_rec = sum(r.n_records for r in reports)
    n_err = sum(r.n_errors for r in reports)
    n_warn = sum(r.n_warnings for r in reports)
    if lines:
        lines.append("")
    if counts:
        rows = [
            (
                code,
                CHECKS[code].name if code in CHECKS else code,
                CHECKS[code].level if code in CHECKS else "",
            )
            for code in sorted(counts)
        ]
        w_name = max(len("check"), *(len(r[1]) for r in rows))
        lines.append(f"{'code':<6} {'check':<{w_name}} {'level':<8} {'count':>7}")
        for code, name, level in rows:
            lines.append(f"{code:<6} {name:<{w_name}} {level:<8} {counts[code]:>7}")
        lines.append("")
    passed = all(r.passed(strict=strict) for r in reports)
    truncated = any(r.truncated for r in reports)
    verdict = "valid" if passed else "INVALID"
    files = ", ".join(f"{r.path} ({r.kind})" for r in reports)
    lines.append(
        f"{verdict}: {len(reports)} file(s), {n_rec} records, {n_err} errors, {n_warn} warnings"
        + (" (stopped early: --max-errors)" if truncated else "")
        + f" [{files}]"
    )
    return "\n".join(lines)


def render_json(reports: list[ValidationReport], *, strict: bool = False) -> str:
    """Return every report as one JSON document (``valid`` says whether all passed)."""
    return json.dumps(
        {
            "valid": all(r.passed(strict=strict) for r in reports),
            "strict": strict,
            "files": [r.to_dict() for r in reports],
        },
        ensure_ascii=False,
        indent=2,
    )
