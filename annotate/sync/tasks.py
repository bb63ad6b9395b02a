"""The tasks a push reads: each validated as it is parsed, a bad one refused with its line and why."""

from __future__ import annotations

import os

from annotate.errors import DataError
from annotate.fileio import is_stdio
from annotate.recipe import Recipe
from annotate.records.model import Record, text_hash
from annotate.sync.report import Refusal

MAX_REFUSALS_SHOWN = 20


def load_tasks(
    path: str | os.PathLike[str], recipe: Recipe
) -> tuple[list[tuple[int, Record]], list[Refusal]]:
    """Return the valid tasks with their line numbers, and the refusals (one per bad line).

    The file (or stdin) is read once: each record is checked by the validator as it is parsed.
    """
    from annotate.formats.jsonl import read_validated
    from annotate.records.validate import ERROR, ValidationReport

    report = ValidationReport(path="<stdin>" if is_stdio(path) else str(path), kind="task")
    parsed: list[tuple[int, Record]] = []
    unreadable: dict[int, Refusal] = {}
    # Push acts on errors only; the token check (a warning) would import spaCy, seconds of a push.
    for lineno, rec in read_validated(path, report, kind="task", recipe=recipe, tokens=False):
        if isinstance(rec, DataError):
            unreadable[lineno] = Refusal(lineno, None, rec.message)
        else:
            parsed.append((lineno, rec))
    refusals: dict[int, Refusal] = {}
    for f in report.findings:
        if f.level == ERROR and (f.line or 0) not in refusals:
            where = f"{f.pointer}: " if f.pointer else ""
            refusals[f.line or 0] = Refusal(f.line or 0, None, f"{where}[{f.code}] {f.message}")
    for lineno, refusal in unreadable.items():
        refusals.setdefault(lineno, refusal)
    good: list[tuple[int, Record]] = []
    seen: dict[str, int] = {}
    for lineno, rec in parsed:
        if lineno in refusals:
            continue
        problem = semantic_problem(rec, recipe)
        if problem is None and rec.doc_id in seen:
            problem = f"duplicate doc_id {rec.doc_id!r} (first at line {seen[rec.doc_id]})"
        if problem is not None:
            refusals[lineno] = Refusal(lineno, rec.doc_id, problem)
            continue
        seen[rec.doc_id] = lineno
        good.append((lineno, rec))
    return good, sorted(refusals.values(), key=lambda r: r.line)


def semantic_problem(rec: Record, recipe: Recipe) -> str | None:
    """Return why Doccano would mangle this task (it drops or duplicates silently), or None.

    These re-check, right before upload, what the server fails to check itself.
    """
    n = len(rec.text)
    if not rec.text:
        return "empty text (Doccano refuses it)"
    if rec.doc_hash != text_hash(rec.text):
        return "doc_hash does not match the text"
    ids: set[int] = set()
    labels = set(recipe.label_names)
    for s in rec.entities:
        if s.id in ids:
            return f"entity id {s.id} is used twice"
        ids.add(s.id)
        if not (0 <= s.start < s.end <= n):
            return f"entity {s.id} [{s.start}, {s.end}) is outside the text (length {n}) or empty"
        if labels and s.label not in labels:
            return f"entity {s.id} has label {s.label!r}, which the recipe does not declare"
    if not recipe.allow_overlapping:
        spans = sorted(rec.entities, key=lambda s: (s.start, s.end))
        for a, b in zip(spans, spans[1:], strict=False):
            if b.start < a.end:
                return f"entities {a.id} and {b.id} overlap, and the recipe does not allow overlapping"
    by_id = rec.span_by_id()
    types = set(recipe.relation_names)
    for r in rec.relations:
        if r.head not in by_id or r.tail not in by_id:
            return f"relation {r.id} points to a missing entity"
        if r.head == r.tail and not recipe.allow_self_loops:
            return f"relation {r.id} is a self-loop"
        if types and r.label not in types:
            return f"relation {r.id} has type {r.label!r}, which the recipe does not declare"
    return None


def refused_error(path: str | os.PathLike[str], refusals: list[Refusal]) -> DataError:
    """Return the error (E160) that refuses a push of invalid tasks, listing the first of them."""
    name = "<stdin>" if is_stdio(path) else str(path)
    shown = "\n".join(f"  {name}:{r.line}: {r.reason}" for r in refusals[:MAX_REFUSALS_SHOWN])
    more = len(refusals) - MAX_REFUSALS_SHOWN
    return DataError(
        f"{len(refusals)} invalid task(s); nothing was uploaded:\n{shown}"
        + (f"\n  ... and {more} more" if more > 0 else ""),
        path=name,
        line=refusals[0].line,
        code="E160",
        hint="fix them (`annotate validate` lists all), or pass --skip-invalid to push the rest",
    )
