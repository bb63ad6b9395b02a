"""Pre-annotation gives the same bytes on Python 3.11 and 3.13: the bundled corpus and the re3d data.

The other interpreter is the repo's other venv (``VENV=.venv-3.13 PYTHON=… bash scripts/setup.sh``
makes one; ``.ci/run`` does); without one the test skips and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INPUTS = [REPO / "corpus", *sorted((REPO / "tests" / "data" / "re3d").glob("*.jsonl"))]
WANTED = {(3, 11): (3, 13), (3, 13): (3, 11), (3, 12): (3, 13)}


def _version(python: Path) -> tuple[int, int] | None:
    out = subprocess.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True
    )
    return tuple(map(int, out.stdout.split())) if out.returncode == 0 else None  # type: ignore[return-value]


def other_python() -> tuple[Path, tuple[int, int]] | None:
    """Return a venv interpreter of this checkout on the other Python (3.13 for 3.11 and back)."""
    want = WANTED.get(sys.version_info[:2])
    for venv in sorted(REPO.glob(".venv*")):
        python = venv / "bin" / "python"
        if "doccano-client" not in venv.name and python.exists() and _version(python) == want:
            return python, want
    return None


def preannotate(python: str, out: Path) -> bytes:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ANNOTATE_NO_PROGRESS": "1", "PYTHONHASHSEED": "0"}
    cmd = [
        python,
        "-m",
        "annotate",
        "preannotate",
        *map(str, INPUTS),
        "--recipe",
        str(REPO / "recipes/news.toml"),
    ]
    proc = subprocess.run([*cmd, "--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out.read_bytes()


@pytest.mark.slow
def test_preannotation_is_byte_identical_on_python_3_11_and_3_13(tmp_path: Path) -> None:
    other = other_python()
    if other is None:
        pytest.skip(
            f"no venv of this checkout on Python {WANTED.get(sys.version_info[:2])} "
            "(make one with VENV=.venv-3.13 PYTHON=<python3.13> bash scripts/setup.sh)"
        )
    ours = preannotate(sys.executable, tmp_path / "ours.jsonl")
    theirs = preannotate(str(other[0]), tmp_path / "theirs.jsonl")
    lines = ours.decode().splitlines()
    assert len(lines) > 100 and b'"entities": [{' in ours.replace(b'"entities":[{', b'"entities": [{')
    assert ours == theirs, f"Python {sys.version_info[:2]} and {other[1]} pre-annotate differently"
