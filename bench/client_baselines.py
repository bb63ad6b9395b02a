"""The doccano-client baselines, run in the environment that has doccano-client (see :mod:`bench.baselines`).

That is this interpreter if it can import doccano_client, else the repo's ``.venv-doccano-client``
(which ``scripts/setup.sh`` makes on Python 3.11 and 3.12). Each call is one subprocess that logs in,
runs one baseline and reports the seconds it took inside; the start-up is outside the timing.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.server import Server

ROOT = Path(__file__).resolve().parent.parent
CLIENT_VENV_PYTHON = ROOT / ".venv-doccano-client" / "bin" / "python"


def client_python() -> str:
    """Return an interpreter with doccano-client; RuntimeError (the row says why) if there is none."""
    if importlib.util.find_spec("doccano_client") is not None:
        return sys.executable
    if CLIENT_VENV_PYTHON.exists():
        return str(CLIENT_VENV_PYTHON)
    raise RuntimeError(
        "no doccano-client for the baseline: it is the extra annotate[doccano-client], which "
        "scripts/setup.sh installs into .venv-doccano-client on Python 3.11/3.12"
    )


def version() -> str:
    """Return the doccano-client version the baselines run with, or why there is none."""
    try:
        python = client_python()
    except RuntimeError:
        return "not installed (the baselines that use it cannot run)"
    script = "from importlib.metadata import version; print(version('doccano-client'))"
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60)
    where = "" if python == sys.executable else " (in .venv-doccano-client)"
    return out.stdout.strip() + where


class ClientBaselines:
    """The doccano-client baselines against ``server``."""

    def __init__(self, server: Server) -> None:
        self.python = client_python()
        self.env = {**server.env(), "PYTHONPATH": str(ROOT)}

    def _run(self, action: str, **args: Any) -> tuple[float, Any]:
        cmd = [self.python, "-m", "bench.baselines", action, json.dumps(args)]
        out = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            raise RuntimeError(f"baseline {action} failed: {out.stderr.strip()[-500:]}")
        answer = json.loads(out.stdout.strip().splitlines()[-1])
        return float(answer["seconds"]), answer["result"]

    def new_project(self, name: str, spans: list[str], relations: list[str]) -> int:
        """Create a collaborative relation project with its label types (setup, never timed)."""
        return int(self._run("new_project", name=name, spans=spans, relations=relations)[1])

    def one_call_per_span(self, project: int, tasks: Path) -> tuple[float, int]:
        """Time one call per example, span and relation for the tasks in a JSONL file; (s, calls)."""
        return self._run("one_call_per_span", project=project, tasks=str(tasks))

    def raw_import(self, project: int, path: Path) -> tuple[float, int]:
        """Time the raw import task of a Doccano JSONL file; (s, example count)."""
        return self._run("raw_import", project=project, path=str(path))

    def raw_export(self, project: int, out_dir: Path) -> tuple[float, int]:
        """Time the raw export task and its download; (s, exported lines)."""
        return self._run("raw_export", project=project, out_dir=str(out_dir))
