"""push and pull under faults: a fault-injecting proxy in front of the real server, kill -9, failed imports.

Every fault must end in a clear message naming the cause and exit 3 (after bounded retries where
a retry is safe), with no partial output; a re-run must then leave every document exactly once.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, _read_request
from pushpull_helpers import PUSHPULL, annotation_view, make_tasks, pushpull_recipe, read, write_tasks
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import DoccanoAPI, RetryPolicy
from annotate.doccano.processes import free_port
from annotate.errors import ProjectConflict, TaskFailed
from annotate.sync.ledger import Ledger
from annotate.sync.pull import PullOptions, pull
from annotate.sync.push import PushOptions, push
from annotate.sync.upload import InFlight, upload_batch, upload_batches

RECIPE = PUSHPULL / "recipe.toml"
UNICODE = PUSHPULL / "unicode-tasks.jsonl"


class TruncatingProxy(FaultProxy):
    """A FaultProxy that can also cut a response short: forward, relay ``keep`` bytes, hang up."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.truncate: list[tuple[str, int]] = []

    def truncate_next(self, n: int, path_contains: str, keep: int = 300) -> None:
        self.truncate.extend([(path_contains, keep)] * n)

    def _handle(self, conn: socket.socket) -> None:
        cut = None
        if self.truncate:
            conn.settimeout(30)
            request = _read_request(conn)
            if request is None:
                conn.close()
                return
            head = request.split(b"\r\n", 1)[0].decode("latin-1")
            path = (head.split(" ") + ["", ""])[1]
            for i, (needle, keep) in enumerate(self.truncate):
                if needle in path:
                    cut = keep
                    del self.truncate[i]
                    break
            if cut is None:
                # Not ours: replay it through the normal path.
                return self._forward(conn, request, head)
            try:
                with socket.create_connection(self.upstream, timeout=60) as up:
                    up.sendall(request)
                    sent = b""
                    while len(sent) < cut and (chunk := up.recv(cut - len(sent))):
                        sent += chunk
                    conn.sendall(sent)
                    self._record(head.split(" ")[0], path, "truncated")
            finally:
                conn.close()
            return None
        return super()._handle(conn)

    def _forward(self, conn: socket.socket, request: bytes, head: str) -> None:
        try:
            with socket.create_connection(self.upstream, timeout=60) as up:
                up.sendall(request)
                self._record(head.split(" ")[0], head.split(" ")[1], "forwarded")
                while chunk := up.recv(65536):
                    conn.sendall(chunk)
        finally:
            conn.close()


FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)


@pytest.fixture
def proxy(doccano_server: Any) -> Iterator[TruncatingProxy]:
    with TruncatingProxy(doccano_server.url) as p:
        yield p


@pytest.fixture
def proxied_api(proxy: TruncatingProxy, doccano_settings: Any) -> Iterator[DoccanoAPI]:
    with DoccanoAPI(replace(doccano_settings, url=proxy.url, read_timeout=20), retry=FAST) as api:
        api.login()
        yield api


@pytest.fixture
def project(make_project: Any) -> dict[str, Any]:
    return make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=False)


@pytest.fixture
def filled(doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    push(doccano_api, UNICODE, project=project["id"], recipe=pushpull_recipe(), options=options)
    return project


def cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def doc_counts(api: DoccanoAPI, pid: int) -> Counter[str]:
    return Counter(str((ex.get("meta") or {}).get("doc_id")) for ex in api.list_examples(pid))


def _env(doccano_env: dict[str, str], tmp_path: Path, **over: str) -> dict[str, str]:
    return {**doccano_env, "ANNOTATE_HOME": str(tmp_path / "home"), "ANNOTATE_NO_PROGRESS": "1", **over}


# -- connection-level faults through the CLI ----------------------------------------------------------


def test_server_down_is_exit_3_naming_the_cause_and_leaves_no_file(
    doccano_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "gold.jsonl"
    env = _env(doccano_env, tmp_path, DOCCANO_URL=f"http://127.0.0.1:{free_port()}")
    result = cli(env, "pull", "--project", "1", "--out", str(out))
    assert result.exit_code == 3
    assert "cannot reach Doccano" in result.output and "connection refused" in result.output
    assert not out.exists()
    result = cli(env, "push", str(UNICODE), "--project", "x", "--recipe", str(RECIPE))
    assert result.exit_code == 3 and "connection refused" in result.output


def test_wrong_url_that_is_not_doccano_is_exit_3(doccano_env: dict[str, str], tmp_path: Path) -> None:
    class NotDoccano(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>nothing here</html>")

        do_GET = do_POST

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotDoccano)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "gold.jsonl"
        env = _env(doccano_env, tmp_path, DOCCANO_URL=f"http://127.0.0.1:{server.server_address[1]}")
        result = cli(env, "pull", "--project", "1", "--out", str(out))
        assert result.exit_code == 3, result.output
        assert "login" in result.output and "404" in result.output
        assert not out.exists()
    finally:
        server.shutdown()
        server.server_close()


def test_wrong_password_is_exit_3_and_never_echoes_it(
    doccano_env: dict[str, str], tmp_path: Path, filled: dict[str, Any]
) -> None:
    out = tmp_path / "gold.jsonl"
    env = _env(doccano_env, tmp_path, DOCCANO_PASSWORD="definitely-wrong-pw")
    result = cli(env, "pull", "--project", str(filled["id"]), "--out", str(out))
    assert result.exit_code == 3
    assert "E302" in result.output and "wrong user name or password" in result.output
    assert "definitely-wrong-pw" not in result.output
    assert not out.exists()


# -- 5xx and dropped connections, through the proxy --------------------------------------------------


def test_transient_503s_and_drops_on_reads_are_retried_and_the_pull_succeeds(
    proxy: TruncatingProxy, proxied_api: DoccanoAPI, filled: dict[str, Any], tmp_path: Path
) -> None:
    proxy.fail_next(2, "503", methods={"GET"}, path_contains="/examples")
    proxy.fail_next(1, "drop", methods={"GET"}, path_contains="/spans")
    out = tmp_path / "gold.jsonl"
    pull(proxied_api, project=filled["id"], out=out, options=PullOptions(method="rest"))
    assert len(read(out)) == 4
    outcomes = Counter(o for _, _, o in proxy.seen)
    assert outcomes["503"] == 2 and outcomes["drop"] == 1


def test_persistent_503_gives_exit_3_after_bounded_retries_and_no_output(
    proxy: TruncatingProxy, doccano_env: dict[str, str], filled: dict[str, Any], tmp_path: Path
) -> None:
    proxy.fail_next(1000, "503", methods={"GET"}, path_contains="/examples")
    out = tmp_path / "gold.jsonl"
    env = _env(doccano_env, tmp_path, DOCCANO_URL=proxy.url)
    t0 = time.monotonic()
    result = cli(env, "pull", "--project", str(filled["id"]), "--out", str(out))
    assert result.exit_code == 3
    assert "HTTP 503" in result.output
    assert time.monotonic() - t0 < 60
    tries = len(proxy.requests("GET", "/examples"))
    assert 2 <= tries <= 10, "retries must be bounded"
    assert not out.exists() and list(tmp_path.glob(".gold.jsonl*")) == []


def test_export_download_cut_mid_transfer_is_retried_then_fails_cleanly(
    proxy: TruncatingProxy, proxied_api: DoccanoAPI, filled: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "gold.jsonl"
    proxy.truncate_next(1, "/download?taskId")
    pull(proxied_api, project=filled["id"], out=out, options=PullOptions(method="export"))
    assert len(read(out)) == 4
    assert [o for _, _, o in proxy.requests("GET", "/download?taskId")] == ["truncated", "forwarded"]

    out2 = tmp_path / "gold-2.jsonl"
    proxy.truncate_next(50, "/download?taskId")
    from annotate.errors import ConnectionFailed

    with pytest.raises(ConnectionFailed, match="download export"):
        pull(proxied_api, project=filled["id"], out=out2, options=PullOptions(method="export"))
    assert not out2.exists() and list(tmp_path.glob(".gold-2.jsonl*")) == []


@pytest.mark.parametrize("parallel", [1, 2])
def test_import_answer_lost_after_the_server_applied_it_then_rerun_pushes_each_doc_once(
    proxy: TruncatingProxy,
    doccano_env: dict[str, str],
    doccano_api: DoccanoAPI,
    project: dict[str, Any],
    tmp_path: Path,
    parallel: int,
) -> None:
    """The ambiguous fault: the import task started, but the answer never arrived.

    With two imports at once, the other batch's import goes through and the rerun must still
    find the lost one (its ledger entry has no task id)."""
    tasks = write_tasks(tmp_path / "t.jsonl", make_tasks(40))
    env = _env(doccano_env, tmp_path, DOCCANO_URL=proxy.url)
    args = ["push", str(tasks), "--project", str(project["id"]), "--recipe", str(RECIPE), "--sync-labels"]
    args += ["--batch-size", "20", "--parallel-imports", str(parallel)]
    proxy.fail_next(
        1, "drop_after_forward", methods={"POST"}, path_contains=f"/projects/{project['id']}/upload"
    )
    result = cli(env, *args)
    assert result.exit_code == 3
    assert "start import task" in result.output and "may or may not have been applied" in result.output
    # One POST per batch started (the second starts beside the first only when parallel), and
    # the dropped one is not sent again: a non-idempotent import must not be retried blindly.
    outcomes = [o for _, _, o in proxy.requests("POST", "/upload")]
    assert sorted(outcomes) == sorted(["drop_after_forward"] + ["forwarded"] * (parallel - 1))
    time.sleep(2)  # let the orphaned import task finish on the server
    result = cli(env, *args)
    assert result.exit_code == 0, result.output
    counts = doc_counts(doccano_api, project["id"])
    assert len(counts) == 40 and set(counts.values()) == {1}


# -- a failing import task ----------------------------------------------------------------------------


def test_failed_import_task_is_reported_and_its_batch_rolled_back(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    """A dangling relation makes Doccano's task fail (and retry, leaving copies): we undo the batch."""
    from annotate.records.model import Relation

    good = make_tasks(3)
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    push(
        doccano_api,
        write_tasks(tmp_path / "ok.jsonl", good),
        project=project["id"],
        recipe=pushpull_recipe(),
        options=options,
    )
    broken = make_tasks(2, prefix="broken")
    broken[0] = broken[0].with_annotations(broken[0].entities, [Relation(0, 0, 999, "LOCATED_IN")])
    with pytest.raises(TaskFailed) as info:
        upload_batch(
            doccano_api,
            project["id"],
            broken,
            {},
            InFlight(Ledger(tmp_path, "x", project["id"])),
            timeout=120,
        )
    assert "the Doccano task failed" in info.value.message
    assert sorted(doc_counts(doccano_api, project["id"])) == sorted(r.doc_id for r in good)

    # Beside a batch that imports fine: that one lands, the broken one is rolled back, the
    # failure is raised, and the ledger holds no batch in flight afterwards.
    more = make_tasks(3, prefix="more")
    ledger = Ledger(tmp_path, "x", project["id"])
    done: list[list[str]] = []
    with pytest.raises(TaskFailed):
        upload_batches(
            doccano_api,
            project["id"],
            [broken, more],
            {},
            InFlight(ledger),
            120,
            2,
            lambda batch: done.append([r.doc_id for r in batch]),
        )
    assert done == [[r.doc_id for r in more]]
    assert sorted(doc_counts(doccano_api, project["id"])) == sorted(r.doc_id for r in good + more)
    assert set(doc_counts(doccano_api, project["id"]).values()) == {1}
    assert ledger.load() == []


# -- kill -9 -------------------------------------------------------------------------------------------


def _ledger_entries(home: Path) -> list[dict[str, Any]]:
    for f in (home / "push-ledger").glob("*.json"):
        try:
            batches = json.loads(f.read_text(encoding="utf-8")).get("batches") or []
        except (OSError, ValueError):
            continue
        if batches:
            return [dict(b) for b in batches]
    return []


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["import_in_flight", "before_task_id"])
def test_kill_9_mid_upload_then_rerun_leaves_every_document_exactly_once_and_complete(
    doccano_env: dict[str, str], doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path, moment: str
) -> None:
    records = make_tasks(300, seed=7)
    tasks = write_tasks(tmp_path / "t.jsonl", records)
    env = {**os.environ, **_env(doccano_env, tmp_path)}
    home = Path(env["ANNOTATE_HOME"])
    cmd = [
        sys.executable,
        "-m",
        "annotate",
        "push",
        str(tasks),
        "--project",
        str(project["id"]),
        "--recipe",
        str(RECIPE),
        "--sync-labels",
        "--batch-size",
        "50",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Six batches of 50, two imported at once: the third starts only once one is complete.
    third = {r.doc_id for r in records[100:]}
    deadline = time.monotonic() + 120
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        later = [e for e in _ledger_entries(home) if e["doc_ids"][0] in third]
        if later and (moment == "before_task_id" or later[-1].get("task_id")):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)
    proc.wait(timeout=30)
    assert killed, "the push ended before it could be killed: " + proc.stderr.read().decode()[-500:]
    assert 0 < sum(doc_counts(doccano_api, project["id"]).values()) < 300

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    counts = doc_counts(doccano_api, project["id"])
    assert len(counts) == 300 and set(counts.values()) == {1}, Counter(counts.values())
    out = tmp_path / "gold.jsonl"
    pull(doccano_api, project=project["id"], out=out)
    want = {r.doc_id: annotation_view(r) for r in records}
    assert {g.doc_id: annotation_view(g) for g in read(out)} == want


@pytest.mark.slow
def test_ctrl_c_during_two_imports_exits_130_at_once_and_a_rerun_completes(
    doccano_env: dict[str, str], doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    records = make_tasks(600, seed=11)  # two batches of 300, imported at once
    tasks = write_tasks(tmp_path / "t.jsonl", records)
    env = {**os.environ, **_env(doccano_env, tmp_path)}
    home = Path(env["ANNOTATE_HOME"])
    cmd = [sys.executable, "-m", "annotate", "push", str(tasks), "--project", str(project["id"])]
    cmd += ["--recipe", str(RECIPE), "--sync-labels"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        entries = _ledger_entries(home)
        if len(entries) == 2 and all(e.get("task_id") for e in entries):
            break
        time.sleep(0.005)
    assert proc.poll() is None, (
        "the push ended before both imports ran: " + proc.stderr.read().decode()[-500:]
    )
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    # The push stopped waiting at once; both imports (each about a second) were still running,
    # so both stay in the ledger for the next push.
    assert time.monotonic() - t0 < 1.0
    assert len(_ledger_entries(home)) == 2
    assert "Traceback" not in proc.stderr.read().decode()

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    counts = doc_counts(doccano_api, project["id"])
    assert len(counts) == 600 and set(counts.values()) == {1}, Counter(counts.values())
    assert _ledger_entries(home) == []


def test_dropped_file_upload_is_retried_and_the_push_completes(
    proxy: TruncatingProxy, proxied_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    proxy.fail_next(1, "drop", methods={"POST"}, path_contains="/fp/process")
    proxy.fail_next(1, "503", methods={"GET"}, path_contains="/tasks/status")
    tasks = write_tasks(tmp_path / "t.jsonl", make_tasks(10))
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    report = push(proxied_api, tasks, project=project["id"], recipe=pushpull_recipe(), options=options)
    assert report.pushed == 10
    assert [o for _, _, o in proxy.requests("POST", "/fp/process")] == ["drop", "forwarded"]
    assert len(proxy.requests("POST", "/upload")) == 1


def test_503_on_starting_the_import_is_exit_3_and_a_rerun_pushes_each_doc_once(
    proxy: TruncatingProxy,
    doccano_env: dict[str, str],
    doccano_api: DoccanoAPI,
    project: dict[str, Any],
    tmp_path: Path,
) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", make_tasks(10))
    env = _env(doccano_env, tmp_path, DOCCANO_URL=proxy.url)
    args = ["push", str(tasks), "--project", str(project["id"]), "--recipe", str(RECIPE), "--sync-labels"]
    proxy.fail_next(1, "503", methods={"POST"}, path_contains=f"/projects/{project['id']}/upload")
    result = cli(env, *args)
    assert result.exit_code == 3 and "start import task: HTTP 503" in result.output
    assert doccano_api.list_examples(project["id"]) == []
    assert cli(env, *args).exit_code == 0
    counts = doc_counts(doccano_api, project["id"])
    assert len(counts) == 10 and set(counts.values()) == {1}


def test_partly_imported_copies_are_replaced_so_no_annotation_is_missing(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    """What a Celery retry or a crash mid-import leaves: a copy with only some of its annotations."""
    import json as _json

    from annotate.formats.doccano import to_import_line

    pid = project["id"]
    records = make_tasks(6)
    tasks = write_tasks(tmp_path / "t.jsonl", records)
    recipe = pushpull_recipe()
    # doc-00000 gets a complete and a partial copy; doc-00001 only a partial one (a batch in flight).
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    push(
        doccano_api,
        write_tasks(tmp_path / "first.jsonl", [records[0]]),
        project=pid,
        recipe=recipe,
        options=options,
    )
    partial_lines = []
    for rec in records[:2]:
        line = to_import_line(rec)
        line["entities"] = line["entities"][:3]
        line["relations"] = []
        partial_lines.append(_json.dumps(line, ensure_ascii=True))
    partial = tmp_path / "partial.jsonl"
    partial.write_text("\n".join(partial_lines) + "\n", encoding="ascii")
    doccano_api.wait_task(
        doccano_api.start_import(pid, [doccano_api.upload_file(partial)]), timeout=60, what="x"
    )
    Ledger(tmp_path, doccano_api.url, pid).save([{"doc_ids": [records[1].doc_id], "task_id": None, "at": 0}])

    report = push(doccano_api, tasks, project=pid, recipe=recipe, options=PushOptions(ledger_dir=tmp_path))
    assert report.repaired == 2 and report.pushed == 5
    counts = doc_counts(doccano_api, pid)
    assert len(counts) == 6 and set(counts.values()) == {1}
    out = tmp_path / "gold.jsonl"
    pull(doccano_api, project=pid, out=out)
    assert {g.doc_id: annotation_view(g) for g in read(out)} == {
        r.doc_id: annotation_view(r) for r in records
    }
    assert Ledger(tmp_path, doccano_api.url, pid).load() == []


# -- label types in bulk -----------------------------------------------------------------------------


def _label_type_posts(proxy: FaultProxy) -> list[str]:
    return [path for _, path, _ in proxy.requests("POST") if "-type" in path]


def test_push_creates_every_recipe_label_type_with_colour_and_shortcut_in_two_requests(
    proxy: TruncatingProxy, proxied_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    recipe = pushpull_recipe()
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    report = push(proxied_api, UNICODE, project=project["id"], recipe=recipe, options=options)
    posts = _label_type_posts(proxy)
    assert len(posts) == 2, posts
    assert any("span-type-upload" in p for p in posts) and any("relation-type-upload" in p for p in posts)
    spans = {t["text"]: t for t in proxied_api.list_label_types(project["id"], "span")}
    assert {name: (t["background_color"], t["prefix_key"], t["suffix_key"]) for name, t in spans.items()} == {
        label.name: (label.color, None, label.shortcut) for label in recipe.labels
    }
    rels = {t["text"]: t["background_color"] for t in proxied_api.list_label_types(project["id"], "relation")}
    assert rels == {r.name: r.color for r in recipe.relation_types}
    assert sorted(report.labels_added) == sorted([*spans, *rels])


def test_sync_labels_adds_only_the_missing_types_and_never_a_duplicate_name(
    proxy: TruncatingProxy,
    proxied_api: DoccanoAPI,
    doccano_api: DoccanoAPI,
    project: dict[str, Any],
    tmp_path: Path,
) -> None:
    recipe = pushpull_recipe()
    doccano_api.create_label_type(
        project["id"], "span", {"text": "PERSON", "suffix_key": "p", "background_color": "#1f77b4"}
    )
    doccano_api.create_label_type(project["id"], "relation", {"text": "MET", "background_color": "#9467bd"})
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    report = push(proxied_api, UNICODE, project=project["id"], recipe=recipe, options=options)
    assert sorted(report.labels_added) == ["GPE", "LOCATED_IN", "ORG"]
    assert len(_label_type_posts(proxy)) == 2
    spans = [t["text"] for t in proxied_api.list_label_types(project["id"], "span")]
    rels = [t["text"] for t in proxied_api.list_label_types(project["id"], "relation")]
    assert sorted(spans) == ["GPE", "ORG", "PERSON"] and sorted(rels) == ["LOCATED_IN", "MET"]
    # A second push has nothing to add and sends no label-type request at all.
    push(proxied_api, UNICODE, project=project["id"], recipe=recipe, options=options)
    assert len(_label_type_posts(proxy)) == 2


def test_two_new_types_with_the_same_shortcut_are_a_conflict_and_nothing_is_created(
    proxied_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    # The bulk upload checks shortcuts only against saved types; the plan must catch a clash
    # inside the batch ("g" and "G" are the same Doccano key).
    base = pushpull_recipe()
    labels = (base.labels[0], replace(base.labels[1], shortcut="g"), replace(base.labels[2], shortcut="G"))
    recipe = replace(base, labels=labels)
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    with pytest.raises(ProjectConflict, match="shortcut is taken by 'GPE'"):
        push(proxied_api, UNICODE, project=project["id"], recipe=recipe, options=options)
    assert proxied_api.list_label_types(project["id"], "span") == []
    assert proxied_api.list_label_types(project["id"], "relation") == []
