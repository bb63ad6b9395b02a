"""``annotate users add | list``: a team's Doccano users, their passwords only in a 0600 file.

Each new user gets a generated password. The passwords go to one JSON file,
``{"alice": "..."}``, written atomically with mode 0600; they are never printed, logged or put
in an argument. A user who already exists is left as they are and reported.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from annotate.errors import TeamError, UsageError
from annotate.fileio import atomic_write, check_writable, is_stdio


@dataclass
class UsersAdded:
    """What ``users add`` did: who was created, who existed already, where the passwords are."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    passwords_out: str = ""


def check_admin(api: Any, what: str) -> None:
    """Raise TeamError unless the logged-in user is an admin of the server."""
    me = api.whoami()
    if not _is_admin(me):
        raise TeamError(
            f"{me.get('username')!r} is not an admin of {api.url}: {what} needs one",
            hint="log in as an admin (--username, DOCCANO_PASSWORD)",
        )


def _is_admin(user: dict[str, Any]) -> bool:
    """Return whether a Doccano user (``me`` or one of the user list) is an admin of the server."""
    return bool(user.get("is_superuser") or user.get("is_staff"))


def add_users(
    api: Any, names: list[str], *, passwords_out: str | os.PathLike[str], force: bool = False
) -> UsersAdded:
    """Create the users of ``names`` that do not exist; write their passwords to ``passwords_out``.

    The file is refused before any request when it exists (unless ``force``); it is written
    even when a creation fails half-way, so no created user's password is lost.
    """
    if is_stdio(passwords_out):
        raise UsageError("--passwords-out must be a file: passwords are never printed")
    wanted = _unique(names)
    check_writable(passwords_out, force=force)
    check_admin(api, "creating users")
    report = UsersAdded(passwords_out=str(passwords_out))
    passwords: dict[str, str] = {}
    existing = user_ids(api)
    try:
        for name in wanted:
            if name in existing:
                report.existing.append(name)
                continue
            password = secrets.token_urlsafe(15)
            api.create_user(name, password)
            passwords[name] = password
            report.created.append(name)
    finally:
        if passwords:
            with atomic_write(passwords_out, force=True, private=True) as f:
                f.write(json.dumps(passwords, indent=2, sort_keys=True) + "\n")
    return report


def _unique(names: list[str]) -> list[str]:
    """Return the names, stripped, in order, each once; UsageError for an empty one."""
    out: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            raise UsageError("a user name is empty")
        if name not in out:
            out.append(name)
    if not out:
        raise UsageError("name at least one user")
    return out


def user_ids(api: Any) -> dict[str, int]:
    """Return every user's id by name, in one request (Doccano's user list is not paginated)."""
    return {str(u["username"]): int(u["id"]) for u in api.list_users()}


def list_users(api: Any) -> list[dict[str, Any]]:
    """Return the server's users (name, id, admin or not), sorted by name."""
    return sorted(
        (
            {
                "username": u.get("username"),
                "id": u.get("id"),
                "admin": _is_admin(u),
            }
            for u in api.list_users()
        ),
        key=lambda u: str(u["username"]),
    )
