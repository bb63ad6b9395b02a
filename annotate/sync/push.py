"""``annotate push``: bulk, idempotent, resumable upload of tasks into a Doccano project.

How a push goes:

1. Read and validate every task first (the same validator as ``annotate validate``). An invalid
   task is refused with ``file:line`` and a reason; nothing is uploaded unless ``skip_invalid``.
2. Find (or, with ``create``, make) the project and check it against the recipe: a
   SequenceLabeling project with relations, collaborative annotation and the recipe's
   ``allow_overlapping``; the recipe's span and relation types. A conflict is reported and
   nothing is changed; missing label types are added only with ``sync_labels``, all of a kind
   in one bulk request. A label-type name that exists is never created again.
3. List what the project holds (paged) and index it by ``doc_id``. Finding the project and
   reading what it holds are read-only, so they run while step 1 validates the tasks. A document already there
   with the same ``doc_hash`` is skipped. ``update`` replaces an unchanged text's
   pre-annotations when the task's annotations changed, but only where nobody edited,
   commented or confirmed the example.
4. Upload the rest through Doccano's import task, a JSONL file per batch, and poll it with our
   own timeout. Two imports run at once (Doccano's Celery worker runs two tasks at a time), so a
   push of a thousand tasks goes as two batches of five hundred. A batch the server failed is
   rolled back and reported (exit 3); no further batch starts.
5. List again and repair: an import task finished by the server after we were killed, or
   retried by Celery, leaves duplicates; an untouched duplicate is deleted, keeping a complete
   copy. The server's contents are the source of truth.

A small ledger (``$ANNOTATE_HOME/push-ledger/``) remembers the import tasks of the batches in
flight, so a run after ``kill -9`` first waits for those tasks and checks those documents. After
a complete push it also records the project's example count, its newest example id and each
doc_id's hashes. Listing every example costs Doccano several queries per example (seconds per
thousand), so step 3 first probes the server with one ``limit=1`` request: when the count and
the newest id still match, nothing was added or deleted since, and the recorded hashes stand in
for the listing. Any mismatch, a batch left in flight, or an ``update`` that would replace a
document goes back to the full listing: the server stays the source of truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.errors import ConfigError, DataError, NotFound, ProjectConflict, ServerError, TaskFailed
from annotate.fileio import is_stdio
from annotate.formats.doccano import (
    DOC_HASH,
    DOC_ID,
    TASK_HASH,
    dumps_import_line,
    fingerprint,
    record_fingerprint,
)
from annotate.recipe import Recipe
from annotate.records.model import Record, text_hash

Progress = Callable[[int], None]

DEFAULT_BATCH_SIZE = 1000
#: Import tasks run at once. Doccano's Celery worker runs two tasks at a time (``doccano task``'s
#: default, and ``annotate server``'s), so a second import keeps its other process busy.
DEFAULT_PARALLEL_IMPORTS = 2
#: A push is cut into more batches than ``batch_size`` needs (so that every parallel import gets
#: one) only while each keeps at least this many documents: below it, the extra upload and task
#: cost more than they save.
MIN_SPLIT_BATCH = 100
MAX_REFUSALS_SHOWN = 20


@dataclass
class Refusal:
    """One task that was not pushed: where it is and why."""

    line: int
    doc_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f" ({self.doc_id})" if self.doc_id else "") + f": {self.reason}"


@dataclass
class PushReport:
    """What a push did (or, with ``dry_run``, would do)."""

    project_id: int | None
    project_name: str
    project_url: str
    total: int = 0
    pushed: int = 0
    updated: int = 0
    skipped_present: int = 0
    skipped_human: int = 0
    skipped_text_changed: int = 0
    refused: list[Refusal] = field(default_factory=list)
    duplicates_removed: int = 0
    repaired: int = 0
    labels_added: list[str] = field(default_factory=list)
    created_project: bool = False
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


# -- validation ------------------------------------------------------------------------------------


def _load_tasks(
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
        problem = _semantic_problem(rec, recipe)
        if problem is None and rec.doc_id in seen:
            problem = f"duplicate doc_id {rec.doc_id!r} (first at line {seen[rec.doc_id]})"
        if problem is not None:
            refusals[lineno] = Refusal(lineno, rec.doc_id, problem)
            continue
        seen[rec.doc_id] = lineno
        good.append((lineno, rec))
    return good, sorted(refusals.values(), key=lambda r: r.line)


def _semantic_problem(rec: Record, recipe: Recipe) -> str | None:
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


# -- project and labels -------------------------------------------------------------------------------


def _shortcut(spec: str | None) -> tuple[str | None, str | None]:
    """Return Doccano's ``(prefix_key, suffix_key)`` for a recipe shortcut like ``p`` or ``ctrl+p``."""
    if not spec:
        return None, None
    parts = [p for p in spec.lower().replace("+", " ").split() if p]
    key = parts[-1]
    prefix = " ".join(parts[:-1]) or None
    if (
        len(key) != 1
        or not (key.isdigit() or "a" <= key <= "z")
        or prefix not in (None, "ctrl", "shift", "ctrl shift")
    ):
        raise ConfigError(
            f"shortcut {spec!r} is not one Doccano supports",
            hint="use one letter or digit, optionally after ctrl, shift or ctrl+shift",
        )
    return prefix, key


def _wanted_label_types(recipe: Recipe) -> dict[str, list[dict[str, Any]]]:
    """Return the label-type bodies the recipe asks for, by kind."""
    spans = []
    for label in recipe.labels:
        prefix, key = _shortcut(label.shortcut)
        spans.append(
            {
                "text": label.name,
                "prefix_key": prefix,
                "suffix_key": key,
                "background_color": label.color,
                "text_color": "#ffffff",
            }
        )
    rels = [
        {
            "text": r.name,
            "prefix_key": None,
            "suffix_key": None,
            "background_color": r.color,
            "text_color": "#ffffff",
        }
        for r in recipe.relation_types
    ]
    return {"span": spans, "relation": rels}


def project_settings(recipe: Recipe) -> dict[str, Any]:
    """Return the project settings a push needs for ``recipe``."""
    return {
        "project_type": "SequenceLabeling",
        "use_relation": True,
        "collaborative_annotation": True,
        "allow_overlapping": bool(recipe.allow_overlapping),
    }


def _settings_conflicts(project: dict[str, Any], recipe: Recipe) -> list[str]:
    wanted = project_settings(recipe)
    return [
        f"{key} is {project.get(key)!r}, the recipe needs {value!r}"
        for key, value in wanted.items()
        if project.get(key) != value
    ]


def _label_plan(
    existing: dict[str, list[dict[str, Any]]], recipe: Recipe
) -> tuple[dict[str, list[dict[str, Any]]], list[str], list[str]]:
    """Return (types to add by kind, conflicts, warnings) for the recipe's label types."""
    to_add: dict[str, list[dict[str, Any]]] = {"span": [], "relation": []}
    conflicts: list[str] = []
    warnings: list[str] = []
    for kind, bodies in _wanted_label_types(recipe).items():
        have = {t["text"]: t for t in existing[kind]}
        taken = {
            (t.get("prefix_key"), t.get("suffix_key")): t["text"]
            for t in existing[kind]
            if t.get("suffix_key")
        }
        for body in bodies:
            name = body["text"]
            cur = have.get(name)
            keys = (body["prefix_key"], body["suffix_key"])
            if cur is None:
                if body["suffix_key"] and keys in taken:
                    conflicts.append(f"{kind} type {name!r}: its shortcut is taken by {taken[keys]!r}")
                elif body["suffix_key"]:
                    # The bulk upload checks shortcuts only against saved types, not within
                    # the batch: a later type of this batch must not take this one's key.
                    taken[keys] = name
                to_add[kind].append(body)
                continue
            if body["suffix_key"] and (cur.get("prefix_key"), cur.get("suffix_key")) != keys:
                conflicts.append(
                    f"{kind} type {name!r} has shortcut {cur.get('prefix_key')}/{cur.get('suffix_key')}, "
                    f"the recipe says {body['prefix_key']}/{body['suffix_key']}"
                )
            if str(cur.get("background_color", "")).lower() != str(body["background_color"]).lower():
                warnings.append(
                    f"{kind} type {name!r} is coloured {cur.get('background_color')} in the project, "
                    f"{body['background_color']} in the recipe (left as it is)"
                )
    return to_add, conflicts, warnings


@dataclass
class Found:
    """What a read-only look at the server found: the project, its label types and examples.

    It is gathered while the tasks are validated (network and CPU side by side); nothing is
    written before the tasks are known to be valid.
    """

    project: dict[str, Any] | None
    label_types: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    count: int = 0
    newest: int | None = None
    examples: list[dict[str, Any]] | None = None  # the full listing, when the ledger cannot stand in
    state: dict[str, Any] | None = None  # the ledger's record of the last push, if it stands in


def _look(api: Any, project: str | int, ledger_dir: Path, *, want_listing: bool) -> Found:
    """Find the project and read what it holds, without writing anything.

    The full listing of examples is skipped when the ledger's record of the last push still
    matches the probe (see :func:`_held_from_state`), unless ``want_listing``.
    """
    try:
        proj = api.find_project(project)
    except NotFound:
        return Found(None)
    pid = int(proj["id"])
    found = Found(proj, {kind: api.list_label_types(pid, kind) for kind in ("span", "relation")})
    # Probe before any listing: a change made while the list is read then shows next time.
    found.count, found.newest, _ = api.probe_examples(pid)
    ledger = Ledger(ledger_dir, api.url, pid)
    if ledger.load():
        return found  # a batch left in flight: the push lists once that import has finished
    state = ledger.load_state()
    if want_listing or not _state_matches(state, proj, found.count, found.newest):
        found.examples = api.list_examples(pid)
    else:
        found.state = state
    return found


def _ensure_project(
    api: Any,
    project: str | int,
    recipe: Recipe,
    found: Found,
    *,
    create: bool,
    sync_labels: bool,
    dry_run: bool,
    report: PushReport,
) -> dict[str, Any] | None:
    """Return the checked project (None in a dry run that would create it); add labels if asked."""
    proj = found.project
    existing = found.label_types
    if proj is None:
        if not create:
            raise NotFound(f"no project {project!r} at {api.url}", hint="pass --create to make it") from None
        if str(project).strip().isdigit():
            raise ConfigError(
                f"cannot create a project named by an id ({project})", hint="give a name"
            ) from None
        report.created_project = True
        if dry_run:
            report.labels_added = [
                b["text"] for bodies in _wanted_label_types(recipe).values() for b in bodies
            ]
            return None
        settings = project_settings(recipe)
        proj = api.create_project(
            str(project),
            project_type=settings["project_type"],
            description=recipe.description or f"annotate recipe {recipe.id}",
            collaborative_annotation=True,
            allow_overlapping=settings["allow_overlapping"],
            use_relation=True,
        )
        existing = {"span": [], "relation": []}  # a new project has no label types
    report.project_id = int(proj["id"])
    report.project_name = str(proj.get("name", project))
    report.project_url = f"{api.url}/projects/{proj['id']}"
    conflicts = _settings_conflicts(proj, recipe)
    to_add, label_conflicts, warnings = _label_plan(existing, recipe)
    conflicts += label_conflicts
    report.warnings += warnings
    missing = [b["text"] for bodies in to_add.values() for b in bodies]
    if missing and not sync_labels and not report.created_project:
        conflicts.append("missing label types " + ", ".join(missing) + " (pass --sync-labels to add them)")
    if conflicts:
        raise ProjectConflict(
            f"project {report.project_name!r} ({report.project_url}) does not match recipe {recipe.id}: "
            + "; ".join(conflicts),
            hint="nothing was changed; fix the project or the recipe, or push to a new project with --create",
        )
    for kind, bodies in to_add.items():
        # One request per kind (all or nothing); the plan made names and shortcuts unique.
        report.labels_added += [body["text"] for body in bodies]
        if not dry_run:
            api.create_label_types(proj["id"], kind, bodies)
    return dict(proj)


# -- what the server holds ---------------------------------------------------------------------------


@dataclass
class Held:
    """One example the project holds for a doc_id."""

    example_id: int
    doc_hash: str | None
    task_hash: str | None
    confirmed: bool
    comments: int


def _index(examples: Iterable[dict[str, Any]]) -> dict[str, list[Held]]:
    """Return the project's examples by doc_id, oldest first (examples without one are ignored)."""
    out: dict[str, list[Held]] = defaultdict(list)
    for ex in examples:
        meta = ex.get("meta") or {}
        doc_id = meta.get(DOC_ID)
        if doc_id is None:
            continue
        out[str(doc_id)].append(
            Held(
                example_id=int(ex["id"]),
                # An example imported by another tool may have a doc_id but no doc_hash.
                doc_hash=meta.get(DOC_HASH) or text_hash(ex.get("text") or ""),
                task_hash=meta.get(TASK_HASH),
                confirmed=bool(ex.get("is_confirmed")),
                comments=int(ex.get("comment_count") or 0),
            )
        )
    for held in out.values():
        held.sort(key=lambda h: h.example_id)
    return out


class _Labels:
    """Label-type id -> name maps of a project, fetched once, when first needed."""

    def __init__(self, api: Any, project_id: int) -> None:
        self._api = api
        self._pid = project_id
        self._maps: dict[str, dict[Any, str]] = {}

    def _map(self, kind: str) -> dict[Any, str]:
        if kind not in self._maps:
            self._maps[kind] = {t["id"]: t["text"] for t in self._api.list_label_types(self._pid, kind)}
        return self._maps[kind]

    @property
    def span(self) -> dict[Any, str]:
        return self._map("span")

    @property
    def rel(self) -> dict[Any, str]:
        return self._map("relation")


def server_fingerprint(api: Any, project_id: int, example_id: int, labels: _Labels) -> str:
    """Return the fingerprint of what an example holds now (every user's spans and relations)."""
    spans, triples, _ = _server_keys(api, project_id, example_id, labels)
    return fingerprint(spans, triples)


def _untouched(api: Any, project_id: int, held: Held, labels: _Labels) -> bool:
    """True when nobody confirmed, commented or changed the annotations of this example."""
    if held.confirmed or held.comments:
        return False
    if held.task_hash is None:
        return False
    return server_fingerprint(api, project_id, held.example_id, labels) == held.task_hash


# -- the ledger ------------------------------------------------------------------------------------


class Ledger:
    """Per project: the batch in flight (import task id, doc_ids), which survives ``kill -9``, and
    what the project held after the last complete push (see :func:`_held_from_state`)."""

    def __init__(self, directory: Path, url: str, project_id: int) -> None:
        key = hashlib.sha256(f"{url}#{project_id}".encode()).hexdigest()[:16]
        self.path = directory / f"{key}.json"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in data.items() if v}
        if not data:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def load(self) -> list[dict[str, Any]]:
        """Return the batches in flight (empty when the last push finished its uploads)."""
        return list(self._read().get("batches") or [])

    def save(self, batches: list[dict[str, Any]]) -> None:
        data = self._read()
        if batches:
            # Uploads are under way: what the project held before them is no longer true.
            data.pop("state", None)
        data["batches"] = batches
        self._write(data)

    def load_state(self) -> dict[str, Any] | None:
        """Return what the project held after the last complete push, if recorded."""
        state = self._read().get("state")
        return state if isinstance(state, dict) else None

    def save_state(self, state: dict[str, Any] | None) -> None:
        data = self._read()
        if state is None and "state" not in data:
            return
        data["state"] = state
        self._write(data)


def _project_mark(proj: dict[str, Any]) -> str:
    """Return what tells this project from a later one that got the same id."""
    return f"{proj.get('id')}|{proj.get('created_at')}"


def _state_for(
    proj: dict[str, Any], count: int, newest: int | None, held: dict[str, list[Held]]
) -> dict[str, Any] | None:
    """Return the ledger state for a project holding ``held`` (None if it cannot be recorded).

    Only a project where every doc_id has one copy is recorded: several copies are what
    :func:`_repair` inspects, and that needs the full listing.
    """
    if any(len(copies) != 1 for copies in held.values()):
        return None
    return {
        "project": _project_mark(proj),
        "count": count,
        "newest": newest,
        "docs": {doc_id: [c[0].doc_hash, c[0].task_hash] for doc_id, c in held.items()},
    }


def _state_matches(
    state: dict[str, Any] | None, proj: dict[str, Any], count: int, newest: int | None
) -> bool:
    """True when the ledger's record is of this project and the probe still agrees with it."""
    return bool(
        state
        and state.get("project") == _project_mark(proj)
        and state.get("count") == count
        and state.get("newest") == newest
        and isinstance(state.get("docs"), dict)
    )


def _held_from_state(
    state: dict[str, Any] | None,
    proj: dict[str, Any],
    count: int,
    newest: int | None,
    wanted: dict[str, Record],
    update: bool,
) -> dict[str, list[Held]] | None:
    """Return what the project holds, from the ledger, or None when the full listing is needed.

    The ledger is trusted only while the server agrees: the probe just read ``count`` and the
    ``newest`` example id from it. An example added since changes the newest id (ids and
    creation times only grow) and one deleted changes the count, so either sends us back to the
    full listing. The example ids themselves are not recorded, so an ``update`` that would
    replace a document (and must first check that nobody touched it) needs the listing too.
    """
    if not _state_matches(state, proj, count, newest):
        return None
    assert state is not None
    held: dict[str, list[Held]] = {}
    for doc_id, (doc_hash, task_hash) in state["docs"].items():
        rec = wanted.get(doc_id)
        if update and rec is not None and doc_hash == rec.doc_hash and task_hash != record_fingerprint(rec):
            return None
        # Confirmed/comment state is only read for update and repair, which never use this.
        held[doc_id] = [Held(0, doc_hash, task_hash, confirmed=False, comments=0)]
    return held


def _default_ledger_dir() -> Path:
    from annotate.settings import annotate_home

    return annotate_home() / "push-ledger"


# -- the push --------------------------------------------------------------------------------------


def push(
    api: Any,
    tasks_path: str | os.PathLike[str],
    *,
    project: str | int,
    recipe: Recipe,
    create: bool = False,
    sync_labels: bool = False,
    update: bool = False,
    skip_invalid: bool = False,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    parallel_imports: int = DEFAULT_PARALLEL_IMPORTS,
    progress: Progress | None = None,
    ledger_dir: Path | None = None,
    task_timeout: float | None = None,
) -> PushReport:
    """Push the tasks of ``tasks_path`` into a Doccano project; return what was done.

    ``api`` is a logged-in :class:`annotate.doccano.DoccanoAPI`. Raises DataError for invalid
    tasks (unless ``skip_invalid``), ProjectConflict when the project disagrees with the recipe,
    and ServerError subclasses (exit 3) when the server or an import task fails.
    """
    t0 = time.monotonic()
    if batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    if parallel_imports < 1:
        raise ConfigError("--parallel-imports must be at least 1")
    ledger_dir = ledger_dir or _default_ledger_dir()
    # Read the server (no writes) while the tasks are validated: the two overlap.
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Leaving the block waits for the look, so no request outlives a refused push either.
        looking = pool.submit(_look, api, project, ledger_dir, want_listing=update)
        tasks, refusals = _load_tasks(tasks_path, recipe)
    report = PushReport(project_id=None, project_name=str(project), project_url="", dry_run=dry_run)
    report.total = len(tasks) + len(refusals)
    report.refused = refusals
    if refusals and not skip_invalid:
        name = "<stdin>" if is_stdio(tasks_path) else str(tasks_path)
        shown = "\n".join(f"  {name}:{r.line}: {r.reason}" for r in refusals[:MAX_REFUSALS_SHOWN])
        more = len(refusals) - MAX_REFUSALS_SHOWN
        raise DataError(
            f"{len(refusals)} invalid task(s); nothing was uploaded:\n{shown}"
            + (f"\n  ... and {more} more" if more > 0 else ""),
            path=name,
            line=refusals[0].line,
            code="E160",
            hint="fix them (`annotate validate` lists all), or pass --skip-invalid to push the rest",
        )
    # Invalid tasks are reported first; then a server error from the look, if any, is raised.
    found = looking.result()
    if progress is not None and refusals:
        progress(len(refusals))
    proj = _ensure_project(
        api, project, recipe, found, create=create, sync_labels=sync_labels, dry_run=dry_run, report=report
    )
    if proj is None:  # dry run of a project that does not exist yet
        report.pushed = len(tasks)
        report.project_url = f"{api.url}/projects/<new>"
        report.seconds = time.monotonic() - t0
        return report
    pid = int(proj["id"])
    ledger = Ledger(ledger_dir, api.url, pid)
    timeout = task_timeout if task_timeout is not None else max(120.0, 0.2 * batch_size)

    # A batch left in flight by a killed run: let its task finish, then check those documents.
    suspects: set[str] = set()
    leftovers = ledger.load()
    for entry in leftovers:
        suspects.update(entry.get("doc_ids", []))
        if entry.get("task_id") and not dry_run:
            try:
                api.wait_task(entry["task_id"], timeout=timeout, what="the import left by an earlier push")
            except TaskFailed as e:
                report.warnings.append(f"an earlier push's import task failed: {e.message}")

    labels = _Labels(api, pid)
    wanted = {rec.doc_id: rec for _, rec in tasks}
    total, newest = found.count, found.newest
    from_state: dict[str, list[Held]] | None = None
    if report.created_project and not leftovers:
        from_state = {}  # made a moment ago: it holds nothing yet
    elif found.state is not None and not leftovers:
        from_state = _held_from_state(found.state, proj, total, newest, wanted, update)
    if from_state is not None:
        # Nothing was added or deleted since the last push: skip the (slow) full listing.
        held = from_state
    else:
        # Listed after the probe: a change made while the list is read then shows next time.
        if found.examples is None:
            total, newest, _ = api.probe_examples(pid)
            found.examples = api.list_examples(pid)
        examples = found.examples
        held = _index(examples)
        total = len(examples)
        if not dry_run:
            deleted = _repair(api, pid, held, wanted, labels, suspects, report)
            total -= deleted
            if leftovers:
                ledger.save([])
            # What the project holds now, for the next push (the probe predates the listing).
            ledger.save_state(None if deleted else _state_for(proj, total, newest, held))

    to_upload: list[Record] = []
    to_replace: dict[str, list[int]] = {}
    candidates: list[Record] = []
    for _, rec in tasks:
        copies = held.get(rec.doc_id, [])
        if not copies:
            to_upload.append(rec)
            continue
        current = copies[0]
        if current.doc_hash != rec.doc_hash:
            report.skipped_text_changed += 1
            report.warnings.append(
                f"{rec.doc_id}: the project holds a different text for this doc_id; left as it is"
            )
            continue
        if not update or current.task_hash == record_fingerprint(rec):
            report.skipped_present += 1
            continue
        candidates.append(rec)
    # Whether anyone touched an example costs two requests: ask side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(
            pool.map(lambda r: all(_untouched(api, pid, h, labels) for h in held[r.doc_id]), candidates)
        )
    for rec, untouched in zip(candidates, verdicts, strict=True):
        if untouched:
            to_replace[rec.doc_id] = [h.example_id for h in held[rec.doc_id]]
            to_upload.append(rec)
        else:
            report.skipped_human += 1
    if progress is not None:
        progress(report.skipped_present + report.skipped_human + report.skipped_text_changed)

    if dry_run:
        report.updated = len(to_replace)
        report.pushed = len(to_upload) - report.updated
        report.seconds = time.monotonic() - t0
        return report

    if to_upload:
        ledger.save_state(None)

    def imported(batch: list[Record]) -> None:
        report.updated += sum(1 for r in batch if r.doc_id in to_replace)
        report.pushed += sum(1 for r in batch if r.doc_id not in to_replace)
        if progress is not None:
            progress(len(batch))

    batches = split_batches(to_upload, batch_size, parallel_imports)
    _upload_batches(api, pid, batches, to_replace, _InFlight(ledger), timeout, parallel_imports, imported)

    expected = total - sum(len(ids) for ids in to_replace.values()) + len(to_upload)
    count, newest, last = api.probe_examples(pid) if to_upload else (total, newest, None)
    if suspects or (to_upload and count != expected):
        # The server is the truth: every pushed document must be there exactly once. The count
        # says whether anything is off (a ghost import, a Celery retry); only then is the list
        # fetched and the documents with several copies inspected.
        held = _index(api.list_examples(pid))
        _repair(api, pid, held, wanted, labels, set(), report)
        again = [r for r in to_upload if r.doc_id not in held]
        if again and len(again) < len(to_upload):
            # Copies that were only partly imported were deleted: import those documents again.
            _upload_batches(api, pid, [again], {}, _InFlight(ledger), timeout, 1, lambda batch: None)
            held = _index(api.list_examples(pid))
        missing = [r.doc_id for r in to_upload if r.doc_id not in held]
        if missing:
            raise TaskFailed(
                f"{len(missing)} document(s) are missing after the import, e.g. {missing[0]!r}",
                hint="run the same push again: it uploads only what is missing",
            )
    elif to_upload:
        # The count is as expected and the newest example is one we just imported: record what
        # the project holds, so that the next push can skip the listing.
        last_doc = str(((last or {}).get("meta") or {}).get(DOC_ID))
        if last_doc in {r.doc_id for r in to_upload}:
            for rec in to_upload:
                held[rec.doc_id] = [Held(0, rec.doc_hash, record_fingerprint(rec), False, 0)]
            ledger.save_state(_state_for(proj, count, newest, held))
    report.seconds = time.monotonic() - t0
    return report


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


class _InFlight:
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


def _upload_batches(
    api: Any,
    pid: int,
    batches: list[list[Record]],
    to_replace: dict[str, list[int]],
    inflight: _InFlight,
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
                running[pool.submit(_upload_batch, api, pid, batch, to_replace, inflight, timeout)] = batch

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


def _upload_batch(
    api: Any,
    pid: int,
    batch: list[Record],
    to_replace: dict[str, list[int]],
    inflight: _InFlight,
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
        held = _index(api.list_examples(pid))
        api.delete_examples(
            pid,
            [h.example_id for d in doc_ids for h in held.get(d, []) if not h.confirmed and not h.comments],
        )
    except ServerError:
        pass  # the next push finds and repairs them


def _server_keys(
    api: Any, pid: int, example_id: int, labels: _Labels
) -> tuple[list[Any], list[Any], set[Any]]:
    """Return an example's span keys, relation triples (by span keys) and the users who made them."""
    spans = api.list_spans(pid, example_id)
    rels = api.list_relations(pid, example_id)
    key = {
        s["id"]: (s["start_offset"], s["end_offset"], labels.span.get(s["label"], str(s["label"])))
        for s in spans
    }
    triples = [
        (key[r["from_id"]], key[r["to_id"]], labels.rel.get(r["type"], str(r["type"])))
        for r in rels
        if r["from_id"] in key and r["to_id"] in key
    ]
    return list(key.values()), triples, {a.get("user") for a in spans + rels}


def _repair(
    api: Any,
    pid: int,
    held: dict[str, list[Held]],
    wanted: dict[str, Record],
    labels: _Labels,
    suspects: set[str],
    report: PushReport,
) -> int:
    """Delete duplicate and partly imported copies of our documents that nobody touched.

    Duplicates come from an import the server finished after we were killed, or from Celery
    retrying a failed import (whose first attempt may have saved the examples without all their
    annotations). A single copy is checked only when it is a ``suspect`` (its batch was in
    flight), because a check costs two requests. Updates ``held``: a document whose every copy
    was deleted is no longer held, so it gets uploaded again. Returns how many were deleted.
    """
    todo = {
        doc_id: copies
        for doc_id, copies in held.items()
        if doc_id in wanted and (len(copies) > 1 or doc_id in suspects)
    }
    if not todo:
        return 0
    me = api.whoami().get("id")
    doomed: list[int] = []
    # Two requests per copy: fetch them side by side (a resumed batch can be a thousand documents).
    need = [
        h.example_id
        for doc_id, copies in todo.items()
        for h in copies
        if not (h.confirmed or h.comments or h.doc_hash != wanted[doc_id].doc_hash)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        fetched = dict(
            zip(need, pool.map(lambda eid: _server_keys(api, pid, eid, labels), need), strict=True)
        )
    for doc_id, copies in todo.items():
        rec = wanted[doc_id]
        want_spans = {s.key for s in rec.entities}
        complete: list[Held] = []
        partial: list[Held] = []
        human: list[Held] = []
        for h in copies:
            if h.confirmed or h.comments or h.doc_hash != rec.doc_hash:
                human.append(h)
                continue
            spans, triples, users = fetched[h.example_id]
            fp = fingerprint(spans, triples)
            if h.task_hash is not None and fp == h.task_hash:
                complete.append(h)
            elif users <= {me} and set(spans) <= want_spans:
                # Only our own annotations, and a part of what we sent: an interrupted import.
                partial.append(h)
            else:
                human.append(h)
        keep = human + complete[: 0 if human else 1]
        delete = [h for h in copies if h not in keep]
        if len(human) > 1:
            report.warnings.append(f"{doc_id}: {len(human)} copies carry human work; all were kept")
        doomed += [h.example_id for h in delete]
        report.duplicates_removed += sum(1 for h in delete if h in complete)
        report.repaired += sum(1 for h in delete if h in partial)
        if keep:
            held[doc_id] = keep
        else:
            del held[doc_id]
    api.delete_examples(pid, doomed)
    return len(doomed)
