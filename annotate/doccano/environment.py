"""What Doccano's processes run with: the settings module annotate writes for them, their environment."""

from __future__ import annotations

import os
from pathlib import Path

from annotate.doccano.install import Installation

SETTINGS_MODULE = "annotate_doccano_settings"

#: Seconds a connection to the local server's SQLite database waits for the write lock (SQLite's
#: default, five, is shorter than a large import's write on a slow disk).
SQLITE_LOCK_TIMEOUT = 60

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

# ``annotate server start --host``: only that address in the Host header, and its origin trusted
# for the web app's CSRF-protected forms (Doccano's base settings allow every host).
import os as _os

if _os.environ.get("ANNOTATE_ALLOWED_HOSTS"):
    ALLOWED_HOSTS = _os.environ["ANNOTATE_ALLOWED_HOSTS"].split(",")

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


def server_env(
    inst: Installation, data_dir: Path, database_url: str, *, secret_key: str, served_at: str | None = None
) -> dict[str, str]:
    """Return the environment for Doccano's processes: ours minus anything that could leak or mislead.

    ``served_at`` (``http://host:port``) is the address of a server bound beyond loopback: only
    its host is allowed in requests, and its origin is trusted for CSRF.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCCANO_", "CELERY_", "DJANGO_", "PYTHON", "VIRTUAL_ENV"))
        and k not in ("DATABASE_URL", "MEDIA_ROOT", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")
        and not k.startswith(("ANNOTATE_ALLOWED_HOSTS", "CSRF_"))
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
    if served_at is not None:
        env.update(
            ANNOTATE_ALLOWED_HOSTS=served_at.split("://", 1)[1].rsplit(":", 1)[0],
            CSRF_TRUSTED_ORIGINS=served_at,
        )
    return env
