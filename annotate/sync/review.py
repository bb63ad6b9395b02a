"""A review project for the conflicts of an adjudication: one a reviewer settles in Doccano.

Each conflict document is pushed (with push's own machinery, so a re-run is idempotent)
pre-filled with what its annotators agree on, and gets one comment per disputed item saying
who marked it and who did not, e.g. ``span PERSON "Putin" [10, 15): alice; not bob``. The
reviewer is a member with the ``annotation_approver`` role (or a project admin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from annotate.errors import NotFound, TeamError
from annotate.records.model import Record
from annotate.sync.held import index
from annotate.sync.ledger import default_ledger_dir
from annotate.sync.options import PushOptions
from annotate.sync.project import look
from annotate.sync.push import push_tasks
from annotate.sync.report import PushReport
from annotate.sync.team import member_role

REVIEWER_ROLES = ("annotation_approver", "project_admin")


@dataclass
class ReviewReport:
    """What pushing a review did: the push, and the comments added."""

    push: PushReport
    comments: int = 0


def comment_lines(conflict: dict[str, Any]) -> list[str]:
    """Return one comment a disputed item: what it is, who marked it, who did not."""

    def span(d: dict[str, Any]) -> str:
        return f"{d['label']} {d['text']!r} [{d['start_offset']}, {d['end_offset']})"

    def who(d: dict[str, Any]) -> str:
        return ", ".join(d["by"]) + (f"; not {', '.join(d['not_by'])}" if d["not_by"] else "")

    lines = [f"disputed span {span(d)}: {who(d)}" for d in conflict["disputed"]["entities"]]
    lines += [
        f"disputed relation {span(d['head'])} -{d['type']}-> {span(d['tail'])}: {who(d)}"
        for d in conflict["disputed"]["relations"]
    ]
    if not lines:
        lines.append(f"{conflict['reason']} ({', '.join(conflict['annotators'])})")
    return lines


def push_review(
    api: Any,
    conflicts: list[dict[str, Any]],
    tasks: list[Record],
    *,
    project: str,
    recipe: Any,
    reviewer: str | None = None,
    options: PushOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReviewReport:
    """Push the conflicts' agreed ``tasks`` to a review project, comment each disputed item.

    A ``reviewer`` who is a member with another role than approver or admin is refused
    (TeamError) before anything changes; one who is not a member is added as approver.
    """
    options = options or PushOptions(create=True)
    found = look(api, project, options.ledger_dir or default_ledger_dir(), want_listing=True)
    user_id = _check_reviewer(api, found.project, reviewer)
    report = ReviewReport(PushReport(project_id=None, project_name=project, project_url=""))
    numbered = list(enumerate(tasks, start=1))
    push_tasks(
        api,
        numbered,
        found,
        project=project,
        recipe=recipe,
        options=options,
        report=report.push,
        progress=progress,
    )
    if options.dry_run or report.push.project_id is None:
        return report
    pid = int(report.push.project_id)
    if reviewer is not None and user_id is not None:
        api.add_member(pid, user_id, "annotation_approver")
    held = index(api.list_examples(pid))
    for conflict in conflicts:
        copies = held.get(conflict["doc_id"], [])
        if not copies or copies[0].comments:
            continue  # commented by an earlier run (or gone): comment once
        for line in comment_lines(conflict):
            api.add_comment(pid, copies[0].example_id, line)
            report.comments += 1
    return report


def _check_reviewer(api: Any, proj: dict[str, Any] | None, reviewer: str | None) -> int | None:
    """Return the reviewer's user id when they must be added; TeamError for a wrong role."""
    if reviewer is None:
        return None
    try:
        user_id = int(api.find_user(reviewer)["id"])
    except NotFound:
        raise TeamError(
            f"unknown reviewer {reviewer!r} at {api.url}", hint="`annotate users add` makes one"
        ) from None
    if proj is None:
        return user_id  # the project is made by this push: they join it as approver
    role = member_role(api, proj, reviewer)
    if role is None:
        return user_id
    if role not in REVIEWER_ROLES:
        raise TeamError(
            f"{reviewer!r} is {role} in project {proj.get('name')!r}: a reviewer must be "
            + " or ".join(REVIEWER_ROLES),
            hint="change their role in Doccano; nothing was changed",
        )
    return None
