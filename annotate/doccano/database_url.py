"""The local server's database URL: checked, shown without its password, the password kept apart.

A PostgreSQL URL's password never reaches Doccano's argv or environment: its processes get the URL
without it, plus ``PGPASSFILE`` naming a 0600 file in the server's data dir from which libpq
(psycopg2, under both Django and the Celery broker's SQLAlchemy) reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from annotate.errors import ServerStartFailed

ENV_DATABASE_URL = "ANNOTATE_DATABASE_URL"
PGPASS_FILE = "pgpass"

_POSTGRES_SCHEMES = ("postgres", "postgresql")


@dataclass(frozen=True)
class DatabaseURL:
    """A database for the server: ``url`` has no password; ``password`` is hidden from ``repr``."""

    url: str
    password: str = field(default="", repr=False)


def _bad(url: str, why: str) -> ServerStartFailed:
    return ServerStartFailed(
        f"{ENV_DATABASE_URL} is not a usable database URL ({why}): {redact(url)}",
        hint="e.g. postgresql://USER:PASSWORD@HOST:5432/DATABASE (or sqlite:////path/db.sqlite3)",
    )


def redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        return _with_user(parts, f"{parts.username or ''}:***")
    except ValueError:
        return url.split("://", 1)[0] + "://***"


def parse(url: str) -> DatabaseURL:
    """Check a ``sqlite://`` or ``postgres(ql)://`` URL; return it with the password taken out.

    Raises ServerStartFailed (exit 3, the server stays stopped) for a URL that cannot be used.
    """
    url = url.strip()
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "sqlite":
        return DatabaseURL(url)
    if scheme not in _POSTGRES_SCHEMES:
        raise _bad(url, "it must start with postgresql:// or sqlite://")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as e:
        raise _bad(url, str(e)) from None
    if not parts.path.strip("/"):
        raise _bad(url, "it names no database")
    if not parts.username:
        raise _bad(url, "it names no user")
    return DatabaseURL(_without_password(parts), unquote(parts.password or ""))


def _without_password(parts: SplitResult) -> str:
    return _with_user(parts, str(parts.username))


def _with_user(parts: SplitResult, user: str) -> str:
    """Return the URL of ``parts`` (which has a user part) with ``user`` before its ``@`` instead."""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def pgpass_line(db: DatabaseURL) -> str:
    """Return the line of a libpq password file for ``db``: ``host:port:database:user:password``."""
    parts = urlsplit(db.url)
    fields = [
        parts.hostname or "*",
        str(parts.port or 5432) if parts.hostname else "*",
        unquote(parts.path.lstrip("/")),
        unquote(parts.username or ""),
        db.password,
    ]
    return ":".join(_pgpass_field(f) for f in fields) + "\n"


def pgpass_path(data_dir: Path) -> Path:
    """Return where the server's libpq password file lives (written 0600 by the server's start)."""
    return data_dir / PGPASS_FILE
