"""A local Doccano server for one user: start, stop, status, logs.

Layout (``home`` = ``$ANNOTATE_HOME``, see :func:`annotate.settings.annotate_home`)::

    home/doccano/venv/                 Doccano's own virtual environment (never the tool's)
    home/doccano/template-<ver>-r<n>.sqlite3
                                       a migrated, empty database, copied for a fast start
    home/server/                       the default data dir (``--data-dir`` picks another)
        db.sqlite3  media/  logs/web.log  logs/worker.log
        server.json                    PIDs (with their start times), port, URL   (0600)
        credentials.json               admin user name and password              (0600)
        secret_key                     Django's SECRET_KEY for this server       (0600)
        settings/                      the Django settings module the processes load

The web app runs under gunicorn bound to 127.0.0.1 only (another address only when ``host``
asks for it: then only that host is allowed and its origin trusted for CSRF; Doccano's
production settings, DEBUG off, hold either way), and the Celery worker runs on the same
``DATABASE_URL`` (its broker is that database, so no Redis is needed). Each runs in its own
process group, so :func:`stop` can end exactly the processes it started, children included.

The admin password is generated here. For SQLite its Django hash is written straight into the
copied database; otherwise it goes to a Django script on stdin. It is never in argv or the
environment of any process, so it does not show in ``ps``; it is stored only in ``credentials.json``.

:func:`start` prepares (the venv, the database, the admin), launches (web server and worker) and
waits until the server is healthy. The parts live beside this module: :mod:`~annotate.doccano.install`
(the venv), :mod:`~annotate.doccano.database`, :mod:`~annotate.doccano.environment` (what the
processes run with), :mod:`~annotate.doccano.processes` and :mod:`~annotate.doccano.datadir`.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.doccano.database import (
    copy_template,
    ensure_template,
    run_setup,
    set_admin_sqlite,
    sqlite_file,
    sqlite_url,
    use_wal,
    wait_setup,
)
from annotate.doccano.datadir import (
    STATE_FILE,
    django_secret_key,
    log_files,
    log_tail,
    read_state,
    write_private,
)
from annotate.doccano.environment import SQLITE_LOCK_TIMEOUT, server_env
from annotate.doccano.install import Installation, Report, ensure_installed, locked
from annotate.doccano.processes import free_port, is_alive, port_free, spawn, stop_records
from annotate.errors import ConfigError, ServerError, ServerStartFailed
from annotate.settings import CREDENTIALS_FILE, annotate_home, default_server_dir, read_credentials

__all__ = [
    "ADMIN_USERNAME",
    "DEFAULT_PORT",
    "LOOPBACK",
    "WEB_REQUEST_TIMEOUT",
    "Report",
    "ServerInfo",
    "ServerStatus",
    "free_port",
    "local_version",
    "log_files",
    "start",
    "status",
    "stop",
]

DEFAULT_PORT = 8000
LOOPBACK = "127.0.0.1"
ADMIN_USERNAME = "admin"

#: Seconds gunicorn lets a request run: longer than a request may wait for SQLite's write lock.
WEB_REQUEST_TIMEOUT = SQLITE_LOCK_TIMEOUT + 30


@dataclass(frozen=True)
class ServerInfo:
    """A running local server. ``password`` is hidden from ``repr``."""

    url: str
    port: int
    data_dir: Path
    username: str
    password: str = field(repr=False)
    pids: dict[str, int] = field(default_factory=dict)
    doccano_version: str = ""
    already_running: bool = False
    seconds: float = 0.0
    """How long ``start`` took."""


@dataclass(frozen=True)
class ServerStatus:
    """What ``status`` found. ``healthy`` is None when not running."""

    data_dir: Path
    running: bool
    url: str | None = None
    pids: dict[str, int] = field(default_factory=dict)
    healthy: bool | None = None
    problem: str | None = None
    username: str | None = None
    doccano_version: str | None = None
    logs: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class _Prepared:
    """What :func:`_prepare` made ready for the processes to start on."""

    inst: Installation
    env: dict[str, str]
    password: str


# -- start / stop / status ---------------------------------------------------------------------------


def start(
    *,
    port: int | None = None,
    data_dir: Path | None = None,
    database_url: str | None = None,
    home: Path | None = None,
    report: Report | None = None,
    timeout: float = 120.0,
    workers: int = 2,
    task_workers: int = 2,
    tie_to_parent: bool = False,
    host: str = LOOPBACK,
) -> ServerInfo:
    """Start the local server (installing Doccano first if needed) and return where it runs.

    Idempotent: if this data dir's server already runs, return it with ``already_running=True``.
    Raises ServerStartFailed when a port is taken or the server does not become healthy.
    ``workers`` is gunicorn's worker count, ``task_workers`` Celery's (imports and exports that
    can run at once). ``tie_to_parent`` (for test fixtures) makes the server exit when this
    process dies. ``host`` is the address gunicorn binds (an IP address of this machine).
    """
    began = time.monotonic()
    host = check_host(host)
    home = home or annotate_home()
    data_dir = (data_dir or home / "server").absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    with locked(data_dir / ".lock"):
        running = _already_running(data_dir, began)
        if running is not None:
            return running
        port = DEFAULT_PORT if port is None else port
        url = f"http://{host}:{port}"
        prepared = _prepare(home, data_dir, host, port, database_url, report=report)
        records: dict[str, dict[str, Any]] = {}
        try:
            _launch(
                prepared,
                data_dir,
                url,
                host,
                port,
                records,
                workers=workers,
                task_workers=task_workers,
                tie_to_parent=tie_to_parent,
            )
            _wait_healthy(url, records, data_dir / "logs", timeout=timeout)
        except BaseException:
            _clear(data_dir, records)
            raise
        return ServerInfo(
            url=url,
            port=port,
            data_dir=data_dir,
            username=ADMIN_USERNAME,
            password=prepared.password,
            pids={k: int(r["pid"]) for k, r in records.items()},
            doccano_version=prepared.inst.version,
            seconds=time.monotonic() - began,
        )


def _already_running(data_dir: Path, began: float) -> ServerInfo | None:
    """Return this data dir's server if all its processes run; clear a half-dead one, return None."""
    state = read_state(data_dir)
    if not state:
        return None
    previous: dict[str, dict[str, Any]] = state.get("processes", {})
    if previous and all(is_alive(r) for r in previous.values()):
        creds = read_credentials(data_dir)
        return ServerInfo(
            url=state["url"],
            port=int(state["port"]),
            data_dir=data_dir,
            username=creds.username if creds else ADMIN_USERNAME,
            password=creds.password if creds else "",
            pids={k: int(r["pid"]) for k, r in previous.items()},
            doccano_version=state.get("doccano_version", ""),
            already_running=True,
            seconds=time.monotonic() - began,
        )
    _clear(data_dir, previous)  # a half-dead server: clear it, then start afresh
    return None


def _clear(data_dir: Path, records: dict[str, dict[str, Any]]) -> list[int]:
    """Stop the recorded processes and forget the server's state; return the PIDs stopped."""
    stopped = stop_records(records)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return stopped


# -- prepare ---------------------------------------------------------------------------------------


def check_host(host: str) -> str:
    """Return ``host`` if it is an IPv4 address (what gunicorn binds); ConfigError otherwise."""
    import ipaddress

    try:
        return str(ipaddress.IPv4Address(host.strip()))
    except ValueError:
        raise ConfigError(
            f"--host {host!r} is not an IPv4 address", hint="e.g. --host 192.168.1.20"
        ) from None


def _prepare(
    home: Path, data_dir: Path, host: str, port: int, database_url: str | None, *, report: Report | None
) -> _Prepared:
    """Check the port, install Doccano if needed and make its database ready; return what to launch."""
    if not port_free(port, host):
        raise ServerStartFailed(f"port {port} on {host} is already in use", hint="pick another with --port")
    inst = ensure_installed(home, report=report)
    # The database: a copy of the migrated template takes a second; migrating takes ~12 s.
    # A database we did not just copy may come from anywhere (or an older Doccano): migrate it.
    database_url, sqlite_path = _resolve_database(data_dir, database_url)
    fresh_db = False
    if sqlite_path is not None and not sqlite_path.exists():
        copy_template(ensure_template(home, inst, report=report), sqlite_path)
        fresh_db = True
    served_at = None if host == LOOPBACK else f"http://{host}:{port}"
    env = server_env(
        inst, data_dir, database_url, secret_key=django_secret_key(data_dir), served_at=served_at
    )
    password = _set_up_database(inst, env, data_dir, sqlite_path, fresh_db=fresh_db, report=report)
    return _Prepared(inst=inst, env=env, password=password)


def _resolve_database(data_dir: Path, database_url: str | None) -> tuple[str, Path | None]:
    """Return the database URL to run on (SQLite in the data dir by default) and its SQLite file, if any."""
    if database_url is None:
        database_url = sqlite_url(data_dir / "db.sqlite3")
    elif not database_url.startswith(("sqlite:", "postgres:", "postgresql:", "mysql:")):
        raise ConfigError("--database-url must be a sqlite://, postgres:// or mysql:// URL")
    sqlite_path = sqlite_file(database_url)
    if sqlite_path is not None:
        database_url = sqlite_url(sqlite_path)  # absolute: the processes run in another cwd
    return database_url, sqlite_path


def _set_up_database(
    inst: Installation,
    env: dict[str, str],
    data_dir: Path,
    sqlite_path: Path | None,
    *,
    fresh_db: bool,
    report: Report | None,
) -> str:
    """Migrate a database we did not just copy, make sure the admin exists; return the admin password."""
    default_db = sqlite_path == data_dir / "db.sqlite3"
    logs = data_dir / "logs"
    creds = read_credentials(data_dir)
    password = creds.password if creds and creds.username == ADMIN_USERNAME else secrets.token_urlsafe(18)
    if not fresh_db and not default_db:
        if report:
            report("migrating the database")
        setup = run_setup(
            inst, env, migrate=True, username=ADMIN_USERNAME, password=password, log=logs / "setup.log"
        )
        wait_setup(setup, logs / "setup.log")
    elif sqlite_path is not None and (fresh_db or creds is None):
        set_admin_sqlite(sqlite_path, ADMIN_USERNAME, password)
    if sqlite_path is not None:
        use_wal(sqlite_path)
    return password


# -- launch ----------------------------------------------------------------------------------------


def _launch(
    prepared: _Prepared,
    data_dir: Path,
    url: str,
    host: str,
    port: int,
    records: dict[str, dict[str, Any]],
    *,
    workers: int,
    task_workers: int,
    tie_to_parent: bool,
) -> None:
    """Start the web server and the Celery worker, then write the state and credentials files.

    Each process goes into ``records`` as it starts, so that the caller can stop what did start.
    """
    inst, env, logs = prepared.inst, prepared.env, data_dir / "logs"
    records["web"] = spawn(
        _web_command(inst, host, port, workers),
        env,
        inst.backend,
        logs / "web.log",
        tie_to_parent=tie_to_parent,
    )
    records["worker"] = spawn(
        _worker_command(inst, task_workers),
        env,
        inst.backend,
        logs / "worker.log",
        tie_to_parent=tie_to_parent,
    )
    write_private(
        data_dir / STATE_FILE,
        json.dumps(
            {
                "url": url,
                "port": port,
                "processes": records,
                "doccano_version": inst.version,
                "started_at": time.time(),
            },
            indent=2,
        )
        + "\n",
    )
    write_private(
        data_dir / CREDENTIALS_FILE,
        json.dumps({"url": url, "username": ADMIN_USERNAME, "password": prepared.password}, indent=2) + "\n",
    )


def _web_command(inst: Installation, host: str, port: int, workers: int) -> list[str]:
    """Return the command line of the web server: Doccano's WSGI app under gunicorn, on ``host``."""
    return [
        # ``python -m`` rather than bin/ scripts: their shebangs pin the venv's
        # original path, so a moved or CI-cached venv would break.
        str(inst.python),
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--chdir",
        str(inst.backend),
        "--graceful-timeout",
        "5",
        # A request may wait up to a minute for SQLite's write lock (see the settings
        # module): gunicorn must not kill it at its default 30 s first.
        "--timeout",
        str(WEB_REQUEST_TIMEOUT),
        # Load Django once and fork the workers: one import instead of one per worker.
        "--preload",
        "--access-logfile",
        "-",
        "--error-logfile",
        "-",
        "--capture-output",
        "config.wsgi:application",
    ]


def _worker_command(inst: Installation, task_workers: int) -> list[str]:
    """Return the command line of the Celery worker that runs imports and exports."""
    return [
        str(inst.python),
        "-m",
        "celery",
        "--app=config",
        f"--workdir={inst.backend}",
        "worker",
        "--loglevel=info",
        f"--concurrency={task_workers}",
        "--without-gossip",
        "--without-mingle",
    ]


# -- wait until ready --------------------------------------------------------------------------------


def _wait_healthy(url: str, records: dict[str, dict[str, Any]], logs: Path, *, timeout: float) -> None:
    """Poll ``/v1/health/`` until it says 200; fail fast if a process dies."""
    from annotate.doccano import DoccanoAPI, RetryPolicy
    from annotate.settings import ConnectionSettings

    api = DoccanoAPI(
        ConnectionSettings(url, "", "", connect_timeout=1.0, read_timeout=10.0), retry=RetryPolicy(attempts=1)
    )
    deadline = time.monotonic() + timeout
    problem = "no answer"
    try:
        while time.monotonic() < deadline:
            for name, record in records.items():
                if not is_alive(record):
                    log = logs / f"{name}.log"
                    raise ServerStartFailed(
                        f"Doccano's {name} process exited during start-up: {log_tail(log, 3)}",
                        hint=f"see {log}",
                    )
            try:
                api.health()
                return
            except ServerError as e:
                problem = e.message
            time.sleep(0.25)
    finally:
        api.close()
    raise ServerStartFailed(
        f"Doccano did not become healthy within {timeout:.0f} s: {problem}", hint="see `annotate server logs`"
    )


def stop(data_dir: Path | None = None) -> list[int]:
    """Stop the server of ``data_dir``; return the PIDs (process groups) stopped, [] if none ran."""
    data_dir = (data_dir or default_server_dir()).absolute()
    if not data_dir.exists():
        return []
    with locked(data_dir / ".lock"):
        state = read_state(data_dir)
        if not state:
            return []
        return _clear(data_dir, state.get("processes", {}))


def status(data_dir: Path | None = None, *, check_health: bool = True) -> ServerStatus:
    """Return whether the server of ``data_dir`` runs and, if so, whether it is healthy."""
    data_dir = (data_dir or default_server_dir()).absolute()
    state = read_state(data_dir)
    creds = read_credentials(data_dir) if data_dir.exists() else None
    logs = log_files(data_dir)
    if not state:
        return ServerStatus(
            data_dir=data_dir, running=False, logs=logs, username=creds.username if creds else None
        )
    records = state.get("processes", {})
    alive = {k: int(r["pid"]) for k, r in records.items() if is_alive(r)}
    common: dict[str, Any] = dict(
        data_dir=data_dir,
        url=state.get("url"),
        pids=alive,
        logs=logs,
        username=creds.username if creds else None,
        doccano_version=state.get("doccano_version"),
    )
    if len(alive) < len(records):
        dead = sorted(set(records) - set(alive))
        return ServerStatus(
            running=bool(alive),
            healthy=False,
            problem=f"not running: {', '.join(dead)} (restart with stop + start)",
            **common,
        )
    healthy, problem = True, None
    if check_health:
        from annotate.doccano import DoccanoAPI, RetryPolicy
        from annotate.settings import ConnectionSettings

        with DoccanoAPI(
            ConnectionSettings(state["url"], "", "", read_timeout=10.0), retry=RetryPolicy(attempts=2)
        ) as api:
            try:
                api.health()
            except ServerError as e:
                healthy, problem = False, e.message
    return ServerStatus(running=True, healthy=healthy, problem=problem, **common)


def local_version(url: str, data_dir: Path | None = None) -> str | None:
    """Return the Doccano version of the local server at ``url``, if that is where it runs."""
    from annotate.settings import normalize_url

    state = read_state((data_dir or default_server_dir()).absolute())
    if state and normalize_url(state.get("url", "")) == normalize_url(url):
        return state.get("doccano_version") or None
    return None
