"""The top-level entry: an exception no command expected is one [E900] line, not a traceback.

Each test runs the real entry point (``annotate.cli.main``) in its own process, with one extra
command registered on the real app that fails the way the test needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HARNESS = textwrap.dedent(
    """
    import sys, typer
    from annotate.cli import app, main

    @app.command("fail")
    def fail(how: str) -> None:
        if how == "bug":
            raise RuntimeError("the flux capacitor is empty\\nand a second line")
        if how == "exit":
            raise typer.Exit(3)
        if how == "sysexit":
            sys.exit(5)
        if how == "interrupt":
            raise KeyboardInterrupt
        if how == "pipe":
            for _ in range(100_000):
                typer.echo("x" * 100)

    main()
    """
)


def _run(
    *args: str, env: dict[str, str] | None = None, pipe_to_head: bool = False
) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "ANNOTATE_DEBUG"}
    full_env.update(PYTHONPATH=str(ROOT), **(env or {}))
    cmd = [sys.executable, "-c", HARNESS, *args]
    if pipe_to_head:
        shell = " ".join(f"'{c}'" for c in cmd) + " | head -c 10 >/dev/null"
        return subprocess.run(["sh", "-c", shell], env=full_env, capture_output=True, text=True, timeout=60)
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=60)


def test_an_unexpected_exception_is_one_line_with_a_code_and_a_request_to_report_it() -> None:
    proc = _run("fail", "bug")
    assert proc.returncode == 4
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: [E900] internal error: RuntimeError: the flux capacitor is empty.")
    assert "please report it" in lines[0] and "--debug" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_debug_option_and_environment_show_the_traceback() -> None:
    for proc in (_run("--debug", "fail", "bug"), _run("fail", "bug", env={"ANNOTATE_DEBUG": "1"})):
        assert proc.returncode == 4
        assert "Traceback (most recent call last)" in proc.stderr
        assert "RuntimeError: the flux capacitor is empty" in proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1].startswith("error: [E900]")


def test_exits_interrupts_and_broken_pipes_are_not_internal_errors() -> None:
    assert _run("fail", "exit").returncode == 3
    assert _run("fail", "sysexit").returncode == 5
    interrupted = _run("fail", "interrupt")
    assert interrupted.returncode not in (0, 4) and "E900" not in interrupted.stderr
    piped = _run("fail", "pipe", pipe_to_head=True)
    assert "E900" not in piped.stderr and "Traceback" not in piped.stderr, piped.stderr


def test_a_usage_error_is_still_click_s_message() -> None:
    proc = _run("no-such-command")
    assert proc.returncode == 2 and "No such command" in proc.stderr and "E900" not in proc.stderr
