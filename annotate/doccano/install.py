"""Doccano's own virtual environment: the Python it is made with, its installation, the lock.

``home/doccano/venv-py<X.Y>-<hash>/`` (``home`` = ``$ANNOTATE_HOME``) holds Doccano and its pinned
dependencies (:mod:`annotate.doccano.pins`), never mixed with the tool's environment. The name
says which Python and which pins it was made with, so another Python or a changed pin set gets
a venv of its own. A venv is built in a temporary directory beside it and renamed into place
only once it is complete (with its marker file), so a failed or interrupted install never leaves
a half-made venv that a later start would take for a good one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotate.doccano.pins import DOCCANO_CONSTRAINTS
from annotate.errors import ServerNotInstalled
from annotate.settings import annotate_home

ENV_DOCCANO_PYTHON = "ANNOTATE_DOCCANO_PYTHON"

INSTALLED_MARKER = ".annotate-installed"

Report = Callable[[str], None]
"""``report(message)``: progress of a long step (install, migrate), for the CLI to show."""

_FIX = f"use Python 3.11, 3.12 or 3.13 (set {ENV_DOCCANO_PYTHON}) with access to the package index"


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
    """Return the installation in ``venv`` if it is complete (its marker written last), else None."""
    python = venv / "bin" / "python"
    dist = sorted(venv.glob("lib/python3*/site-packages/doccano-*.dist-info"))
    backend = sorted(venv.glob("lib/python3*/site-packages/backend/config"))
    if not ((venv / INSTALLED_MARKER).exists() and python.exists() and dist and backend):
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


def venv_python() -> str:
    """Return the interpreter for Doccano's venv: $ANNOTATE_DOCCANO_PYTHON, else the tool's own."""
    return os.environ.get(ENV_DOCCANO_PYTHON) or sys.executable


def python_version(python: str) -> str:
    """Return ``X.Y`` of an interpreter; ServerNotInstalled (one line) if it does not run."""
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ServerNotInstalled(
            f"cannot run Python {python} for Doccano's environment ({type(e).__name__}); fix: {_FIX}"
        ) from None
    if out.returncode != 0 or not re.fullmatch(r"\d+\.\d+", out.stdout.strip()):
        raise ServerNotInstalled(f"cannot run Python {python} for Doccano's environment; fix: {_FIX}")
    return out.stdout.strip()


def venv_name(version: str) -> str:
    """Return the venv's directory name for a Python ``X.Y`` and the current pins."""
    digest = hashlib.sha256("\n".join(DOCCANO_CONSTRAINTS).encode()).hexdigest()[:12]
    return f"venv-py{version}-{digest}"


def ensure_installed(home: Path | None = None, *, report: Report | None = None) -> Installation:
    """Return Doccano's venv under ``home``, creating it on first use (about 90 s, 700 MB).

    The install log goes to ``home/doccano/install.log``; ``report`` gets pip's progress lines.
    """
    base = (home or annotate_home()) / "doccano"
    python = venv_python()
    version = python_version(python)
    venv = base / venv_name(version)
    found = _find_installation(venv)
    if found:
        return found
    with locked(base / ".install.lock"):
        found = _find_installation(venv)
        if found:
            return found
        say = report or (lambda message: None)
        say(f"installing Doccano into {venv} (Python {version}, about 90 s)")
        with tempfile.TemporaryDirectory(dir=base, prefix=".venv-building-") as tmp:
            _build(python, version, Path(tmp) / "venv", base / "install.log", say)
            if venv.exists():  # an older, unmarked leftover under the same name
                shutil.rmtree(venv)
            os.replace(Path(tmp) / "venv", venv)
        found = _find_installation(venv)
        if not found:
            raise ServerNotInstalled(
                f"Doccano's venv in {venv} is incomplete after installing; see {base / 'install.log'}"
            )
        return found


def _build(python: str, version: str, venv: Path, log_path: Path, say: Report) -> None:
    """Create a venv at ``venv`` with exactly the pinned set (``--no-deps``), then its marker."""
    requirements = venv.parent / "requirements.txt"
    requirements.write_text("\n".join(DOCCANO_CONSTRAINTS) + "\n", encoding="utf-8")
    with open(log_path, "w", encoding="utf-8") as log:
        _run_logged([python, "-m", "venv", str(venv)], log, say, python=python, version=version)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
        _run_logged(
            [*pip, "--no-deps", "--requirement", str(requirements)], log, say, python=python, version=version
        )
    (venv / INSTALLED_MARKER).write_text("\n".join(DOCCANO_CONSTRAINTS) + "\n", encoding="utf-8")


_FAILED_PACKAGE = (
    re.compile(r"No matching distribution found for ([A-Za-z0-9_.\-]+)"),
    re.compile(r"Could not find a version that satisfies the requirement ([A-Za-z0-9_.\-]+)"),
    re.compile(r"Failed (?:to )?build(?:ing wheel for)? ([A-Za-z0-9_.\-]+)"),
    re.compile(r"Package '([^']+)' requires a different Python"),
)


def failed_package(lines: list[str]) -> str | None:
    """Return the package pip names in its failure lines (with its pin, if ours), None if it names none."""
    for pattern in _FAILED_PACKAGE:
        for line in lines:
            m = pattern.search(line)
            if m:
                name = m.group(1).split("==")[0].lower().replace("_", "-")
                pins = {p.split("==")[0].lower().replace("_", "-"): p for p in DOCCANO_CONSTRAINTS}
                return pins.get(name, m.group(1))
    return None


def _run_logged(cmd: list[str], log: Any, say: Report, *, python: str, version: str) -> None:
    """Run ``cmd``, copying its output to ``log`` and reporting pip's interesting lines.

    A failure is one line: which Python, which package (if pip named one), the fix and the log.
    """
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        raise ServerNotInstalled(
            f"cannot run {cmd[0]} for Doccano's environment ({e.strerror}); fix: {_FIX}"
        ) from None
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        log.write(line)
        tail = (tail + [line.rstrip()])[-40:]
        if line.startswith(("Collecting", "Successfully installed")):
            say(line.split(" (from ")[0].strip()[:120])
    if proc.wait() != 0:
        package = failed_package(tail)
        what = f"could not install {package}" if package else f"`{' '.join(cmd[1:4])}` failed"
        raise ServerNotInstalled(
            f"{what} into Doccano's environment on Python {version} ({python}); fix: {_FIX}; see {log.name}"
        )
