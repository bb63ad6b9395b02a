"""Timing, peak memory, the machine description, and the result table."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One line of the table: ours against a baseline, and the target the ratio must meet."""

    name: str
    ours: str
    baseline: str
    target: str
    # The figure compared with the target (a ratio, seconds, records/s), its unit and the check.
    value: float | None = None
    unit: str = "×"
    passed: bool | None = None
    ours_s: list[float] = field(default_factory=list)
    base_s: list[float] = field(default_factory=list)
    note: str = ""
    error: str = ""

    def cell_value(self) -> str:
        if self.error:
            return "not measured"
        if self.value is None:
            return "–"
        if self.unit == "×":
            return f"{self.value:.2f}×"
        if self.unit == "× faster":
            return f"{self.value:.1f}× faster"
        if self.unit == "s":
            return f"{self.value:.2f} s"
        return f"{self.value:,.0f} {self.unit}"

    def verdict(self) -> str:
        if self.error:
            return "n/a"
        return {True: "met", False: "MISSED", None: "–"}[self.passed]


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; return (wall seconds, its result)."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


@dataclass
class ProcResult:
    seconds: float
    cpu_seconds: float  # user + system time of the process itself
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


ROOT = Path(__file__).resolve().parent.parent


def run_proc(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    check: bool = True,
) -> ProcResult:
    """Run a subprocess; return its wall time, CPU time and its own peak RSS (``ru_maxrss``).

    The command runs under ``_measure.py``, so that its peak RSS is its own (see there).
    """
    env = dict(os.environ if env is None else env)
    # The scripts import ``bench`` and ``annotate`` from this checkout, wherever the bench was started.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    tmp = Path(tempfile.mkdtemp(prefix="bench-proc-"))
    try:
        with (tmp / "out").open("wb") as so, (tmp / "err").open("wb") as se:
            measure = [
                sys.executable,
                "-I",
                "-S",
                str(Path(__file__).with_name("_measure.py")),
                str(tmp / "m.json"),
            ]
            rc = subprocess.run([*measure, *cmd], env=env, cwd=cwd, stdout=so, stderr=se).returncode
        stdout = (tmp / "out").read_text(errors="replace")
        stderr = (tmp / "err").read_text(errors="replace")
        if rc != 0 or not (tmp / "m.json").exists():
            raise RuntimeError(f"the measuring wrapper failed ({rc}): {stderr.strip()[-800:]}")
        m = json.loads((tmp / "m.json").read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if check and m["returncode"] != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd[:4]))} ... exited {m['returncode']}: {stderr.strip()[-800:]}"
        )
    # ru_maxrss is in kilobytes on Linux.
    return ProcResult(m["seconds"], m["cpu_seconds"], m["max_rss_kb"] / 1024, m["returncode"], stdout, stderr)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def machine(model: str, server_how: str, client_version: str = "") -> list[tuple[str, str]]:
    """Describe the machine and software the numbers came from."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    return [
        ("cores", f"{os.cpu_count()} ({usable} usable)"),
        ("CPU", _cpu_model()),
        ("memory", mem),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("spaCy", _version("spacy")),
        ("model", model),
        ("doccano-client", client_version),
        ("Doccano server", server_how),
    ]


def table(rows: list[Row]) -> str:
    """The result table as GitHub Markdown."""
    out = [
        "| row | ours | baseline | result | target | verdict | ours (median s) | baseline (median s) "
        "| note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        o = f"{median(r.ours_s):.2f}" if r.ours_s else "–"
        b = f"{median(r.base_s):.2f}" if r.base_s else "–"
        note = r.note + (f" Error: {r.error}" if r.error else "")
        out.append(
            f"| {r.name} | {r.ours} | {r.baseline} | {r.cell_value()} | {r.target} | {r.verdict()} "
            f"| {o} | {b} | {note.strip()} |"
        )
    return "\n".join(out)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
