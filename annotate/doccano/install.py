"""Doccano's own virtual environment: the Python it is made with, its installation, the lock.

``home/doccano/venv/`` (``home`` = ``$ANNOTATE_HOME``) holds Doccano and its pinned dependencies
(:mod:`annotate.doccano.pins`), never mixed with the tool's environment.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotate.doccano.pins import DOCCANO_CONSTRAINTS
from annotate.errors import ServerNotInstalled
from annotate.settings import annotate_home

DOCCANO_REQUIREMENTS = ["doccano==1.8.4", "numpy<2", "marshmallow<4", "setuptools<82"]
"""What works (see the README): 1.8.4 needs these three pins to run at all."""

INSTALLED_MARKER = ".annotate-installed"

Report = Callable[[str], None]
"""``report(message)``: progress of a long step (install, migrate), for the CLI to show."""


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
def locked(path: Path) -> Iterator[None]:
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
    with locked(base / ".install.lock"):
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
