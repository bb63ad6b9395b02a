"""The server's processes: spawned in their own process group, told apart from a reused PID, stopped.

A process is recorded as ``{"pid", "start_time"}`` (the kernel's start time), so that a PID the
system gave to another process since is not taken for ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _proc_start_time(pid: int) -> int | None:
    """Return the kernel's start time of ``pid`` (to tell it from a reused PID), None if gone/zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if sys.platform.startswith("linux"):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        _reap(pid)
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    """Collect a zombie that is our own child (started in this process, e.g. by a test fixture)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def group_members(pgid: int) -> list[int]:
    """Return the live PIDs of process group ``pgid`` (Linux: from /proc; else just the leader)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return [pgid] if _proc_start_time(pgid) is not None else []
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
        elif int(fields[2]) == pgid:
            _reap(int(entry.name))
    return members


def is_alive(record: dict[str, Any]) -> bool:
    """True if the recorded process still runs (same PID *and* same start time)."""
    started = _proc_start_time(int(record["pid"]))
    return started is not None and (started == record.get("start_time") or started == 0)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``port`` of ``host``. Connections of a just-stopped server that
    linger in TIME_WAIT do not count: gunicorn binds with SO_REUSEADDR too."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux), so a killed test run
    leaves no server behind."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def spawn(
    cmd: list[str], env: dict[str, str], cwd: Path, log: Path, *, tie_to_parent: bool = False
) -> dict[str, Any]:
    """Start ``cmd`` in a new process group with output to ``log``; return its PID record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {Path(cmd[0]).name}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            cwd=str(cwd),
            start_new_session=True,  # its own process group: stop() signals exactly this group
            preexec_fn=_die_with_parent if tie_to_parent else None,
        )
    return {"pid": proc.pid, "start_time": _proc_start_time(proc.pid)}


def stop_records(records: dict[str, dict[str, Any]], timeout: float = 30.0) -> list[int]:
    """Stop the recorded process groups: SIGTERM, wait, then SIGKILL. Return the PIDs stopped.

    The web group gets SIGTERM as a whole (gunicorn's workers exit at once, nothing is lost). The
    worker's leader alone gets it: a warm shutdown lets a running import or export task finish,
    which SIGTERM to its pool child would kill. Anything left after ``timeout`` is killed.
    """
    groups = []
    for name, record in records.items():
        if not is_alive(record):
            continue
        pgid = int(record["pid"])
        groups.append(pgid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if name == "worker":
                os.kill(pgid, signal.SIGTERM)
            else:
                os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(group_members(g) for g in groups):
        time.sleep(0.1)
    for pgid in groups:
        if group_members(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(group_members(g) for g in groups):
        time.sleep(0.05)
    return groups
