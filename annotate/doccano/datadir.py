"""The files of a server's data dir: its state (PIDs, port, URL), its Django secret key, its logs."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from annotate.fileio import atomic_write
from annotate.settings import default_server_dir

STATE_FILE = "server.json"
SECRET_KEY_FILE = "secret_key"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 from the first byte."""
    with atomic_write(path, force=True, private=True) as f:
        f.write(text)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """Return the state ``start`` recorded in ``server.json``, None if there is none (or it is unreadable)."""
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


def log_tail(path: Path, lines: int) -> str:
    """Return the last ``lines`` non-blank lines of a log on one line, "" if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())


def django_secret_key(data_dir: Path) -> str:
    """Return this server's Django SECRET_KEY (Doccano's default one is public)."""
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(48)
    write_private(path, key + "\n")
    return key
