"""`annotate server` and `annotate doctor` against real Doccano processes."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import doccano_home
from pushpull_helpers import make_tasks
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import DoccanoAPI, database, environment, install, processes, server
from annotate.formats.doccano import dumps_import_line
from annotate.settings import ConnectionSettings

runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None):
    """Run the CLI in-process with a clean connection environment."""
    base = {
        "ANNOTATE_HOME": str(doccano_home()),
        "DOCCANO_URL": "",
        "DOCCANO_USERNAME": "",
        "DOCCANO_PASSWORD": "",
    }
    return runner.invoke(app, list(args), env={**base, **(env or {})}, catch_exceptions=False)


def _listening_addresses(port: int) -> list[str]:
    """Return the local addresses with a LISTEN socket on ``port`` (from /proc/net/tcp{,6})."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.append(address)
    return found


def assert_hidden(secret: str, text: str, where: str) -> None:
    """Fail if ``secret`` is in ``text``, without printing either (a failure must not leak it)."""
    __tracebackhide__ = True
    leaked = secret in text
    if leaked:
        pytest.fail(f"the password shows in {where}", pytrace=False)


LOOPBACK_V4 = "0100007F"  # 127.0.0.1, little-endian hex as /proc shows it


@pytest.mark.doccano
@pytest.mark.slow
def test_start_health_login_project_then_stop_leaves_no_process(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "server", server.free_port()
    started = cli("server", "start", "--data-dir", str(data_dir), "--port", str(port))
    assert started.exit_code == 0, started.output
    assert f"Doccano is running at http://127.0.0.1:{port}" in started.output
    state = json.loads((data_dir / "server.json").read_text())
    groups = [int(r["pid"]) for r in state["processes"].values()]
    creds = json.loads((data_dir / "credentials.json").read_text())
    try:
        assert_hidden(creds["password"], started.output, "start's output")
        settings = ConnectionSettings(f"http://127.0.0.1:{port}", creds["username"], creds["password"])
        with DoccanoAPI(settings) as api:
            assert api.health()
            api.login()
            project = api.create_project("lifecycle")
            assert api.find_project("lifecycle")["id"] == project["id"]
        again = cli("server", "start", "--data-dir", str(data_dir), "--port", str(port))
        assert again.exit_code == 0 and "already running" in again.output
        assert all(processes.group_members(g) for g in groups)
    finally:
        stopped = cli("server", "stop", "--data-dir", str(data_dir))
    assert stopped.exit_code == 0 and "stopped Doccano" in stopped.output
    assert sorted(groups) == sorted(
        int(x) for x in stopped.output.split("groups")[1].strip(" )\n").split(", ")
    )
    assert [g for g in groups if processes.group_members(g)] == []
    assert _listening_addresses(port) == []
    assert not (data_dir / "server.json").exists()
    status = cli("server", "status", "--data-dir", str(data_dir))
    assert status.exit_code == 3 and "not running" in status.output
    # Its closed connections linger in TIME_WAIT on this port; that must not block a restart.
    restarted = cli("server", "start", "--data-dir", str(data_dir), "--port", str(port))
    try:
        assert restarted.exit_code == 0, restarted.output
    finally:
        cli("server", "stop", "--data-dir", str(data_dir))


def test_the_worker_polls_its_queue_every_fifth_of_a_second(doccano_server: server.ServerInfo) -> None:
    """Kombu's default is once a second: every import and export task would wait up to that long."""
    state = json.loads((doccano_server.data_dir / "server.json").read_text())
    pid = int(state["processes"]["worker"]["pid"])
    environ = dict(
        item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item
    )
    assert environ["DJANGO_SETTINGS_MODULE"] == environment.SETTINGS_MODULE
    probe = (
        "import django; django.setup(); "
        "from kombu.transport.sqlalchemy import Transport; print(Transport.polling_interval)"
    )
    python = Path(f"/proc/{pid}/cmdline").read_text().split("\0")[0]  # Doccano's venv python
    out = subprocess.run(
        [str(python), "-c", probe],
        env=environ,
        cwd=environ["PYTHONPATH"].split(os.pathsep)[0],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "0.2"


def test_four_imports_at_once_all_land_on_sqlite_without_a_locking_error(
    doccano_server: server.ServerInfo, doccano_api: DoccanoAPI, make_project: Any, tmp_path: Path
) -> None:
    """Two Celery processes (as in Doccano's `doccano task`) and the web server share one SQLite
    file: it is in WAL mode, and a writer waits for the lock instead of failing at once."""
    state = json.loads((doccano_server.data_dir / "server.json").read_text())
    worker = Path(f"/proc/{state['processes']['worker']['pid']}/cmdline").read_text().split("\0")
    assert "--concurrency=2" in worker
    web = Path(f"/proc/{state['processes']['web']['pid']}/cmdline").read_text().split("\0")
    assert web[web.index("--timeout") + 1] == str(server.WEB_REQUEST_TIMEOUT)
    assert server.WEB_REQUEST_TIMEOUT > environment.SQLITE_LOCK_TIMEOUT >= 60
    db = doccano_server.data_dir / "db.sqlite3"
    if db.exists():  # the session server may run on another database (ANNOTATE_TEST_SERVER_DIR)
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    logs = {name: doccano_server.data_dir / "logs" / f"{name}.log" for name in ("web", "worker")}
    seen = {name: path.stat().st_size for name, path in logs.items()}

    project = make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=True)
    records = make_tasks(600, seed=5)
    files = []
    for i in range(4):
        path = tmp_path / f"part-{i}.jsonl"
        path.write_text("".join(dumps_import_line(r) + "\n" for r in records[i::4]), encoding="ascii")
        files.append(path)

    def run(path: Path) -> Any:
        task_id = doccano_api.start_import(project["id"], [doccano_api.upload_file(path)])
        return doccano_api.wait_task(task_id, timeout=300, what=path.name)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, files))
    assert [doccano_api.import_errors(r) for r in results] == [[], [], [], []]
    counts = Counter(
        str((e.get("meta") or {}).get("doc_id")) for e in doccano_api.list_examples(project["id"])
    )
    assert set(counts) == {r.doc_id for r in records} and set(counts.values()) == {1}
    for name, path in logs.items():
        with path.open("rb") as f:
            f.seek(seen[name])
            new = f.read().decode("utf-8", "replace")
        assert "database is locked" not in new, f"{name}.log: {new[-2000:]}"


def test_the_template_holds_the_brokers_queue_and_a_lost_create_race_is_looked_up_again(
    tmp_path: Path,
) -> None:
    """The web server and the worker both create the broker's queue on first use. The template
    holds it, and the one that loses a race to create a queue finds the winner's row instead
    of exiting on the unique-constraint error."""
    home = doccano_home()
    inst = install.ensure_installed(home)
    template = database.ensure_template(home, inst)
    with contextlib.closing(sqlite3.connect(template)) as conn:
        assert ("celery",) in conn.execute("SELECT name FROM kombu_queue").fetchall()

    db = tmp_path / "db.sqlite3"
    database.copy_template(template, db)
    database.use_wal(db)
    env = environment.server_env(inst, tmp_path, database.sqlite_url(db), secret_key="test")
    loser = (
        "import django; django.setup()\n"
        "from config.celery import app\n"
        "with app.connection_for_write() as conn:\n"
        "    channel = conn.default_channel\n"
        "    channel.session\n"
        "    print('ready', flush=True)\n"
        "    print(channel._get_or_create('race').id, flush=True)\n"
    )
    # The winner holds the write lock with its row inserted, not yet committed; the loser reads
    # (no row), tries its own insert, waits for the lock, and meets the committed row.
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as winner:
        winner.execute("BEGIN IMMEDIATE")
        row = winner.execute("INSERT INTO kombu_queue (name) VALUES ('race')").lastrowid
        proc = subprocess.Popen(
            [str(inst.python), "-c", loser],
            env=env,
            cwd=inst.backend,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        time.sleep(1.0)  # the loser's read and insert happen now; the insert waits for the lock
        winner.execute("COMMIT")
        out, errors = proc.communicate(timeout=120)
    assert proc.returncode == 0, errors[-2000:]
    assert out.strip() == str(row)


def test_the_cli_defaults_are_the_librarys() -> None:
    """The CLI keeps its own copies (it imports the library only when a command runs)."""
    import inspect

    from annotate.cli import push as push_cli
    from annotate.cli import server as server_cli
    from annotate.sync.push import DEFAULT_BATCH_SIZE, DEFAULT_PARALLEL_IMPORTS

    assert (push_cli.DEFAULT_BATCH_SIZE, push_cli.DEFAULT_PARALLEL_IMPORTS) == (
        DEFAULT_BATCH_SIZE,
        DEFAULT_PARALLEL_IMPORTS,
    )
    cli_default = inspect.signature(server_cli.start_cli).parameters["task_workers"].default
    assert cli_default == inspect.signature(server.start).parameters["task_workers"].default


def test_a_second_start_reports_already_running(doccano_server: server.ServerInfo) -> None:
    result = cli(
        "server", "start", "--data-dir", str(doccano_server.data_dir), "--port", str(doccano_server.port)
    )
    assert result.exit_code == 0
    assert f"Doccano is already running at {doccano_server.url}" in result.output
    assert_hidden(doccano_server.password, result.output, "start's output")
    assert server.status(doccano_server.data_dir).pids == doccano_server.pids


def test_the_server_listens_on_loopback_only(doccano_server: server.ServerInfo) -> None:
    addresses = _listening_addresses(doccano_server.port)
    assert addresses, "nothing listens on the server's port"
    assert set(addresses) == {LOOPBACK_V4}


def test_wrong_password_is_a_clear_error_with_exit_3(doccano_server: server.ServerInfo) -> None:
    result = cli(
        "doctor",
        "--url",
        doccano_server.url,
        "--username",
        doccano_server.username,
        env={"DOCCANO_PASSWORD": "definitely-wrong"},
    )
    assert result.exit_code == 3
    assert "error: [E302]" in result.output
    assert "wrong user name or password" in result.output
    assert "Traceback" not in result.output
    assert "definitely-wrong" not in result.output


def test_an_unreachable_server_is_exit_3_without_traceback() -> None:
    result = cli(
        "doctor",
        "--url",
        f"http://127.0.0.1:{server.free_port()}",
        "--username",
        "x",
        env={"DOCCANO_PASSWORD": "x"},
    )
    assert result.exit_code == 3
    assert "error: [E301]" in result.output and "connection refused" in result.output
    assert "Traceback" not in result.output


def test_doctor_prints_the_user_and_the_visible_projects(
    doccano_server: server.ServerInfo, doccano_env: dict[str, str], doccano_project: dict
) -> None:
    result = cli("doctor", env=doccano_env)
    assert result.exit_code == 0, result.output
    assert f"server:   {doccano_server.url} (healthy)" in result.output
    assert f"user:     {doccano_server.username} (admin)" in result.output
    assert doccano_project["name"] in result.output
    assert_hidden(doccano_server.password, result.output, "doctor's output")


def test_password_is_not_in_ps(doccano_server: server.ServerInfo) -> None:
    ps = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
    assert "gunicorn" in ps and "celery" in ps  # the listing really covers the server
    assert_hidden(doccano_server.password, ps, "ps")
    for pgid in doccano_server.pids.values():
        for pid in processes.group_members(pgid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
            assert_hidden(doccano_server.password, cmdline, f"the command line of {pid}")
            assert_hidden(doccano_server.password, environ, f"the environment of {pid}")


def test_password_is_not_in_the_server_logs(
    doccano_server: server.ServerInfo, doccano_api: DoccanoAPI
) -> None:
    logs = server.log_files(doccano_server.data_dir)
    assert {p.name for p in logs} >= {"web.log", "worker.log"}
    assert "/v1/auth/login/" in (doccano_server.data_dir / "logs" / "web.log").read_text()
    for path in logs:
        assert_hidden(doccano_server.password, path.read_text(errors="replace"), str(path))


def test_status_hides_the_password_unless_asked(doccano_server: server.ServerInfo) -> None:
    hidden = cli("server", "status", "--data-dir", str(doccano_server.data_dir))
    assert hidden.exit_code == 0 and "healthy" in hidden.output
    assert_hidden(doccano_server.password, hidden.output, "status's output")
    shown = cli("server", "status", "--data-dir", str(doccano_server.data_dir), "--show-password")
    shown_it = f"password: {doccano_server.password}" in shown.output
    assert shown_it, "--show-password did not print the password"


def test_credentials_and_state_files_are_private(doccano_server: server.ServerInfo) -> None:
    for name in ("credentials.json", "server.json", "secret_key", "db.sqlite3"):
        mode = stat.S_IMODE(os.stat(doccano_server.data_dir / name).st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    assert stat.S_IMODE(os.stat(doccano_server.data_dir).st_mode) == 0o700


def test_logs_command_prints_the_web_log(doccano_server: server.ServerInfo) -> None:
    result = cli("server", "logs", "--data-dir", str(doccano_server.data_dir), "-n", "5")
    assert result.exit_code == 0
    assert "web.log <==" in result.output and "worker.log <==" in result.output


def test_status_of_a_data_dir_without_server_is_exit_3(tmp_path: Path) -> None:
    result = cli("server", "status", "--data-dir", str(tmp_path))
    assert result.exit_code == 3 and "not running" in result.output


def test_start_on_a_taken_port_is_a_clear_error(doccano_server: server.ServerInfo, tmp_path: Path) -> None:
    result = cli("server", "start", "--data-dir", str(tmp_path / "other"), "--port", str(doccano_server.port))
    assert result.exit_code == 3
    assert f"port {doccano_server.port} on 127.0.0.1 is already in use" in result.output
    assert "Traceback" not in result.output


@pytest.mark.doccano
@pytest.mark.slow
def test_database_url_option_migrates_an_empty_database_and_serves_it(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "doccano.sqlite3"
    db.parent.mkdir()
    db.touch()  # exists but empty: must be migrated, not replaced by the template
    data_dir = tmp_path / "server"
    info = server.start(
        port=server.free_port(),
        data_dir=data_dir,
        database_url=f"sqlite:///{db}",
        home=doccano_home(),
        timeout=180,
        tie_to_parent=True,
    )
    try:
        assert not (data_dir / "db.sqlite3").exists()
        assert db.stat().st_size > 0
        with DoccanoAPI(ConnectionSettings(info.url, info.username, info.password)) as api:
            api.login()
            assert api.whoami()["is_superuser"] is True
        assert_hidden(info.password, (data_dir / "logs" / "setup.log").read_text(), "setup.log")
    finally:
        server.stop(data_dir)
