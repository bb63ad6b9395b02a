"""A real Dask cluster for the tests: ``dask scheduler`` and ``dask worker`` processes on
loopback, on ports the system picks, each in its own process group so a test can kill one.

Also a pipeline package of another version for a worker that must be refused: the installed
pipeline's files (linked, not copied) under a ``meta.json`` that says another version, put
first on that worker's ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def env(**extra: str) -> dict[str, str]:
    """The environment of a cluster process or a client: this checkout first on the path."""
    e = dict(os.environ, ANNOTATE_NO_PROGRESS="1", DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="20s")
    e.pop("DASK_SCHEDULER_ADDRESS", None)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (extra.pop("PYTHONPATH", ""), str(REPO)) if p)
    e.update(extra)
    return e


@dataclass
class DaskCluster:
    folder: Path
    address: str = ""
    scheduler: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_scheduler(self) -> None:
        file = self.folder / "scheduler.json"
        log = open(self.folder / "scheduler.log", "wb")  # noqa: SIM115 (lives as long as the process)
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                raise RuntimeError(
                    "dask scheduler did not start: " + (self.folder / "scheduler.log").read_text()
                )
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but give it its moment
        self.address = json.loads(file.read_text())["address"]

    def start_worker(self, name: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", self.address, "--nthreads", "1"]
            + ["--host", "127.0.0.1", "--no-dashboard", "--name", name],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env(**extra_env),
            start_new_session=True,
        )
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n: int, timeout: float = 90) -> None:
        """Wait until ``n`` workers are registered (the scheduler logs each one)."""
        deadline = time.monotonic() + timeout
        log = self.folder / "scheduler.log"
        while log.read_text(errors="replace").count("Register worker") < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {n} dask workers registered: {log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            kill_group(proc)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a process and everything it started (a worker's nanny and its worker)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def start_cluster(folder: Path, workers: int) -> DaskCluster:
    folder.mkdir(parents=True, exist_ok=True)
    cluster = DaskCluster(folder)
    cluster.start_scheduler()
    for i in range(workers):
        cluster.start_worker(f"w{i + 1}")
    cluster.wait_for_workers(workers)
    return cluster


def other_version_of_pipeline(folder: Path, package: str, version: str) -> Path:
    """Return a folder for ``PYTHONPATH`` holding ``package`` with ``version`` in its meta.

    The weights are the installed package's own (symlinked): a real pipeline that loads and
    reports the other version, as one installed from another release would.
    """
    import importlib.util

    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None, f"{package} is not installed"
    src = Path(spec.origin).parent
    meta = json.loads((src / "meta.json").read_text(encoding="utf-8"))
    data = src / f"{meta['lang']}_{meta['name']}-{meta['version']}"
    meta["version"] = version
    dst = folder / package
    dst.mkdir(parents=True)
    shutil.copy(src / "__init__.py", dst / "__init__.py")
    (dst / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    new_data = dst / f"{meta['lang']}_{meta['name']}-{version}"
    new_data.mkdir()
    for item in data.iterdir():
        if item.name != "meta.json":
            (new_data / item.name).symlink_to(item)
    (new_data / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder
