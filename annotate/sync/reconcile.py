"""Reconcile: after the uploads, make sure every pushed document is in the project exactly once.

The server's contents are the source of truth. One probe says whether the count is what the
plan expects; only when it is not (a ghost import, a Celery retry), or when a killed push left
batches in flight, is the project listed again, repaired, and any document lost on the way
imported once more. A push that ends as planned records what the project holds in the ledger,
so that the next push can skip the listing.
"""

from __future__ import annotations

from typing import Any

from annotate.errors import TaskFailed
from annotate.formats.doccano import DOC_ID, record_fingerprint
from annotate.sync.held import Held, index
from annotate.sync.ledger import state_for
from annotate.sync.plan import Plan
from annotate.sync.project import Target
from annotate.sync.repair import repair
from annotate.sync.report import PushReport
from annotate.sync.upload import InFlight, upload_batches


def reconcile(target: Target, plan: Plan, timeout: float, report: PushReport) -> None:
    """Check the project against the plan once its uploads ended; repair or record it."""
    to_upload = plan.to_upload
    expected = plan.count - sum(len(ids) for ids in plan.to_replace.values()) + len(to_upload)
    count, newest, last = (
        target.api.probe_examples(target.pid) if to_upload else (plan.count, plan.newest, None)
    )
    if plan.suspects or (to_upload and count != expected):
        # The count says whether anything is off; only then is the list fetched and the
        # documents with several copies inspected.
        _recover(target, plan, timeout, report)
    elif to_upload:
        _record(target, plan, count, newest, last)


def _recover(target: Target, plan: Plan, timeout: float, report: PushReport) -> None:
    """Repair the project's copies of the pushed documents; import those lost again, or raise."""
    api, pid, to_upload = target.api, target.pid, plan.to_upload
    held = index(api.list_examples(pid))
    repair(api, pid, held, plan.wanted, target.labels, set(), report)
    again = [r for r in to_upload if r.doc_id not in held]
    if again and len(again) < len(to_upload):
        # Copies that were only partly imported were deleted: import those documents again.
        upload_batches(api, pid, [again], {}, InFlight(target.ledger), timeout, 1, lambda batch: None)
        held = index(api.list_examples(pid))
    missing = [r.doc_id for r in to_upload if r.doc_id not in held]
    if missing:
        raise TaskFailed(
            f"{len(missing)} document(s) are missing after the import, e.g. {missing[0]!r}",
            hint="run the same push again: it uploads only what is missing",
        )


def _record(target: Target, plan: Plan, count: int, newest: int | None, last: dict[str, Any] | None) -> None:
    """Record what the project holds in the ledger, when its newest example is one just imported."""
    last_doc = str(((last or {}).get("meta") or {}).get(DOC_ID))
    if last_doc in {r.doc_id for r in plan.to_upload}:
        for rec in plan.to_upload:
            plan.held[rec.doc_id] = [Held(0, rec.doc_hash, record_fingerprint(rec), False, 0)]
        target.ledger.save_state(state_for(target.project, count, newest, plan.held))
