"""The fast paths of push and pull, against the real Doccano server (session fixture).

A re-push skips the full example listing only while the server's count and newest example id
match the ledger; a pull through the export reads text, meta and comments from the export rows
and the confirmed state from ``?confirmed=true``. Each test checks the server is still the truth.
"""

from __future__ import annotations

import json
import threading
import time
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pushpull_helpers import make_tasks, pushpull_recipe, read, write_tasks

from annotate.doccano import DoccanoAPI, WaitStopped
from annotate.errors import TaskFailed
from annotate.formats.doccano import dumps_import_line
from annotate.records.model import Record
from annotate.sync.ledger import Ledger
from annotate.sync.pull import PullOptions, pull
from annotate.sync.push import PushOptions, push
from annotate.sync.upload import MIN_SPLIT_BATCH, split_batches


class CountingAPI(DoccanoAPI):
    """The real adapter, counting full example listings (the slow request a re-push avoids)."""

    listings = 0

    def list_examples(self, project_id: int, **kwargs: Any) -> list[dict[str, Any]]:
        if not kwargs.get("params"):
            self.listings += 1
        return super().list_examples(project_id, **kwargs)


@pytest.fixture
def api(doccano_api: DoccanoAPI) -> CountingAPI:
    return CountingAPI(doccano_api.settings, token=doccano_api._token)


@pytest.fixture
def project(make_project: Any) -> dict[str, Any]:
    return make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=False)


def doc_counts(api: DoccanoAPI, pid: int) -> Counter[str]:
    return Counter(str((ex.get("meta") or {}).get("doc_id")) for ex in DoccanoAPI.list_examples(api, pid))


def _push(api: DoccanoAPI, tasks: Path, pid: int, ledger: Path, **kw: Any) -> Any:
    return push(
        api,
        tasks,
        project=pid,
        recipe=pushpull_recipe(),
        options=PushOptions(sync_labels=True, ledger_dir=ledger, **kw),
    )


def test_wait_task_returns_at_the_first_poll_once_done_and_times_out_on_time(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    ghost = tmp_path / "one.jsonl"
    ghost.write_text(dumps_import_line(make_tasks(1)[0]) + "\n", encoding="ascii")
    task_id = doccano_api.start_import(project["id"], [doccano_api.upload_file(ghost)])
    doccano_api.wait_task(task_id, timeout=60, what="import")
    # Once the task is done, a wait returns at the first poll, and a stuck task times out on time.
    t0 = time.monotonic()
    doccano_api.wait_task(task_id, timeout=60, what="import")
    assert time.monotonic() - t0 < 0.5
    t0 = time.monotonic()
    with pytest.raises(TaskFailed, match="not done after"):
        doccano_api.wait_task("no-such-task", timeout=0.3, what="import")
    assert time.monotonic() - t0 < 1.5


def test_wait_task_polls_every_twentieth_of_a_second_then_every_quarter(
    doccano_api: DoccanoAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pauses asked for while a task (here one the server does not know) is not ready."""
    import annotate.doccano.tasks as tasks

    clock = [1000.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(round(seconds, 6))
        clock[0] += seconds

    fake = types.SimpleNamespace(monotonic=lambda: clock[0], sleep=sleep, time=time.time)
    monkeypatch.setattr(tasks, "time", fake)  # the task poller's clock only; requests keeps the real one
    with pytest.raises(TaskFailed, match="not done after 12 s"):
        doccano_api.wait_task("no-such-task", timeout=12.02, what="import")
    short = int(tasks.SLOW_AFTER / 0.05)
    assert abs(pauses.index(0.25) - short) <= 1  # float sums may land one poll either side
    assert set(pauses[: short - 1]) == {0.05}
    assert set(pauses[short + 1 : -1]) == {0.25}
    assert 0 < pauses[-1] <= 0.25 and abs(sum(pauses) - 12.02) < 1e-6  # the last pause is cut


def test_wait_task_stops_at_the_next_poll_when_asked(doccano_api: DoccanoAPI) -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.monotonic()
    with pytest.raises(WaitStopped):
        doccano_api.wait_task("no-such-task", timeout=60, what="import", stop=stop)
    assert time.monotonic() - t0 < 1.5


def test_split_batches_keeps_the_batch_size_and_feeds_every_parallel_import() -> None:
    recs = make_tasks(1000)

    def sizes(n: int, batch_size: int, parallel: int) -> list[int]:
        batches = split_batches(recs[:n], batch_size, parallel)
        assert [r for b in batches for r in b] == recs[:n]  # in order, each once
        return [len(b) for b in batches]

    assert sizes(1000, 1000, 2) == [500, 500]
    assert sizes(1000, 1000, 1) == [1000]
    assert sizes(1000, 300, 2) == [250, 250, 250, 250]
    assert sizes(1000, 1000, 3) == [334, 334, 332]
    assert sizes(2 * MIN_SPLIT_BATCH - 1, 1000, 2) == [2 * MIN_SPLIT_BATCH - 1]  # too small to split
    assert sizes(7, 3, 2) == [3, 3, 1]
    assert sizes(0, 1000, 2) == []


class ImportClockAPI(DoccanoAPI):
    """The real adapter, noting when each import task started and when its wait ended."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started: list[float] = []
        self.ended: list[float] = []

    def start_import(self, *args: Any, **kwargs: Any) -> str:
        task_id = super().start_import(*args, **kwargs)
        self.started.append(time.monotonic())
        return task_id

    def wait_task(self, *args: Any, **kwargs: Any) -> Any:
        result = super().wait_task(*args, **kwargs)
        self.ended.append(time.monotonic())
        return result


def test_a_push_runs_two_imports_at_once_and_the_project_holds_each_document_once(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    api = ImportClockAPI(doccano_api.settings, token=doccano_api._token)
    records = make_tasks(600, seed=3)  # two batches of 300: each import takes about a second
    report = _push(api, write_tasks(tmp_path / "t.jsonl", records), project["id"], tmp_path)
    assert report.pushed == len(records)
    assert len(api.started) == 2
    # Both tasks were started before either was seen done: the server had both at once.
    assert max(api.started) < min(api.ended)
    counts = doc_counts(doccano_api, project["id"])
    assert set(counts) == {r.doc_id for r in records} and set(counts.values()) == {1}
    out = tmp_path / "gold.jsonl"
    pull(doccano_api, project=project["id"], out=out)
    assert {g.doc_id: (g.entities, g.relations) for g in read(out)} == {
        r.doc_id: (r.entities, r.relations) for r in records
    }


def test_re_push_of_an_unchanged_project_skips_the_full_listing_and_uploads_nothing(
    api: CountingAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", make_tasks(12))
    first = _push(api, tasks, project["id"], tmp_path, batch_size=5)
    assert first.pushed == 12
    state = Ledger(tmp_path, api.url, project["id"]).load_state()
    assert state is not None and state["count"] == 12 and len(state["docs"]) == 12
    api.listings = 0
    again = _push(api, tasks, project["id"], tmp_path)
    assert (again.pushed, again.skipped_present, api.listings) == (0, 12, 0)
    assert set(doc_counts(api, project["id"]).values()) == {1}


def test_re_push_notices_an_example_deleted_on_the_server_and_pushes_it_again(
    api: CountingAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    records = make_tasks(8)
    tasks = write_tasks(tmp_path / "t.jsonl", records)
    _push(api, tasks, project["id"], tmp_path)
    victim = next(ex for ex in api.list_examples(project["id"]) if ex["meta"]["doc_id"] == records[3].doc_id)
    api.delete_examples(project["id"], [victim["id"]])
    api.listings = 0
    report = _push(api, tasks, project["id"], tmp_path)
    assert report.pushed == 1 and report.skipped_present == 7 and api.listings >= 1
    counts = doc_counts(api, project["id"])
    assert len(counts) == 8 and set(counts.values()) == {1}


def test_re_push_notices_a_deletion_plus_an_addition_that_keep_the_count(
    api: CountingAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    """One example deleted and another added between pushes: same count, so the newest id tells."""
    records = make_tasks(8)
    tasks = write_tasks(tmp_path / "t.jsonl", records)
    _push(api, tasks, project["id"], tmp_path)
    victim = next(ex for ex in api.list_examples(project["id"]) if ex["meta"]["doc_id"] == records[0].doc_id)
    api.delete_examples(project["id"], [victim["id"]])
    # Another tool imports a copy of one of our documents (a duplicate the push must repair).
    extra = tmp_path / "extra.jsonl"
    extra.write_text(dumps_import_line(records[5]) + "\n", encoding="ascii")
    api.wait_task(api.start_import(project["id"], [api.upload_file(extra)]), timeout=60, what="import")
    assert sum(doc_counts(api, project["id"]).values()) == 8

    report = _push(api, tasks, project["id"], tmp_path)
    assert report.pushed == 1 and report.duplicates_removed == 1
    counts = doc_counts(api, project["id"])
    assert len(counts) == 8 and set(counts.values()) == {1}


def test_pull_through_the_export_keeps_meta_confirmed_state_and_comments(
    api: CountingAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    records = make_tasks(6)
    tasks = write_tasks(tmp_path / "t.jsonl", records)
    _push(api, tasks, project["id"], tmp_path)
    pid = project["id"]
    by_doc = {ex["meta"]["doc_id"]: ex for ex in api.list_examples(pid)}
    confirmed = by_doc[records[1].doc_id]["id"]
    api._request("POST", f"projects/{pid}/examples/{confirmed}/states", json={}, expected=(201,))
    commented = by_doc[records[2].doc_id]["id"]
    api._request(
        "POST",
        f"projects/{pid}/comments",
        params={"example": commented},
        json={"text": "check São"},
        expected=(201,),
    )
    api.listings = 0
    out = tmp_path / "gold.jsonl"
    report = pull(api, project=pid, out=out, options=PullOptions(method="export"))
    assert report.method == "export" and api.listings == 0
    gold = {g.doc_id: g for g in read(out)}
    assert {d for d, g in gold.items() if g.confirmed} == {records[1].doc_id}
    assert [c["text"] for c in gold[records[2].doc_id].comments or []] == ["check São"]
    assert all(not gold[r.doc_id].comments for r in records if r is not records[2])
    for r in records:
        assert gold[r.doc_id].meta == r.meta and gold[r.doc_id].text == r.text


def test_pull_through_the_export_reads_meta_from_rest_when_the_export_would_round_it(
    api: CountingAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    """Doccano's export rounds floats in meta (pandas, 10 decimals): such rows are read over REST."""
    records = [
        Record(
            text=r.text,
            doc_id=r.doc_id,
            entities=r.entities,
            relations=r.relations,
            meta={"p": 0.30000000000000004, "q": 1.5e-12, "r": 1e300},
        )
        for r in make_tasks(3)
    ]
    tasks = write_tasks(tmp_path / "t.jsonl", records)
    _push(api, tasks, project["id"], tmp_path)
    out = tmp_path / "gold.jsonl"
    pull(api, project=project["id"], out=out, options=PullOptions(method="export"))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["meta"] for line in lines] == [{"p": 0.30000000000000004, "q": 1.5e-12, "r": 1e300}] * 3
