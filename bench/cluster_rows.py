"""The ``dask`` rows: ``preannotate --scheduler`` against one machine's workers, 2 Dask workers
against 1, and the client's peak memory on a big corpus against a small one.

The clusters are real: a ``dask scheduler`` and ``dask worker`` processes (one thread each) on
127.0.0.1, started here and stopped after. Each timed run is a fresh client process, as a
user runs it; the workers are warm (one untimed run on a few documents first loads the pipeline
on each, which a running cluster keeps from run to run). For 2 workers against 1, each timed
run has its own cluster and only that one runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import ours
from bench.harness import ROOT, Row, log, median, run_proc
from bench.run import _guard, rss_ratio


def _env() -> dict[str, str]:
    env = dict(os.environ, ANNOTATE_NO_PROGRESS="1")
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@contextlib.contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    """Yield the address of a real scheduler with ``workers`` workers of 1 thread on loopback."""
    folder = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, log_name: str) -> None:
        log_file = open(folder / log_name, "wb")  # noqa: SIM115 (lives as long as the process)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", *args],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=_env(),
                start_new_session=True,
            )
        )

    try:
        file = folder / "scheduler.json"
        start(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(file), log_name="s.log"
        )
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start")
            time.sleep(0.1)
        time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        for i in range(workers):
            start(
                "worker",
                address,
                "--nthreads",
                "1",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                log_name=f"w{i}.log",
            )
        while (folder / "s.log").read_text(errors="replace").count("Register worker") < workers:
            if time.monotonic() > deadline + 60:
                raise RuntimeError("dask workers did not register")
            time.sleep(0.2)
        yield address
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


def _same(a: Path, b: Path) -> None:
    if a.read_bytes() != b.read_bytes():
        raise RuntimeError(
            f"{a.name} and {b.name} differ: the cluster's output is not the one-machine output"
        )


def local_cluster_row(cfg: Any, articles: Path, n: int) -> Row:
    row = Row(
        f"dask: `--scheduler local:2` ({n} docs)",
        "`annotate preannotate --scheduler local:2`",
        "the same, `--n-process 2`",
        "≤ 1.15×",
    )
    a, b = cfg.workdir / "dask-local.jsonl", cfg.workdir / "dask-forked.jsonl"
    ratios: list[float] = []

    def body(_: Row) -> None:
        for i in range(cfg.runs):
            pair = [
                lambda: run_proc(ours.preannotate_cmd(articles, b, cfg, "--n-process", "2"), env=_env()),
                lambda: run_proc(
                    ours.preannotate_cmd(articles, a, cfg, "--scheduler", "local:2"), env=_env()
                ),
            ]
            first, second = (pair[1], pair[0]) if i % 2 else (pair[0], pair[1])
            r1, r2 = first(), second()
            base, mine = (r2, r1) if i % 2 else (r1, r2)
            row.base_s.append(base.seconds)
            row.ours_s.append(mine.seconds)
            ratios.append(mine.seconds / base.seconds)
            _same(a, b)
            log(f"dask local run {i + 1}: --n-process 2 {base.seconds:.1f}s, local:2 {mine.seconds:.1f}s")
        row.value = median(ratios)
        row.passed = row.value <= 1.15
        row.note = (
            "both fresh processes, start-up included: local:2 starts a scheduler and forks 2 "
            "Dask workers once the pipeline is loaded, --n-process forks 2 plain workers; "
            "outputs byte-identical."
        )

    return _guard(row, body)


def _timed_on_cluster(cfg: Any, workers: int, articles: Path, out: Path, warm: Path) -> Any:
    """Start a cluster of ``workers``, warm it on ``warm`` (each worker loads the pipeline, as a
    running cluster keeps it), time one fresh client on ``articles``, stop the cluster. Only the
    cluster being measured runs: an idle one's scheduler, nannies and workers take some CPU."""
    with dask_cluster(workers) as address:
        # The check before the work builds the pipeline on every worker.
        warmed = cfg.workdir / "dask-warm.jsonl"
        run_proc(ours.preannotate_cmd(warm, warmed, cfg, "--scheduler", address), env=_env())
        return run_proc(ours.preannotate_cmd(articles, out, cfg, "--scheduler", address), env=_env())


def _speed_row(cfg: Any, articles: Path, n: int, warm: Path, client_cpu: list[float]) -> Row:
    """2 warm workers against 1 on ``articles`` (``n`` documents), fresh client processes; the
    client's CPU seconds with 2 workers go to ``client_cpu``."""
    speed = Row(
        f"dask: scheduler + 2 workers vs 1 ({n:,} docs)",
        "`--scheduler ADDRESS`, 2 `dask worker --nthreads 1`",
        "the same with 1 worker",
        "≥ 1.7× faster",
        unit="× faster",
    )
    outs = {2: cfg.workdir / f"dask-2w-{n}.jsonl", 1: cfg.workdir / f"dask-1w-{n}.jsonl"}
    speedups: list[float] = []

    def body(_: Row) -> None:
        for i in range(cfg.runs):
            times = {k: _timed_on_cluster(cfg, k, articles, outs[k], warm) for k in ((2, 1), (1, 2))[i % 2]}
            speed.ours_s.append(times[2].seconds)
            speed.base_s.append(times[1].seconds)
            client_cpu.append(times[2].cpu_seconds)
            speedups.append(times[1].seconds / times[2].seconds)
            _same(outs[2], outs[1])
            log(
                f"dask cluster run {i + 1} ({n} docs): 2 workers {times[2].seconds:.1f}s, "
                f"1 worker {times[1].seconds:.1f}s"
            )
        speed.value = median(speedups)
        speed.passed = speed.value >= 1.7
        per_core = n / median(speed.ours_s) * 3600 / 2
        cores = len(os.sched_getaffinity(0))
        speed.note = (
            f"warm workers (each cluster started for its run, the other stopped), fresh client "
            f"processes (start-up included); the client runs on the same {cores} cores as the "
            f"workers. 2 workers: {n / median(speed.ours_s):.1f} docs/s, "
            f"{per_core:,.0f} docs/hour per worker core; 1 worker: "
            f"{n / median(speed.base_s) * 3600:,.0f} docs/hour."
        )

    return _guard(speed, body)


def _client_share(cpu: dict[int, float], *, n: int, seconds: float) -> str:
    """What the client's CPU on two sizes says about how many worker cores one client feeds."""
    (n1, c1), (n2, c2) = sorted(cpu.items())
    if c2 - c1 < 0.2:
        return f"Client CPU: {c1:.1f} s on {n1:,} docs, {c2:.1f} s on {n2:,}: too close to tell a share."
    per_doc = (c2 - c1) / (n2 - n1)
    worker_core = seconds * 2 / n  # worker-core seconds per document, 2 workers
    return (
        f"Client CPU: {c1:.1f} s on {n1:,} docs, {c2:.1f} s on {n2:,}, that is {per_doc * 1000:.1f} ms "
        f"a document beyond its start-up, against about {worker_core * 1000:.0f} ms of a worker core: "
        f"one client core keeps about {worker_core / per_doc:,.0f} worker cores busy."
    )


def cluster_rows(
    cfg: Any,
    sizes_speed: list[tuple[Path, int]],
    small: Path,
    big: Path,
    sizes: tuple[int, int],
    warm: Path,
) -> list[Row]:
    """The 2-against-1 worker rows on each of ``sizes_speed`` (articles, count), then the
    client's memory on ``big`` against ``small``."""
    mem = Row(
        f"dask: client peak RSS {sizes[1]:,} vs {sizes[0]:,} docs",
        f"the client of `--scheduler ADDRESS` (2 workers) on {sizes[1]:,}",
        f"the same on {sizes[0]:,}",
        "≤ 1.3×",
    )
    rows: list[Row] = []

    cpu: dict[int, float] = {}
    for articles, n in sizes_speed:
        client_cpu: list[float] = []
        rows.append(_speed_row(cfg, articles, n, warm, client_cpu))
        if client_cpu:
            cpu[n] = median(client_cpu)
    if len(cpu) == 2 and rows[-1].ours_s:
        rows[-1].note += " " + _client_share(cpu, n=sizes_speed[-1][1], seconds=median(rows[-1].ours_s))

    with dask_cluster(2) as two:

        def mem_body(_: Row) -> None:
            out = cfg.workdir / "dask-mem.jsonl"

            def client(articles: Path) -> Any:
                cmd = ours.preannotate_cmd(articles, out, cfg, "--scheduler", two, model=cfg.mem_model)
                return run_proc(cmd, env=_env())

            s_mb, b_mb = rss_ratio(
                mem,
                cfg.mem_runs,
                lambda: client(small),
                lambda: client(big),
                lambda i, rs, rb: (
                    f"dask memory run {i + 1}: {rs.max_rss_mb:.0f} MB vs {rb.max_rss_mb:.0f} MB"
                ),
            )
            mem.note = (
                f"peak RSS of the client process {b_mb:.0f} MB vs {s_mb:.0f} MB "
                f"(`--model {cfg.mem_model}`, as the other memory rows; the workers are other processes)."
            )

        _guard(mem, mem_body)
    return [*rows, mem]
