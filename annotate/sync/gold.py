"""The gold records of a pull: built from the views, ``doc_hash`` checked, validated, written atomically.

Every record's ``doc_hash`` stored at push time is checked against its text: a mismatch means
the text changed on the server, and the pull fails (exit 1) rather than write it. The output is
written to a temp file beside the target, validated as gold, then renamed; a failed pull leaves
no file and an existing one is replaced only with ``force``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from annotate.errors import DataError, HashMismatch
from annotate.fileio import atomic_write, dumps_line, is_stdio
from annotate.formats.doccano import record_from_parts
from annotate.recipe import Recipe
from annotate.records.model import Record, text_hash
from annotate.sync.fetch import Fetched
from annotate.sync.options import PullOptions
from annotate.sync.views import views


def gold_records(
    fetched: Fetched,
    comments: dict[int, list[dict[str, Any]]],
    options: PullOptions,
    *,
    annotator: str | None = None,
) -> list[Record]:
    """Return the records of the fetched examples, sorted; raise HashMismatch if a text changed.

    ``annotator`` names the one person whose work the project holds (a team's member project):
    every record is theirs, whoever made each span (the pre-annotations were the admin's).
    """
    records: list[Record] = []
    mismatched: list[str] = []
    for ex in fetched.examples:
        eid = int(ex["id"])
        spans, rels = fetched.annotations.get(eid, ([], []))
        confirmed_by = fetched.confirmers.get(eid)
        for who, (sp, rl), confirmed in views(
            spans, rels, fetched.users, confirmed_by, options.per_annotator
        ):
            if options.only_approved and not confirmed:
                continue
            rec, stored = record_from_parts(
                example_id=eid,
                text=ex.get("text") or "",
                meta=ex.get("meta") or {},
                spans=sp,
                relations=rl,
                confirmed=confirmed,
                comments=sorted(comments.get(eid, []), key=lambda c: str(c.get("created_at"))),
                annotator=annotator or who,
            )
            if stored is not None and stored != text_hash(rec.text):
                mismatched.append(rec.doc_id)
                continue
            records.append(rec)
    if mismatched:
        raise HashMismatch(
            f"{len(mismatched)} example(s) hold a text that no longer matches its doc_hash, e.g. "
            + ", ".join(repr(d) for d in mismatched[:5]),
            hint="someone changed the text in Doccano; nothing was written",
        )
    records.sort(key=lambda r: (r.doc_id, r.annotator or "", r.example_id or 0))
    return records


def gold_recipe(proj: dict[str, Any], *, per_annotator: bool) -> Recipe:
    """Return the recipe pulled records are validated against: the project's own rules."""
    return Recipe(
        name="doccano-project",
        version="0",
        allow_overlapping=bool(proj.get("allow_overlapping")) or not per_annotator,
        allow_self_loops=True,
    )


def write_gold(path: str | os.PathLike[str], records: list[Record], recipe: Recipe, *, force: bool) -> None:
    """Write records to a temp file beside ``path``, validate it as gold, then rename it into place."""
    from annotate.records.validate import ERROR, validate_file, validate_records

    if is_stdio(path):
        # Standard output cannot be renamed into place: validate in memory, then write.
        report = validate_records([r.to_dict() for r in records], kind="gold", recipe=recipe, tokens=False)
        _raise_invalid([f for f in report.findings if f.level == ERROR], "<stdout>")
        for rec in records:
            sys.stdout.write(dumps_line(rec.to_dict()) + "\n")
        sys.stdout.flush()
        return
    with atomic_write(path, force=force) as f:
        for rec in records:
            f.write(dumps_line(rec.to_dict()) + "\n")
        f.flush()
        if records:
            # Validate the bytes as written, before the rename makes them the user's file.
            report = validate_file(f.name, kind="gold", recipe=recipe, tokens=False)
            _raise_invalid([x for x in report.findings if x.level == ERROR], str(path), f.name)


def _raise_invalid(errors: list[Any], name: str, tmp: str | None = None) -> None:
    """Raise DataError (E162) listing the first validation errors of pulled records, if any."""
    if not errors:
        return
    shown = "; ".join(str(e).replace(tmp, name) if tmp else str(e) for e in errors[:5])
    raise DataError(
        f"the pulled records are not valid gold ({len(errors)} error(s)): {shown}",
        code="E162",
        hint="nothing was written; this is a bug or a server-side inconsistency",
    )
