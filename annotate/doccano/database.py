"""Doccano's database: the migrated SQLite template, its copies in WAL mode, the admin user.

The admin password never reaches argv or the environment of a process: for SQLite its Django
hash is written straight into the database; otherwise it goes to a Django script on stdin.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import shutil
import sqlite3
import string
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from annotate.doccano.database_url import DatabaseURL
from annotate.doccano.datadir import log_tail
from annotate.doccano.environment import server_env
from annotate.doccano.install import Installation, Report, locked
from annotate.errors import ServerStartFailed

# Runs inside Doccano's venv: optionally migrate, then make sure the admin exists with the password
# read from stdin. The password never appears in argv (``ps``) or the environment.
_SETUP_SCRIPT = r"""
import os, sys
import django
django.setup()
from django.core import management
from django.db import connection
from django.db.utils import OperationalError
try:
    connection.ensure_connection()
except OperationalError as e:
    # One line, for the start's error message: a refused connection, a missing database, a login.
    print("annotate-database-error: " + " ".join(str(e).split()), flush=True)
    sys.exit(4)
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


def sqlite_url(path: Path) -> str:
    """Return the ``DATABASE_URL`` of a SQLite file."""
    return f"sqlite:///{path}"


def _django_password_hash(password: str, iterations: int = 600_000) -> str:
    """Return ``password`` hashed the way Django 4.2 stores it (PBKDF2-SHA256)."""
    salt = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(22))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii').strip()}"


def set_admin_sqlite(db: Path, username: str, password: str) -> None:
    """Create (or reset) the superuser directly in a SQLite database.

    Starting Django just for this costs seconds of CPU while the server boots; the row is simple.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
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


def sqlite_file(database_url: str) -> Path | None:
    """Return the file of a ``sqlite:///`` URL, None for any other database."""
    if not database_url.startswith("sqlite:///"):
        return None
    return Path(database_url.removeprefix("sqlite:///")).absolute()


def copy_template(template: Path, db: Path) -> None:
    """Copy the template database to ``db`` (0600), atomically."""
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(f".{db.name}.tmp")
    shutil.copyfile(template, tmp)
    os.chmod(tmp, 0o600)
    # A write-ahead log left by a database of the same name would be replayed into the copy.
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    os.replace(tmp, db)


def use_wal(db: Path) -> None:
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
    with locked(home / "doccano" / ".template.lock"):
        if path.exists():
            return path
        if report:
            report("preparing Doccano's database (once, about 12 s)")
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".template-") as tmp:
            db = Path(tmp) / "db.sqlite3"
            env = server_env(inst, Path(tmp), sqlite_url(db), secret_key="template")
            log = Path(tmp) / "setup.log"
            wait_setup(run_setup(inst, env, migrate=True, username=None, password=None, log=log), log)
            os.replace(db, path)
    return path


def run_setup(
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


#: The setup script's exit status when it cannot connect to the database.
DATABASE_UNREACHABLE = 4


def wait_setup(
    proc: subprocess.Popen[bytes], log: Path, timeout: float = 300, *, database: DatabaseURL | None = None
) -> None:
    """Wait for the setup script; ServerStartFailed (with its log's tail) unless it succeeded."""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = -1
    if code == DATABASE_UNREACHABLE and database is not None:
        raise _unreachable(database, log)
    if code != 0:
        raise ServerStartFailed(
            f"setting up Doccano's database failed (exit {code}): {log_tail(log, 3)}", hint=f"see {log}"
        )


def _unreachable(database: DatabaseURL, log: Path) -> ServerStartFailed:
    """The error for a database the setup script could not connect to (its password never shown)."""
    reason = log_tail(log, 1).removeprefix("annotate-database-error: ")
    if database.password:
        reason = reason.replace(database.password, "***")
    return ServerStartFailed(
        f"cannot use the database {database.url}: {reason}",
        hint="check ANNOTATE_DATABASE_URL (host, port, database, user, password; ?sslmode=disable "
        "for a server without SSL); the server was not started",
    )
