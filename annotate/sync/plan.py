"""The plan of a push: what the project holds for each task, and what to send.

The imports a killed push left in flight are waited for first; their documents are suspects.
What the project holds comes from the ledger's record of the last push while the server's probe
agrees with it, else from the full listing, which is then repaired (:mod:`annotate.sync.repair`)
before anything is planned. A document already there with the same ``doc_hash`` is skipped.
``update`` replaces an unchanged text's pre-annotations when the task's annotations changed, but
only where nobody edited, commented or confirmed the example.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from annotate.formats.doccano import record_fingerprint
from annotate.records.model import Record
from annotate.sync.held import Held, index, untouched
from annotate.sync.ledger import held_from_state, state_for
from annotate.sync.options import PushOptions
from annotate.sync.project import Found, Target
from annotate.sync.repair import repair
from annotate.sync.report import PushReport
from annotate.sync.upload import finish_leftovers


@dataclass
class Plan:
    """What the project holds and what a push sends to it."""

    wanted: dict[str, Record]  # the valid tasks by doc_id, in file order
    suspects: set[str]  # doc_ids of the batches a killed push left in flight
    held: dict[str, list[Held]]
    count: int  # how many examples the project holds
    newest: int | None  # the id of its newest example
    to_upload: list[Record] = field(default_factory=list)
    to_replace: dict[str, list[int]] = field(default_factory=dict)  # doc_id -> the examples it replaces


def make_plan(
    target: Target, tasks: list[tuple[int, Record]], found: Found, options: PushOptions, report: PushReport
) -> Plan:
    """Return what the project holds and what to upload; count what is skipped in ``report``."""
    # A batch left in flight by a killed run: let its task finish, then check those documents.
    leftovers, suspects = finish_leftovers(
        target.api, target.ledger, options.import_timeout(), dry_run=options.dry_run, report=report
    )
    wanted = {rec.doc_id: rec for _, rec in tasks}
    held: dict[str, list[Held]] | None = None
    if report.created_project and not leftovers:
        held = {}  # made a moment ago: it holds nothing yet
    elif not leftovers:
        held = held_from_state(found.state, target.project, found.count, found.newest, wanted, options.update)
    if held is not None:
        # Nothing was added or deleted since the last push: skip the (slow) full listing.
        plan = Plan(wanted, suspects, held, found.count, found.newest)
    else:
        plan = _listed(target, found, wanted, suspects)
        if not options.dry_run:
            _repair_listed(target, plan, resumed=bool(leftovers), report=report)
    _choose(target, plan, update=options.update, report=report)
    return plan


def _listed(target: Target, found: Found, wanted: dict[str, Record], suspects: set[str]) -> Plan:
    """Return the plan's holdings from the full listing of the project's examples."""
    newest = found.newest
    if found.examples is None:
        # Listed after the probe: a change made while the list is read then shows next time.
        _, newest, _ = target.api.probe_examples(target.pid)
        found.examples = target.api.list_examples(target.pid)
    return Plan(wanted, suspects, index(found.examples), len(found.examples), newest)


def _repair_listed(target: Target, plan: Plan, *, resumed: bool, report: PushReport) -> None:
    """Repair what the listing found, then record in the ledger what the project holds now."""
    deleted = repair(target.api, target.pid, plan.held, plan.wanted, target.labels, plan.suspects, report)
    plan.count -= deleted
    if resumed:
        target.ledger.save([])
    # What the project holds now, for the next push (the probe predates the listing).
    target.ledger.save_state(
        None if deleted else state_for(target.project, plan.count, plan.newest, plan.held)
    )


def _choose(target: Target, plan: Plan, *, update: bool, report: PushReport) -> None:
    """Fill the plan's uploads and replacements; count the tasks skipped in ``report``."""
    candidates: list[Record] = []
    for rec in plan.wanted.values():
        copies = plan.held.get(rec.doc_id, [])
        if not copies:
            plan.to_upload.append(rec)
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
    for rec, free in zip(candidates, _untouched(target, plan.held, candidates), strict=True):
        if free:
            plan.to_replace[rec.doc_id] = [h.example_id for h in plan.held[rec.doc_id]]
            plan.to_upload.append(rec)
        else:
            report.skipped_human += 1


def _untouched(target: Target, held: dict[str, list[Held]], records: list[Record]) -> list[bool]:
    """Return, for each record, whether nobody touched any of the project's copies of it."""

    def check(rec: Record) -> bool:
        return all(untouched(target.api, target.pid, h, target.labels) for h in held[rec.doc_id])

    # Whether anyone touched an example costs two requests: ask side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(check, records))
