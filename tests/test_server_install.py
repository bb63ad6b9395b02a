"""Installing Doccano's own venv: on the tool's Python, and a failure that is one line and leaves no venv.

The failures are real: an interpreter that does not exist, and Python 3.10 (where the pinned set has
no wheels) when one is on this machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import install
from annotate.doccano.install import ENV_DOCCANO_PYTHON


def start(home: Path, python: str) -> tuple[int, str]:
    env = {"ANNOTATE_HOME": str(home), ENV_DOCCANO_PYTHON: python, "ANNOTATE_NO_PROGRESS": "1"}
    args = ["server", "start", "--data-dir", str(home / "srv"), "--port", "1"]
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.output


def assert_no_venv_left(home: Path) -> None:
    left = sorted(p.name for p in (home / "doccano").glob("*venv*")) if (home / "doccano").exists() else []
    assert left == [], f"a half-made venv was left: {left}"


def test_doccanos_venv_is_made_with_the_tools_own_python_unless_overridden(monkeypatch) -> None:
    monkeypatch.delenv(ENV_DOCCANO_PYTHON, raising=False)
    assert install.venv_python() == sys.executable
    monkeypatch.setenv(ENV_DOCCANO_PYTHON, "/opt/python3.12/bin/python3")
    assert install.venv_python() == "/opt/python3.12/bin/python3"


def test_the_venv_name_says_the_python_and_changes_with_the_pins(monkeypatch) -> None:
    name = install.venv_name("3.13")
    assert name.startswith("venv-py3.13-")
    monkeypatch.setattr(install, "DOCCANO_CONSTRAINTS", (*install.DOCCANO_CONSTRAINTS, "extra==1"))
    assert install.venv_name("3.13") != name


def test_a_python_that_does_not_run_is_one_line_exit_1_naming_it_and_the_fix(tmp_path: Path) -> None:
    code, output = start(tmp_path, str(tmp_path / "no-such-python3"))
    assert code == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: [E310]"), output
    assert "no-such-python3" in output and "fix:" in output and ENV_DOCCANO_PYTHON in output
    assert "Traceback" not in output
    assert_no_venv_left(tmp_path)


def _python_3_10() -> str | None:
    """A Python 3.10 to fail with: on PATH, else one that pyenv holds."""
    candidates = [shutil.which("python3.10") or ""]
    pyenv_root = (
        subprocess.run(["pyenv", "root"], capture_output=True, text=True) if shutil.which("pyenv") else None
    )
    if pyenv_root and pyenv_root.returncode == 0:
        candidates += sorted(
            str(p) for p in Path(pyenv_root.stdout.strip()).glob("versions/3.10*/bin/python3.10")
        )
    for found in filter(None, candidates):
        if subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
            return found
    return None


@pytest.mark.slow
def test_a_package_without_wheels_for_the_python_is_one_line_naming_python_package_and_fix(
    tmp_path: Path,
) -> None:
    python = _python_3_10()
    if python is None:
        pytest.skip("no working python3.10 on PATH to fail the install with")
    code, output = start(tmp_path, python)
    assert code == 1, output
    lines = [line for line in output.splitlines() if line.startswith(("error", "hint", "Traceback"))]
    assert len(lines) == 1 and lines[0].startswith("error: [E310] could not install "), output
    package = lines[0].removeprefix("error: [E310] could not install ").split()[0]
    assert "==" in package and package in "\n".join(install.DOCCANO_CONSTRAINTS), output
    assert "on Python 3.10" in output and "fix:" in output and "install.log" in output
    assert_no_venv_left(tmp_path)
