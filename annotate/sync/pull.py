"""``annotate pull``: a Doccano project back into gold records, written atomically.

The annotations come either from Doccano's export task (one zip for the whole project) or from
two REST calls per example; :func:`choose_method` picks the faster for the project's size
(measured: see ``REST_MAX_EXAMPLES``). The examples themselves (text, meta, confirmed state)
come from the REST example list, whose meta is exactly what was imported, except on the export
path of a collaborative project: there the export rows of examples we pushed carry the same
text and meta (checked row by row, see ``_example_from_row``), and ``?confirmed=true`` lists the
confirmed ones, because the full list costs Doccano several queries per example.

In a collaborative project ``per_annotator`` uses REST, the only path that says who made each
span. Without collaborative annotation Doccano's REST lists show only the caller's own spans
and confirmations, so the export is used: one file per member, which also keeps annotators
apart; a second export of the approved examples says who confirmed what.

Every record's ``doc_hash`` stored at push time is checked against its text: a mismatch means
the text changed on the server, and the pull fails (exit 1) rather than write it.

The output is written to a temp file beside the target, validated as gold, then renamed; a
failed pull leaves no file and an existing one is replaced only with ``force``.

``since`` compares the new snapshot with an earlier pull and writes a diff beside the output
(``GOLD.diff.jsonl`` for ``GOLD.jsonl``). One JSON object a line, one line per document (per
document and annotator with ``per_annotator``) that changed, sorted by ``doc_id``::

    {"doc_id": "a1", "annotator": null, "status": "added" | "removed" | "changed",
     "example_id": 12, "text_changed": false,
     "confirmed": {"old": false, "new": true},                    # only when it changed
     "spans": {"added": [[s, e, "LABEL"], ...], "removed": [...],
               "relabelled": [[s, e, "OLD", "NEW"], ...]},
     "relations": {"added": [[[hs, he], [ts, te], "TYPE"], ...], "removed": [...],
                   "relabelled": [[[hs, he], [ts, te], "OLD", "NEW"], ...]}}

Spans are identified by offsets (a span whose offsets stay and label changes is *relabelled*),
relations by their endpoints' offsets (a changed type is *relabelled*). An ``added`` document
lists all its spans and relations as added; a ``removed`` one lists them as removed.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.errors import DataError, HashMismatch, UsageError
from annotate.fileio import atomic_write, check_writable, dumps_line, is_stdio
from annotate.formats.doccano import (
    DOC_HASH,
    DOC_ID,
    EXPORT_KEYS,
    META,
    OUR_META_KEYS,
    TASK_HASH,
    record_from_parts,
    repair_export_rows,
)
from annotate.recipe import Recipe
from annotate.records.model import Record, text_hash

Progress = Callable[[int], None]

# Up to this many examples, REST (two GETs per example, 4 in parallel) beats the export task,
# whose fixed cost (queue, zip, download) is about 0.5-1 s. Measured on Doccano 1.8.4 / SQLite,
# 10 spans and 2 relations a document: 50 docs REST 0.6 s vs export 1.1 s; 100: 1.5 vs 1.6;
# 200: 2.4 vs 2.0; 400: 3.7 vs 2.9; 1,000: 14-16 vs 6.3-6.6.
REST_MAX_EXAMPLES = 100
REST_THREADS = 4

# (server id, start, end, label, user id)
ServerSpan = tuple[Any, int, int, str, Any]
# (server id, from id, to id, type, user id)
ServerRelation = tuple[Any, Any, Any, str, Any]


@dataclass
class PullReport:
    """What a pull wrote."""

    project_id: int
    project_name: str
    out: str
    method: str
    examples: int = 0
    records: int = 0
    confirmed: int = 0
    diff_path: str | None = None
    diff_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def choose_method(n_examples: int, *, per_annotator: bool, method: str = "auto") -> str:
    """Return ``rest`` or ``export`` for a pull of ``n_examples``."""
    if method not in ("auto", "rest", "export"):
        raise ValueError(f"unknown method {method!r}")
    if per_annotator:
        return "rest"
    if method != "auto":
        return method
    return "rest" if n_examples <= REST_MAX_EXAMPLES else "export"


def diff_path_for(out: str | os.PathLike[str]) -> Path:
    """Return where the diff of a pull to ``out`` goes: ``X.diff.jsonl`` beside ``X.jsonl``."""
    p = Path(out)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".diff.jsonl")


# -- fetching --------------------------------------------------------------------------------------


def _rest_annotations(
    api: Any,
    pid: int,
    example_ids: list[int],
    span_names: dict[int, str],
    rel_names: dict[int, str],
    progress: Progress | None,
) -> dict[int, tuple[list[ServerSpan], list[ServerRelation]]]:
    """Return every example's spans and relations (with their users), two GETs per example."""

    def one(eid: int) -> tuple[int, tuple[list[ServerSpan], list[ServerRelation]]]:
        spans = [
            (
                s["id"],
                int(s["start_offset"]),
                int(s["end_offset"]),
                span_names.get(s["label"], str(s["label"])),
                s.get("user"),
            )
            for s in api.list_spans(pid, eid)
        ]
        rels = [
            (r["id"], r["from_id"], r["to_id"], rel_names.get(r["type"], str(r["type"])), r.get("user"))
            for r in api.list_relations(pid, eid)
        ]
        return eid, (spans, rels)

    out: dict[int, tuple[list[ServerSpan], list[ServerRelation]]] = {}
    with ThreadPoolExecutor(max_workers=REST_THREADS) as pool:
        for eid, value in pool.map(one, example_ids):
            out[eid] = value
            if progress is not None:
                progress(1)
    return out


def _export_files(api: Any, pid: int, *, only_approved: bool) -> dict[str, list[dict[str, Any]]]:
    """Return the rows of each file of one export, by file stem (``all``, or a member's name)."""
    files: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="annotate-pull-") as tmp:
        path = api.export_zip(pid, Path(tmp) / "export.zip", only_approved=only_approved)
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if not name.endswith(".jsonl"):
                    continue
                with zf.open(name) as raw:
                    text = io.TextIOWrapper(raw, encoding="utf-8")
                    rows = [json.loads(line) for line in text if line.strip()]
                files[name[: -len(".jsonl")]] = repair_export_rows(rows)
    return files


def _export_annotations(
    files: dict[str, list[dict[str, Any]]], *, per_user: bool, progress: Progress | None
) -> dict[int, tuple[list[ServerSpan], list[ServerRelation]]]:
    """Return every example's spans and relations from an export's files.

    A collaborative project exports one ``all.jsonl`` (users unknown); otherwise each member's
    file holds that member's annotations, and ``per_user`` tags them with the member's name.
    """
    out: dict[int, tuple[list[ServerSpan], list[ServerRelation]]] = {}
    for stem, rows in files.items():
        user = stem if per_user else None
        for row in rows:
            eid = int(row["id"])
            # Span ids are unique server-wide, so the files' spans and relations can be pooled.
            have = out.setdefault(eid, ([], []))
            have[0].extend(
                (e["id"], int(e["start_offset"]), int(e["end_offset"]), str(e["label"]), user)
                for e in row.get("entities") or []
            )
            have[1].extend(
                (r.get("id"), r["from_id"], r["to_id"], str(r["type"]), user)
                for r in row.get("relations") or []
            )
            if progress is not None and (per_user is False or stem == next(iter(files))):
                progress(1)
    return out


def _exact_meta(value: Any) -> bool:
    """True when Doccano's (pandas) export writes ``value`` back exactly.

    pandas rounds floats to 10 decimals, and ints beyond 2**53 may pass through a float.
    """
    if isinstance(value, dict):
        return all(_exact_meta(v) for v in value.values())
    if isinstance(value, list):
        return all(_exact_meta(v) for v in value)
    if isinstance(value, float):
        return False
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < 2**53
    return True


def _example_from_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """Return the example (as the REST list gives it) of an export row of ours, or None.

    A row is ours when its meta is exactly what a push imports (``doc_id``, ``doc_hash``,
    ``task_hash`` and the nested ``meta``) and nothing in it can have been altered by the
    export, so the row's meta equals the example's. Any other row needs the REST list.
    """
    meta = {k: row[k] for k in row if k not in EXPORT_KEYS}
    if set(meta) != set(OUR_META_KEYS):
        return None
    if not all(isinstance(meta[k], str) for k in (DOC_ID, DOC_HASH, TASK_HASH)):
        return None
    if not isinstance(meta[META], dict) or not _exact_meta(meta[META]):
        return None
    if not isinstance(row.get("text"), str):
        return None
    return {
        "id": int(row["id"]),
        "text": row["text"],
        "meta": meta,
        "comment_count": len(row.get("Comments") or []),
    }


def _export_examples(
    api: Any, pid: int, *, only_approved: bool, progress: Progress | None
) -> tuple[list[dict[str, Any]], dict[int, tuple[list[ServerSpan], list[ServerRelation]]]]:
    """Return the examples and their annotations of a collaborative project, from one export.

    The export rows carry text, meta and comments; only the confirmed state is missing, and
    ``?confirmed=true`` lists just the confirmed examples, side by side with the export task.
    The full example list (every example through Doccano's slow per-example serializer) is
    read only when a row's meta may not have survived the export (see :func:`_example_from_row`).
    """
    if only_approved:
        # Doccano exported the confirmed examples alone: every row is confirmed.
        files = _export_files(api, pid, only_approved=True)
        confirmed: set[int] = set()
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            confirmed_f = pool.submit(api.list_confirmed_ids, pid)
            files = _export_files(api, pid, only_approved=False)
            confirmed = confirmed_f.result()
    annotations = _export_annotations(files, per_user=False, progress=progress)
    rows = [row for rows in files.values() for row in rows]
    examples: list[dict[str, Any]] = []
    for row in rows:
        ex = _example_from_row(row)
        if ex is None:
            examples = api.list_examples(pid)
            if only_approved:
                examples = [ex for ex in examples if ex.get("is_confirmed")]
            return examples, annotations
        ex["is_confirmed"] = only_approved or ex["id"] in confirmed
        examples.append(ex)
    return examples, annotations


def _merge(spans: list[ServerSpan], rels: list[ServerRelation]) -> tuple[list[Any], list[Any]]:
    """Return spans and relations with duplicates (same offsets and label) folded into one.

    Two annotators marking the same span give one span; their relations are remapped to it.
    """
    first: dict[tuple[int, int, str], Any] = {}
    alias: dict[Any, Any] = {}
    out_spans = []
    for sid, s, e, lab, _user in spans:
        key = (s, e, lab)
        if key in first:
            alias[sid] = first[key]
            continue
        first[key] = sid
        alias[sid] = sid
        out_spans.append((sid, s, e, lab))
    seen: set[tuple[Any, Any, str]] = set()
    out_rels = []
    for rid, f, t, typ, _user in rels:
        if f not in alias or t not in alias:
            continue
        key2 = (alias[f], alias[t], typ)
        if key2 in seen:
            continue
        seen.add(key2)
        out_rels.append((rid, alias[f], alias[t], typ))
    return out_spans, out_rels


def _fetch(
    api: Any,
    pid: int,
    collab: bool,
    confirmers: dict[int, set[Any]],
    *,
    only_approved: bool,
    per_annotator: bool,
    method: str,
    progress: Progress | None,
) -> tuple[
    str, list[dict[str, Any]], dict[int, tuple[list[ServerSpan], list[ServerRelation]]], dict[Any, str]
]:
    """Return ``(method, examples, annotations, users)`` of a project; fill ``confirmers``.

    ``users`` is empty unless the export's file names are the user names (a project without
    collaborative annotation); the caller then uses the member list.
    """
    users: dict[Any, str] = {}
    if collab:
        if per_annotator or method != "auto":
            chosen = choose_method(0, per_annotator=per_annotator, method=method)
        else:
            n = api.count_examples(pid, params={"confirmed": "true"} if only_approved else None)
            chosen = choose_method(n, per_annotator=per_annotator, method=method)
        if chosen == "rest":
            examples = api.list_examples(pid)
            if only_approved:
                examples = [ex for ex in examples if ex.get("is_confirmed")]
            span_names = {t["id"]: t["text"] for t in api.list_label_types(pid, "span")}
            rel_names = {t["id"]: t["text"] for t in api.list_label_types(pid, "relation")}
            annotations = _rest_annotations(
                api, pid, [int(ex["id"]) for ex in examples], span_names, rel_names, progress
            )
        else:
            examples, annotations = _export_examples(api, pid, only_approved=only_approved, progress=progress)
        for ex in examples:
            if ex.get("is_confirmed"):
                confirmers[int(ex["id"])].add(None)
                if per_annotator:
                    confirmers[int(ex["id"])] |= {
                        s.get("confirmed_by") for s in api.list_example_states(pid, ex["id"])
                    }
    else:
        chosen = "export"
        examples = api.list_examples(pid)
        files = _export_files(api, pid, only_approved=False)
        annotations = _export_annotations(files, per_user=True, progress=progress)
        for stem, rows in _export_files(api, pid, only_approved=True).items():
            for row in rows:
                confirmers[int(row["id"])].add(stem)
        users = {stem: stem for stem in files}
        if only_approved:
            examples = [ex for ex in examples if confirmers.get(int(ex["id"]))]
    return chosen, examples, annotations, users


# -- the pull -----------------------------------------------------------------------------------------


def pull(
    api: Any,
    *,
    project: str | int,
    out: str | os.PathLike[str],
    only_approved: bool = False,
    per_annotator: bool = False,
    since: str | os.PathLike[str] | None = None,
    force: bool = False,
    method: str = "auto",
    progress: Progress | None = None,
) -> PullReport:
    """Pull a project's examples and annotations into gold records at ``out``; return a report.

    ``api`` is a logged-in :class:`annotate.doccano.DoccanoAPI`. Raises OutputExistsError before
    any network call when ``out`` (or the diff) exists and ``force`` is false, HashMismatch when a
    text changed on the server, and ServerError subclasses (exit 3) on server or network failures.
    In every failure case no output file is written.
    """
    t0 = time.monotonic()
    check_writable(out, force=force)
    old: list[Record] | None = None
    if since is not None:
        if is_stdio(out):
            raise UsageError("--since writes a diff beside --out, so --out must be a file, not -")
        check_writable(diff_path_for(out), force=force)
        old = _read_snapshot(since)

    proj = api.find_project(project)
    pid = int(proj["id"])
    # Without collaborative annotation, Doccano's REST lists show only the caller's own spans and
    # confirmations; its export holds every member's, one file each. So the export it is.
    collab = bool(proj.get("collaborative_annotation", True))
    confirmers: dict[int, set[Any]] = defaultdict(set)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The member list is only needed at the end: fetch it beside the rest.
        members = pool.submit(api.list_members, pid)
        chosen, examples, annotations, users = _fetch(
            api,
            pid,
            collab,
            confirmers,
            only_approved=only_approved,
            per_annotator=per_annotator,
            method=method,
            progress=progress,
        )
        users = users or {m["user"]: m["username"] for m in members.result()}
    report = PullReport(project_id=pid, project_name=str(proj.get("name")), out=str(out), method=chosen)
    report.examples = len(examples)

    comments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if any(ex.get("comment_count") for ex in examples):
        for c in api.list_comments(pid):
            comments[int(c["example"])].append(
                {
                    "user": c.get("username") or users.get(c.get("user")),
                    "text": c.get("text"),
                    "created_at": c.get("created_at"),
                }
            )

    records: list[Record] = []
    mismatched: list[str] = []
    for ex in examples:
        eid = int(ex["id"])
        spans, rels = annotations.get(eid, ([], []))
        for annotator, (sp, rl), confirmed in _views(spans, rels, users, confirmers.get(eid), per_annotator):
            if only_approved and not confirmed:
                continue
            rec, stored = record_from_parts(
                example_id=eid,
                text=ex.get("text") or "",
                meta=ex.get("meta") or {},
                spans=sp,
                relations=rl,
                confirmed=confirmed,
                comments=sorted(comments.get(eid, []), key=lambda c: str(c.get("created_at"))),
                annotator=annotator,
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
    report.records = len(records)
    report.confirmed = sum(1 for r in records if r.confirmed)

    validation_recipe = Recipe(
        name="doccano-project",
        version="0",
        allow_overlapping=bool(proj.get("allow_overlapping")) or not per_annotator,
        allow_self_loops=True,
    )
    changes = diff_records(old, records) if old is not None else None
    _write_validated(out, records, validation_recipe, force=force)
    if changes is not None:
        dpath = diff_path_for(out)
        with atomic_write(dpath, force=force) as f:
            for change in changes:
                f.write(dumps_line(change) + "\n")
        report.diff_path = str(dpath)
        counts: dict[str, int] = defaultdict(int)
        for c in changes:
            counts[c["status"]] += 1
            if "confirmed" in c:
                counts["confirmed" if c["confirmed"]["new"] else "unconfirmed"] += 1
            for part in ("spans", "relations"):
                for what, items in c.get(part, {}).items():
                    counts[f"{part}_{what}"] += len(items)
        report.diff_counts = dict(counts)
    report.seconds = time.monotonic() - t0
    return report


def _views(
    spans: list[ServerSpan],
    rels: list[ServerRelation],
    users: dict[Any, str],
    confirmed_by: set[Any] | None,
    per_annotator: bool,
) -> Iterable[tuple[str | None, tuple[list[Any], list[Any]], bool]]:
    """Yield ``(annotator, (spans, relations), confirmed)`` for each record of one example.

    ``confirmed_by`` holds the users who confirmed it (``None`` stands for "someone").
    """
    confirmed_by = confirmed_by or set()
    if not per_annotator:
        yield None, _merge(spans, rels), bool(confirmed_by)
        return
    who = {s[4] for s in spans} | {r[4] for r in rels} | confirmed_by
    who.discard(None)
    if not who:
        yield None, ([], []), bool(confirmed_by)
        return
    for user in sorted(who, key=lambda u: users.get(u, str(u))):
        mine_spans = [s for s in spans if s[4] == user]
        mine_rels = [r for r in rels if r[4] == user]
        yield users.get(user, f"user:{user}"), _merge(mine_spans, mine_rels), user in confirmed_by


def _write_validated(
    path: str | os.PathLike[str], records: list[Record], recipe: Recipe, *, force: bool
) -> None:
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


def _read_snapshot(path: str | os.PathLike[str]) -> list[Record]:
    from annotate.formats.jsonl import read_records

    return [rec for _, rec in read_records(path)]


# -- the diff ----------------------------------------------------------------------------------------


def _span_sets(
    rec: Record,
) -> tuple[set[tuple[int, int, str]], set[tuple[tuple[int, int], tuple[int, int], str]]]:
    spans = {s.key for s in rec.entities}
    rels = {((h.start, h.end), (t.start, t.end), r.label) for h, t, r in rec.relation_triples()}
    return spans, rels


def _compare(old: set[Any], new: set[Any], ident: Callable[[Any], Any]) -> dict[str, list[Any]]:
    """Return added/removed/relabelled items; an item is relabelled when ``ident`` matches."""
    gone = sorted(old - new)
    came = sorted(new - old)
    relabelled = []
    came_by: dict[Any, list[Any]] = defaultdict(list)
    for item in came:
        came_by[ident(item)].append(item)
    removed = []
    for item in gone:
        partners = came_by.get(ident(item))
        if partners:
            other = partners.pop(0)
            came.remove(other)
            relabelled.append([*_listify(ident(item)), item[-1], other[-1]])
        else:
            removed.append(item)
    out: dict[str, list[Any]] = {}
    if came:
        out["added"] = [_listify(x) for x in came]
    if removed:
        out["removed"] = [_listify(x) for x in removed]
    if relabelled:
        out["relabelled"] = relabelled
    return out


def _listify(x: Any) -> Any:
    return [_listify(v) for v in x] if isinstance(x, tuple) else x


def diff_records(old: Iterable[Record], new: Iterable[Record]) -> list[dict[str, Any]]:
    """Return the changes from snapshot ``old`` to ``new``, one dict per changed document.

    The format is described in this module's docstring.
    """
    old_by = {(r.doc_id, r.annotator): r for r in old}
    new_by = {(r.doc_id, r.annotator): r for r in new}
    empty = Record(text="", doc_id="")
    changes = []
    for key in sorted(set(old_by) | set(new_by), key=lambda k: (k[0], k[1] or "")):
        a, b = old_by.get(key), new_by.get(key)
        status = "added" if a is None else "removed" if b is None else "changed"
        sa, ra = _span_sets(a or empty)
        sb, rb = _span_sets(b or empty)
        change: dict[str, Any] = {
            "doc_id": key[0],
            "annotator": key[1],
            "status": status,
            "example_id": (b or a or empty).example_id,
            "text_changed": a is not None and b is not None and a.doc_hash != b.doc_hash,
        }
        conf_a = bool(a.confirmed) if a is not None else False
        conf_b = bool(b.confirmed) if b is not None else False
        if conf_a != conf_b:
            change["confirmed"] = {"old": conf_a, "new": conf_b}
        spans = _compare(sa, sb, lambda s: (s[0], s[1]))
        rels = _compare(ra, rb, lambda r: (r[0], r[1]))
        if spans:
            change["spans"] = spans
        if rels:
            change["relations"] = rels
        if status == "changed" and not (spans or rels or "confirmed" in change or change["text_changed"]):
            continue
        changes.append(change)
    return changes
