"""A local Doccano server for one user: install, start, stop, status, logs.

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

The web app runs under gunicorn bound to 127.0.0.1 only, and the Celery worker runs on the same
``DATABASE_URL`` (its broker is that database, so no Redis is needed). Each runs in its own
process group, so :func:`stop` can end exactly the processes it started, children included.

The admin password is generated here. For SQLite its Django hash is written straight into the
copied database; otherwise it goes to a Django script on stdin. It is never in argv or the
environment of any process, so it does not show in ``ps``; it is stored only in ``credentials.json``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from annotate.doccano.pins import DOCCANO_CONSTRAINTS
from annotate.errors import ConfigError, ServerError, ServerNotInstalled, ServerStartFailed
from annotate.settings import CREDENTIALS_FILE, annotate_home, default_server_dir, read_credentials

DOCCANO_REQUIREMENTS = ["doccano==1.8.4", "numpy<2", "marshmallow<4", "setuptools<82"]
"""What works (see the README): 1.8.4 needs these three pins to run at all."""

DEFAULT_PORT = 8000
ADMIN_USERNAME = "admin"
STATE_FILE = "server.json"
SECRET_KEY_FILE = "secret_key"
INSTALLED_MARKER = ".annotate-installed"
SETTINGS_MODULE = "annotate_doccano_settings"

#: Seconds a connection to the local server's SQLite database waits for the write lock (SQLite's
#: default, five, is shorter than a large import's write on a slow disk).
SQLITE_LOCK_TIMEOUT = 60
#: Seconds gunicorn lets a request run: longer than a request may wait for that lock.
WEB_REQUEST_TIMEOUT = SQLITE_LOCK_TIMEOUT + 30

_SETTINGS_SOURCE = f'''"""Doccano's production settings, changed by ``annotate server``, which wrote this."""
from config.settings.production import *  # noqa: F401,F403

# The Celery worker reads its queue (a table of this database) once a second by default, so an
# import or export task waited up to a second before it started. A fifth of a second costs one
# small query per poll (about 2% of a core while idle; a tenth cost 4%). Not set through
# CELERY_BROKER_TRANSPORT_OPTIONS: kombu's SQLAlchemy transport hands those to create_engine(),
# which refuses polling_interval.
from kombu.transport.sqlalchemy import Transport as _SQLTransport

_SQLTransport.polling_interval = 0.2

# SQLite: the web server and two Celery workers (as Doccano's own `doccano task` runs) write one
# file. annotate keeps it in WAL mode, so a reader never waits for a writer. Here each connection
# waits up to a minute for the write lock (the default, five seconds, is shorter than a large
# import's write), and a Django transaction takes the write lock when it begins (BEGIN IMMEDIATE,
# what Django 5.1 calls transaction_mode): two transactions that read before they write could
# otherwise deadlock, and SQLite fails one of them at once with "database is locked".
if DATABASES["default"].get("ENGINE") == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {{}})["timeout"] = {SQLITE_LOCK_TIMEOUT}
    if CELERY_BROKER_URL.startswith("sqla+sqlite:"):
        CELERY_BROKER_TRANSPORT_OPTIONS = {{"connect_args": {{"timeout": {SQLITE_LOCK_TIMEOUT}}}}}

    from django.db.backends.sqlite3.base import DatabaseWrapper as _SQLiteWrapper

    def _begin_immediate(self):
        self.cursor().execute("BEGIN IMMEDIATE")

    _SQLiteWrapper._start_transaction_under_autocommit = _begin_immediate

# The broker's queue rows are created on first use by whichever process gets there first: the
# web server (the health check sends a task) or the worker. When both try at once, kombu catches
# the loser's "database is locked" but not its unique-constraint error, and the worker exits.
# The queue then exists: look it up again.
from kombu.transport.sqlalchemy import Channel as _SQLChannel
from sqlalchemy.exc import IntegrityError as _IntegrityError

_get_or_create = _SQLChannel._get_or_create


def _get_or_create_once(self, queue):
    try:
        return _get_or_create(self, queue)
    except _IntegrityError:
        self.session.rollback()
        return _get_or_create(self, queue)


_SQLChannel._get_or_create = _get_or_create_once
'''

Report = Callable[[str], None]
"""``report(message)``: progress of a long step (install, migrate), for the CLI to show."""


# -- install -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installation:
    """A usable Doccano venv."""

    venv: Path
    python: Path
    backend: Path
    version: str

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def _find_installation(venv: Path) -> Installation | None:
    """Return the installation in ``venv`` if it is complete, else None."""
    python = venv / "bin" / "python"
    dist = sorted(venv.glob("lib/python3*/site-packages/doccano-*.dist-info"))
    backend = sorted(venv.glob("lib/python3*/site-packages/backend/config"))
    if not (python.exists() and dist and backend):
        return None
    if not (venv / INSTALLED_MARKER).exists() and not all(
        (venv / "bin" / name).exists() for name in ("gunicorn", "celery")
    ):
        return None
    version = dist[-1].name.removeprefix("doccano-").removesuffix(".dist-info")
    return Installation(venv=venv, python=python, backend=backend[-1].parent, version=version)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (other processes wait): one installer, one starter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _venv_python() -> str:
    """Return the interpreter for Doccano's venv: $ANNOTATE_DOCCANO_PYTHON, else ours if it is at
    most 3.11 (pandas 1.5, which Doccano 1.8 needs, has no wheels for newer ones), else a
    python3.11 / python3.10 on PATH, else ours (the install will then say what failed)."""
    chosen = os.environ.get("ANNOTATE_DOCCANO_PYTHON")
    if chosen:
        return chosen
    if sys.version_info < (3, 12):
        return sys.executable
    for name in ("python3.11", "python3.10"):
        found = shutil.which(name)
        if found:
            return found
    return sys.executable


def ensure_installed(home: Path | None = None, *, report: Report | None = None) -> Installation:
    """Return Doccano's venv under ``home``, creating it on first use (about 90 s, 700 MB).

    The install log goes to ``home/doccano/install.log``; ``report`` gets pip's progress lines.
    """
    home = home or annotate_home()
    base = home / "doccano"
    venv = base / "venv"
    found = _find_installation(venv)
    if found:
        return found
    with _locked(base / ".install.lock"):
        found = _find_installation(venv)
        if found:
            return found
        log_path = base / "install.log"
        python = _venv_python()
        say = report or (lambda message: None)
        with open(log_path, "w", encoding="utf-8") as log:
            if not (venv / "bin" / "python").exists():
                say(f"creating Doccano's virtual environment in {venv}")
                _run_logged([python, "-m", "venv", str(venv)], log, say, "create the venv")
            say("installing Doccano (about 90 s)")
            constraints = base / "constraints.txt"
            constraints.write_text("\n".join(DOCCANO_CONSTRAINTS) + "\n", encoding="utf-8")
            _run_logged(
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--constraint",
                    str(constraints),
                    *DOCCANO_REQUIREMENTS,
                ],
                log,
                say,
                "install Doccano",
            )
        (venv / INSTALLED_MARKER).write_text(" ".join(DOCCANO_REQUIREMENTS) + "\n", encoding="utf-8")
        found = _find_installation(venv)
        if not found:
            raise ServerNotInstalled(
                f"Doccano's venv in {venv} is incomplete after installing", hint=f"see {log_path}"
            )
        return found


def _run_logged(cmd: list[str], log: Any, say: Report, what: str) -> None:
    """Run ``cmd``, copying its output to ``log`` and reporting pip's interesting lines."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        log.write(line)
        tail = (tail + [line.rstrip()])[-15:]
        if line.startswith(("Collecting", "Installing", "Successfully")):
            say(line.strip())
    if proc.wait() != 0:
        raise ServerNotInstalled(
            f"could not {what} (exit {proc.returncode}): " + " | ".join(t for t in tail[-3:] if t),
            hint=f"see {log.name}; ANNOTATE_DOCCANO_PYTHON picks another Python (3.10 or 3.11)",
        )


# -- the database ----------------------------------------------------------------------------------

# Runs inside Doccano's venv: optionally migrate, then make sure the admin exists with the password
# read from stdin. The password never appears in argv (``ps``) or the environment.
_SETUP_SCRIPT = r"""
import os, sys
import django
django.setup()
from django.core import management
if os.environ.get("ANNOTATE_MIGRATE") == "1":
    management.call_command("migrate", interactive=False, verbosity=0)
    management.call_command("create_roles", verbosity=0)
    # The broker's tables and its queue, so that the web server and the worker do not race to
    # create them at their first start.
    from config.celery import app
    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(app.conf.task_default_queue)
username = os.environ.get("ANNOTATE_ADMIN_USERNAME")
if username:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        sys.exit("no password on stdin")
    from django.contrib.auth import get_user_model
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": username + "@example.invalid"})
    user.is_staff = True
    user.is_superuser = True
    user.set_password(password)
    user.save()
print("ok")
"""


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _django_password_hash(password: str, iterations: int = 600_000) -> str:
    """Return ``password`` hashed the way Django 4.2 stores it (PBKDF2-SHA256)."""
    salt = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(22))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii').strip()}"


def _set_admin_sqlite(db: Path, username: str, password: str) -> None:
    """Create (or reset) the superuser directly in a SQLite database.

    Starting Django just for this costs seconds of CPU while the server boots; the row is simple.
    """
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    hashed = _django_password_hash(password)
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn, conn:
        updated = conn.execute(
            "UPDATE auth_user SET password = ?, is_superuser = 1, is_staff = 1, is_active = 1"
            " WHERE username = ?",
            (hashed, username),
        ).rowcount
        if not updated:
            conn.execute(
                "INSERT INTO auth_user (password, last_login, is_superuser, username, last_name, email,"
                " is_staff, is_active, date_joined, first_name) VALUES (?, NULL, 1, ?, '', ?, 1, 1, ?, '')",
                (hashed, username, f"{username}@example.invalid", now),
            )


def _sqlite_file(database_url: str) -> Path | None:
    """Return the file of a ``sqlite:///`` URL, None for any other database."""
    if not database_url.startswith("sqlite:///"):
        return None
    return Path(database_url.removeprefix("sqlite:///")).absolute()


def _copy_template(template: Path, db: Path) -> None:
    """Copy the template database to ``db`` (0600), atomically."""
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(f".{db.name}.tmp")
    shutil.copyfile(template, tmp)
    os.chmod(tmp, 0o600)
    # A write-ahead log left by a database of the same name would be replayed into the copy.
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    os.replace(tmp, db)


def _use_wal(db: Path) -> None:
    """Put a SQLite database in WAL mode (it stays so): readers then never wait for a writer."""
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise ServerStartFailed(f"{db}: SQLite refused WAL mode (journal_mode is {mode})")


#: Bumped when the template's contents change (2: it holds the broker's tables and queue).
TEMPLATE_REVISION = 2


def _template_path(home: Path, inst: Installation) -> Path:
    return home / "doccano" / f"template-{inst.version}-r{TEMPLATE_REVISION}.sqlite3"


def ensure_template(home: Path, inst: Installation, *, report: Report | None = None) -> Path:
    """Return a migrated, empty SQLite database for this Doccano version, making it once (~12 s)."""
    path = _template_path(home, inst)
    if path.exists():
        return path
    with _locked(home / "doccano" / ".template.lock"):
        if path.exists():
            return path
        if report:
            report("preparing Doccano's database (once, about 12 s)")
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".template-") as tmp:
            db = Path(tmp) / "db.sqlite3"
            env = _server_env(inst, Path(tmp), _sqlite_url(db), secret_key="template")
            log = Path(tmp) / "setup.log"
            _wait_setup(_run_setup(inst, env, migrate=True, username=None, password=None, log=log), log)
            os.replace(db, path)
    return path


def _run_setup(
    inst: Installation,
    env: dict[str, str],
    *,
    migrate: bool,
    username: str | None,
    password: str | None,
    log: Path,
) -> subprocess.Popen[bytes]:
    """Start the setup script (migrate and/or admin user); return the process (stdin already fed)."""
    env = dict(env)
    if migrate:
        env["ANNOTATE_MIGRATE"] = "1"
    if username:
        env["ANNOTATE_ADMIN_USERNAME"] = username
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(inst.python), "-c", _SETUP_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=out,
            env=env,
            cwd=str(inst.backend),
        )
    assert proc.stdin is not None
    proc.stdin.write(((password or "") + "\n").encode())
    proc.stdin.close()
    return proc


def _wait_setup(proc: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = -1
    if code != 0:
        raise ServerStartFailed(
            f"setting up Doccano's database failed (exit {code}): {_tail(log, 3)}", hint=f"see {log}"
        )


# -- processes ----------------------------------------------------------------------------------------


def _proc_start_time(pid: int) -> int | None:
    """Return the kernel's start time of ``pid`` (to tell it from a reused PID), None if gone/zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if sys.platform.startswith("linux"):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        _reap(pid)
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    """Collect a zombie that is our own child (started in this process, e.g. by a test fixture)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _group_members(pgid: int) -> list[int]:
    """Return the live PIDs of process group ``pgid`` (Linux: from /proc; else just the leader)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return [pgid] if _proc_start_time(pgid) is not None else []
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
        elif int(fields[2]) == pgid:
            _reap(int(entry.name))
    return members


def _alive(record: dict[str, Any]) -> bool:
    """True if the recorded process still runs (same PID *and* same start time)."""
    started = _proc_start_time(int(record["pid"]))
    return started is not None and (started == record.get("start_time") or started == 0)


# -- state ------------------------------------------------------------------------------------------


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


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_state(data_dir: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None


def log_files(data_dir: Path | None = None) -> list[Path]:
    """Return the server's log files (web, worker, setup) that exist."""
    logs = (data_dir or default_server_dir()) / "logs"
    return [p for p in (logs / "web.log", logs / "worker.log", logs / "setup.log") if p.exists()]


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())


def _secret_key(data_dir: Path) -> str:
    """Return this server's Django SECRET_KEY (Doccano's default one is public)."""
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(48)
    _write_private(path, key + "\n")
    return key


def _settings_dir(data_dir: Path) -> Path:
    """Write the settings module Doccano's processes load (Doccano's own, plus our changes)."""
    directory = data_dir / "settings"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{SETTINGS_MODULE}.py"
    if not path.exists() or path.read_text(encoding="utf-8") != _SETTINGS_SOURCE:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_SETTINGS_SOURCE, encoding="utf-8")
        os.replace(tmp, path)
    return directory


def _server_env(inst: Installation, data_dir: Path, database_url: str, *, secret_key: str) -> dict[str, str]:
    """Return the environment for Doccano's processes: ours minus anything that could leak or mislead."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCCANO_", "CELERY_", "DJANGO_", "PYTHON", "VIRTUAL_ENV"))
        and k not in ("DATABASE_URL", "MEDIA_ROOT", "SECRET_KEY", "DEBUG")
    }
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        STANDALONE="True",
        DEBUG="False",
        DOCCANO_HOME=str(data_dir),
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(data_dir / "media"),
        SECRET_KEY=secret_key,
        PYTHONPATH=f"{inst.backend}{os.pathsep}{_settings_dir(data_dir)}",
        PYTHONUNBUFFERED="1",
        PATH=f"{inst.bin}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def _port_free(port: int) -> bool:
    """True when nothing listens on ``port``. Connections of a just-stopped server that linger in
    TIME_WAIT do not count: gunicorn binds with SO_REUSEADDR too."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux), so a killed test run
    leaves no server behind."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _spawn(
    cmd: list[str], env: dict[str, str], cwd: Path, log: Path, *, tie_to_parent: bool = False
) -> dict[str, Any]:
    """Start ``cmd`` in a new process group with output to ``log``; return its PID record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {Path(cmd[0]).name}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            cwd=str(cwd),
            start_new_session=True,  # its own process group: stop() signals exactly this group
            preexec_fn=_die_with_parent if tie_to_parent else None,
        )
    return {"pid": proc.pid, "start_time": _proc_start_time(proc.pid)}


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
) -> ServerInfo:
    """Start the local server (installing Doccano first if needed) and return where it runs.

    Idempotent: if this data dir's server already runs, return it with ``already_running=True``.
    Raises ServerStartFailed when a port is taken or the server does not become healthy.
    ``workers`` is gunicorn's worker count, ``task_workers`` Celery's (imports and exports that
    can run at once). ``tie_to_parent`` (for test fixtures) makes the server exit when this
    process dies.
    """
    began = time.monotonic()
    home = home or annotate_home()
    data_dir = (data_dir or home / "server").absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    with _locked(data_dir / ".lock"):
        state = _read_state(data_dir)
        if state:
            previous: dict[str, dict[str, Any]] = state.get("processes", {})
            if previous and all(_alive(r) for r in previous.values()):
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
            _stop_records(previous)  # a half-dead server: clear it, then start afresh
            (data_dir / STATE_FILE).unlink(missing_ok=True)

        port = DEFAULT_PORT if port is None else port
        if not _port_free(port):
            raise ServerStartFailed(
                f"port {port} on 127.0.0.1 is already in use", hint="pick another with --port"
            )
        inst = ensure_installed(home, report=report)
        url = f"http://127.0.0.1:{port}"
        logs = data_dir / "logs"

        # The database: a copy of the migrated template takes a second; migrating takes ~12 s.
        # A database we did not just copy may come from anywhere (or an older Doccano): migrate it.
        if database_url is None:
            database_url = _sqlite_url(data_dir / "db.sqlite3")
        elif not database_url.startswith(("sqlite:", "postgres:", "postgresql:", "mysql:")):
            raise ConfigError("--database-url must be a sqlite://, postgres:// or mysql:// URL")
        sqlite_file = _sqlite_file(database_url)
        if sqlite_file is not None:
            database_url = _sqlite_url(sqlite_file)  # absolute: the processes run in another cwd
        fresh_db = False
        if sqlite_file is not None and not sqlite_file.exists():
            _copy_template(ensure_template(home, inst, report=report), sqlite_file)
            fresh_db = True
        default_db = sqlite_file == data_dir / "db.sqlite3"
        env = _server_env(inst, data_dir, database_url, secret_key=_secret_key(data_dir))

        creds = read_credentials(data_dir)
        password = creds.password if creds and creds.username == ADMIN_USERNAME else secrets.token_urlsafe(18)
        if not fresh_db and not default_db:
            if report:
                report("migrating the database")
            setup = _run_setup(
                inst, env, migrate=True, username=ADMIN_USERNAME, password=password, log=logs / "setup.log"
            )
            _wait_setup(setup, logs / "setup.log")
        elif sqlite_file is not None and (fresh_db or creds is None):
            _set_admin_sqlite(sqlite_file, ADMIN_USERNAME, password)
        if sqlite_file is not None:
            _use_wal(sqlite_file)

        records: dict[str, dict[str, Any]] = {}
        try:
            records["web"] = _spawn(
                [
                    # ``python -m`` rather than bin/ scripts: their shebangs pin the venv's
                    # original path, so a moved or CI-cached venv would break.
                    str(inst.python),
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
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
                ],
                env,
                inst.backend,
                logs / "web.log",
                tie_to_parent=tie_to_parent,
            )
            records["worker"] = _spawn(
                [
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
                ],
                env,
                inst.backend,
                logs / "worker.log",
                tie_to_parent=tie_to_parent,
            )
            _write_private(
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
            _write_private(
                data_dir / CREDENTIALS_FILE,
                json.dumps({"url": url, "username": ADMIN_USERNAME, "password": password}, indent=2) + "\n",
            )
            _wait_healthy(url, records, logs, timeout=timeout)
        except BaseException:
            _stop_records(records)
            (data_dir / STATE_FILE).unlink(missing_ok=True)
            raise
        return ServerInfo(
            url=url,
            port=port,
            data_dir=data_dir,
            username=ADMIN_USERNAME,
            password=password,
            pids={k: int(r["pid"]) for k, r in records.items()},
            doccano_version=inst.version,
            seconds=time.monotonic() - began,
        )


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
                if not _alive(record):
                    log = logs / f"{name}.log"
                    raise ServerStartFailed(
                        f"Doccano's {name} process exited during start-up: {_tail(log, 3)}", hint=f"see {log}"
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


def _stop_records(records: dict[str, dict[str, Any]], timeout: float = 30.0) -> list[int]:
    """Stop the recorded process groups: SIGTERM, wait, then SIGKILL. Return the PIDs stopped.

    The web group gets SIGTERM as a whole (gunicorn's workers exit at once, nothing is lost). The
    worker's leader alone gets it: a warm shutdown lets a running import or export task finish,
    which SIGTERM to its pool child would kill. Anything left after ``timeout`` is killed.
    """
    groups = []
    for name, record in records.items():
        if not _alive(record):
            continue
        pgid = int(record["pid"])
        groups.append(pgid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if name == "worker":
                os.kill(pgid, signal.SIGTERM)
            else:
                os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_group_members(g) for g in groups):
        time.sleep(0.1)
    for pgid in groups:
        if _group_members(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_group_members(g) for g in groups):
        time.sleep(0.05)
    return groups


def stop(data_dir: Path | None = None) -> list[int]:
    """Stop the server of ``data_dir``; return the PIDs (process groups) stopped, [] if none ran."""
    data_dir = (data_dir or default_server_dir()).absolute()
    if not data_dir.exists():
        return []
    with _locked(data_dir / ".lock"):
        state = _read_state(data_dir)
        if not state:
            return []
        stopped = _stop_records(state.get("processes", {}))
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        return stopped


def status(data_dir: Path | None = None, *, check_health: bool = True) -> ServerStatus:
    """Return whether the server of ``data_dir`` runs and, if so, whether it is healthy."""
    data_dir = (data_dir or default_server_dir()).absolute()
    state = _read_state(data_dir)
    creds = read_credentials(data_dir) if data_dir.exists() else None
    logs = log_files(data_dir)
    if not state:
        return ServerStatus(
            data_dir=data_dir, running=False, logs=logs, username=creds.username if creds else None
        )
    records = state.get("processes", {})
    alive = {k: int(r["pid"]) for k, r in records.items() if _alive(r)}
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

    state = _read_state((data_dir or default_server_dir()).absolute())
    if state and normalize_url(state.get("url", "")) == normalize_url(url):
        return state.get("doccano_version") or None
    return None
