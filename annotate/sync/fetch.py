"""What a pull reads from the server: a project's examples, their annotations, who confirmed what.

The annotations come either from Doccano's export task (one zip for the whole project, see
:mod:`annotate.sync.export_zip`) or from two REST calls per example; :func:`choose_method`
picks the faster for the project's size (measured: see ``REST_MAX_EXAMPLES``). The examples
themselves (text, meta, confirmed state) come from the REST example list, whose meta is exactly
what was imported, except on the export path of a collaborative project.

In a collaborative project ``per_annotator`` uses REST, the only path that says who made each
span. Without collaborative annotation Doccano's REST lists show only the caller's own spans
and confirmations, so the export is used: one file per member, which also keeps annotators
apart; a second export of the approved examples says who confirmed what.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from annotate.sync.export_zip import export_annotations, export_examples, export_files
from annotate.sync.options import PullOptions
from annotate.sync.views import Annotations, ServerRelation, ServerSpan

Progress = Callable[[int], None]

# Up to this many examples, REST (two GETs per example, 4 in parallel) beats the export task,
# whose fixed cost (queue, zip, download) is about 0.5-1 s. Measured on Doccano 1.8.4 / SQLite,
# 10 spans and 2 relations a document: 50 docs REST 0.6 s vs export 1.1 s; 100: 1.5 vs 1.6;
# 200: 2.4 vs 2.0; 400: 3.7 vs 2.9; 1,000: 14-16 vs 6.3-6.6.
REST_MAX_EXAMPLES = 100
REST_THREADS = 4


@dataclass
class Fetched:
    """A project's examples and their annotations, as the server holds them."""

    method: str  # ``rest`` or ``export``
    examples: list[dict[str, Any]]
    annotations: Annotations
    users: dict[Any, str]  # user id (or export file stem) -> name
    confirmers: dict[int, set[Any]]  # example id -> the users who confirmed it (None: someone)


def choose_method(n_examples: int, *, per_annotator: bool, method: str = "auto") -> str:
    """Return ``rest`` or ``export`` for a pull of ``n_examples``."""
    if method not in ("auto", "rest", "export"):
        raise ValueError(f"unknown method {method!r}")
    if per_annotator:
        return "rest"
    if method != "auto":
        return method
    return "rest" if n_examples <= REST_MAX_EXAMPLES else "export"


def fetch(api: Any, proj: dict[str, Any], options: PullOptions, progress: Progress | None) -> Fetched:
    """Return the examples, annotations, user names and confirmations of project ``proj``."""
    pid = int(proj["id"])
    # Without collaborative annotation, Doccano's REST lists show only the caller's own spans and
    # confirmations; its export holds every member's, one file each. So the export it is.
    collab = bool(proj.get("collaborative_annotation", True))
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The member list is only needed at the end: fetch it beside the rest.
        members = pool.submit(api.list_members, pid)
        if collab:
            fetched = _fetch_shared(api, pid, options, progress)
        else:
            fetched = _fetch_by_member(api, pid, only_approved=options.only_approved, progress=progress)
        fetched.users = fetched.users or {m["user"]: m["username"] for m in members.result()}
    return fetched


def _fetch_shared(api: Any, pid: int, options: PullOptions, progress: Progress | None) -> Fetched:
    """Return what a collaborative project holds, through REST or the export, as is faster."""
    only_approved, per_annotator, method = options.only_approved, options.per_annotator, options.method
    if per_annotator or method != "auto":
        chosen = choose_method(0, per_annotator=per_annotator, method=method)
    else:
        n = api.count_examples(pid, params={"confirmed": "true"} if only_approved else None)
        chosen = choose_method(n, per_annotator=per_annotator, method=method)
    if chosen == "rest":
        examples = api.list_examples(pid)
        if only_approved:
            examples = [ex for ex in examples if ex.get("is_confirmed")]
        annotations = _rest_annotations(api, pid, [int(ex["id"]) for ex in examples], progress)
    else:
        examples, annotations = export_examples(api, pid, only_approved=only_approved, progress=progress)
    confirmers: dict[int, set[Any]] = defaultdict(set)
    for ex in examples:
        if ex.get("is_confirmed"):
            confirmers[int(ex["id"])].add(None)
            if per_annotator:
                confirmers[int(ex["id"])] |= {
                    s.get("confirmed_by") for s in api.list_example_states(pid, ex["id"])
                }
    return Fetched(chosen, examples, annotations, {}, confirmers)


def _fetch_by_member(api: Any, pid: int, *, only_approved: bool, progress: Progress | None) -> Fetched:
    """Return what a project without collaborative annotation holds: one export file per member."""
    examples = api.list_examples(pid)
    files = export_files(api, pid, only_approved=False)
    annotations = export_annotations(files, per_user=True, progress=progress)
    confirmers: dict[int, set[Any]] = defaultdict(set)
    for stem, rows in export_files(api, pid, only_approved=True).items():
        for row in rows:
            confirmers[int(row["id"])].add(stem)
    if only_approved:
        examples = [ex for ex in examples if confirmers.get(int(ex["id"]))]
    return Fetched("export", examples, annotations, {stem: stem for stem in files}, confirmers)


def _rest_annotations(api: Any, pid: int, example_ids: list[int], progress: Progress | None) -> Annotations:
    """Return every example's spans and relations (with their users), two GETs per example."""
    span_names = {t["id"]: t["text"] for t in api.list_label_types(pid, "span")}
    rel_names = {t["id"]: t["text"] for t in api.list_label_types(pid, "relation")}

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

    out: Annotations = {}
    with ThreadPoolExecutor(max_workers=REST_THREADS) as pool:
        for eid, value in pool.map(one, example_ids):
            out[eid] = value
            if progress is not None:
                progress(1)
    return out


def comments_of(
    api: Any, pid: int, examples: list[dict[str, Any]], users: dict[Any, str]
) -> dict[int, list[dict[str, Any]]]:
    """Return the comments on the examples by example id (none are asked for when none exist)."""
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
    return comments
