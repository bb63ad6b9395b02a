"""Running code that needs doccano-client: here if it is installed, else in the repo's .venv-doccano-client.

doccano-client is the extra ``annotate[doccano-client]``: it needs pydantic 1 (so spaCy 3.8.11) and does
not install on Python 3.13, so ``scripts/setup.sh`` gives it a venv of its own where it resolves.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from annotate.settings import ENV_PASSWORD, ENV_URL, ENV_USERNAME, ConnectionSettings

REPO = Path(__file__).resolve().parent.parent
CLIENT_VENV_PYTHON = REPO / ".venv-doccano-client" / "bin" / "python"


def client_python() -> str | None:
    """Return an interpreter that can import doccano_client (ours first), None if there is none."""
    if importlib.util.find_spec("doccano_client") is not None:
        return sys.executable
    if CLIENT_VENV_PYTHON.exists():
        return str(CLIENT_VENV_PYTHON)
    return None


def run_with_client(script: str, settings: ConnectionSettings) -> Any:
    """Run ``script`` (which prints one JSON value) where doccano-client is; skip if it is nowhere.

    The script gets the connection in DOCCANO_URL/_USERNAME/_PASSWORD and this checkout's annotate.
    """
    python = client_python()
    if python is None:
        pytest.skip(
            "doccano-client is not installed: it is the extra annotate[doccano-client], which "
            "scripts/setup.sh puts in .venv-doccano-client on Python 3.11/3.12 "
            f"(not on {sys.version.split()[0]})"
        )
    env = {
        **os.environ,
        ENV_URL: settings.url,
        ENV_USERNAME: settings.username,
        ENV_PASSWORD: settings.password,
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run([python, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
