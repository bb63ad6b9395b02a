"""Pre-annotation on a Dask cluster: the batch source that ``preannotate(batches=...)`` takes.

The client reads the documents and writes the records, as one process does; only the pipeline
runs on the workers. Texts go out in batches, each its own task (never one graph of the whole
input), with a bounded number in flight: the input is read as results come back, so the
client's memory does not grow with the corpus. Results are taken in input order and each
worker returns only the annotator's plain lists, so the records, their ids and provenance are
the same bytes as without a cluster.

Before any batch, every worker builds the pipeline from the :class:`WorkSpec` (the recipe and
its pattern files travel with it) and reports its fingerprint (pipeline name and version,
spaCy, annotate, components, pattern sources); one that differs from the client's refuses the
run. (``local:N`` forks its workers from this process once its pipeline is loaded: they start
with it, as ``--n-process``'s do.) A worker that dies: Dask runs its batches again on another,
and the spec too if no worker holding it is left. The scheduler gone: a ClusterError (exit 3)
and, through the atomic writer, no output. Each batch done is kept
beside the output (:mod:`annotate.nlp.batch_parts`), so ``--resume`` after a killed client
sends only the rest.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from annotate.errors import AnnotateError, ClusterError, PipelineMismatch
from annotate.fileio import is_stdio, leftover_temp_files
from annotate.nlp.batch_parts import DoneBatches, batch_digest, parts_folder
from annotate.nlp.dask_cluster import Cluster, connect
from annotate.nlp.dask_worker import (
    WorkSpec,
    annotate_batch,
    check_worker,
    fingerprint,
    forget_kept,
    keep_for_fork,
    spec_bytes,
    work_spec,
)
from annotate.recipe import Recipe
from annotate.workers import tasks_ending_small

if TYPE_CHECKING:
    from annotate.nlp.pipelines import LoadedPipeline

Annotations = list[dict[str, Any]]
MISMATCH_HINT = (
    "install the same spaCy pipeline (name and version), spaCy and annotate on every worker "
    "as on this machine; see docs/scale-out.md"
)


def _differences(theirs: dict[str, Any], ours: dict[str, Any]) -> str:
    return ", ".join(
        f"{key} {theirs.get(key)} (this client: {ours[key]})" for key in ours if theirs.get(key) != ours[key]
    )


class ClusterBatches:
    """Batches of texts out to a Dask cluster's workers, their annotations back in input order."""

    def __init__(self, cluster: Cluster, spec: WorkSpec, *, done: DoneBatches | None) -> None:
        self.cluster = cluster
        self.blob = spec.to_bytes()
        self.done = done
        self.leftovers = 0  # partial outputs of a killed run removed by --resume
        # Enough batches in flight to keep every worker thread busy while one comes back.
        self.window = max(4, 2 * cluster.threads + 2)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="annotate-check")
        # A running cluster's workers build their pipeline while this process builds its own;
        # local:N's are forked once it is built (see __call__).
        self._checks: concurrent.futures.Future[dict[str, dict[str, Any]]] | None = None
        if not cluster.forks_workers:
            self._checks = self._pool.submit(self._check_workers)

    def _check_workers(self) -> dict[str, dict[str, Any]]:
        """In a thread: every worker's fingerprint (or error), by worker address."""
        reports: dict[str, dict[str, Any]] = self.cluster.client.run(check_worker, self.blob)
        return reports

    def _fork_workers(self, pipe: LoadedPipeline) -> None:
        """local:N: fork the workers with ``pipe`` in their cache, then check them."""
        keep_for_fork(self.blob, pipe)
        try:
            self.cluster.start_workers()
        finally:
            forget_kept(self.blob)
        self._checks = self._pool.submit(self._check_workers)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __call__(
        self, pipe: LoadedPipeline, texts: Iterator[str], batch_size: int
    ) -> Iterator[dict[str, Any]]:
        """Yield the annotations of ``texts`` in order, one dict a text (for ``annotate_doc``)."""
        expected = fingerprint(pipe)
        if self._checks is None:
            self._fork_workers(pipe)
        self._refuse_other_pipelines(expected)
        # The spec goes to the cluster once, as a task that returns it: the workers fetch it from
        # one another, and if every worker holding it dies, the scheduler runs the task again
        # (data scattered to the workers would be gone with them, and every batch after it).
        try:
            blob = self.cluster.client.submit(spec_bytes, self.blob, pure=False)
        except (OSError, TimeoutError, concurrent.futures.CancelledError) as e:
            raise self._lost(e) from None
        key = hashlib.sha256(self.blob + json.dumps(expected, sort_keys=True).encode()).hexdigest()
        work = tasks_ending_small(texts, batch_size, self.cluster.threads, tail=2)
        for batch in self._in_order(work, blob, expected, key):
            yield from batch

    def _refuse_other_pipelines(self, expected: dict[str, Any]) -> None:
        """Raise PipelineMismatch naming each worker whose pipeline is not the client's."""
        assert self._checks is not None
        try:
            reports = self._checks.result()
        except (OSError, TimeoutError, concurrent.futures.CancelledError) as e:
            raise self._lost(e) from None
        bad = []
        for worker, report in sorted(reports.items()):
            if "error" in report:
                bad.append(f"{worker} cannot build it: {report['error']}")
            elif report["fingerprint"] != expected:
                bad.append(f"{worker} has {_differences(report['fingerprint'], expected)}")
        if bad:
            raise PipelineMismatch(
                f"{len(bad)} of {len(reports)} Dask workers cannot run pipeline {expected['pipeline']} "
                "as this client does: " + "; ".join(bad),
                hint=MISMATCH_HINT,
            )

    def _in_order(
        self, work: Iterator[list[str]], blob: Any, expected: dict[str, Any], key: str
    ) -> Iterator[Annotations]:
        """Yield each batch's annotations in order, at most ``window`` batches in flight."""
        in_flight: deque[tuple[list[str], str, Any]] = deque()
        try:
            for texts in work:
                digest = batch_digest(key, texts)
                done = self.done.get(digest) if self.done is not None else None
                if done is None:
                    done = self.cluster.client.submit(annotate_batch, blob, expected, texts, pure=False)
                in_flight.append((texts, digest, done))
                while len(in_flight) >= self.window:
                    yield self._collect(*in_flight.popleft(), expected)
            while in_flight:
                yield self._collect(*in_flight.popleft(), expected)
        finally:
            for _, _, item in in_flight:
                if not isinstance(item, list):
                    item.cancel()

    def _collect(self, texts: list[str], digest: str, item: Any, expected: dict[str, Any]) -> Annotations:
        """Return a batch's annotations (waiting for them), kept in the done batches."""
        if isinstance(item, list):
            return item
        result = self._result(item)
        if isinstance(result, dict):  # a worker that joined after the check, with another pipeline
            raise PipelineMismatch(
                f"Dask worker {result['worker']} has {_differences(result['fingerprint'], expected)}",
                hint=MISMATCH_HINT,
            )
        if len(result) != len(texts):
            raise ClusterError(f"a Dask worker returned {len(result)} annotations for {len(texts)} texts")
        if self.done is not None:
            self.done.put(digest, result)
        return result

    def _result(self, future: Any) -> Any:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as e:
            raise ClusterError(
                f"a batch was lost with every Dask worker that ran it: {e}",
                hint="a worker may be running out of memory: see the worker logs, or lower --batch-size",
                code="E321",
            ) from None
        except AnnotateError:
            raise
        except (OSError, TimeoutError, concurrent.futures.CancelledError) as e:
            raise self._lost(e) from None
        except Exception as e:  # raised by the task on the worker
            raise AnnotateError(
                f"a batch failed on a Dask worker: {type(e).__name__}: {e}", code="E322"
            ) from None

    def _lost(self, e: BaseException) -> ClusterError:
        return ClusterError(
            f"lost the connection to the Dask scheduler at {self.cluster.address} "
            f"({type(e).__name__}); no output was written",
            hint="the batches done are kept beside the output: run again with --resume",
        )


def _remove_leftovers(out: str) -> int:
    """Remove the partial output the killed run left beside ``out``; return how many files."""
    leftovers = leftover_temp_files(out)
    for file in leftovers:
        file.unlink(missing_ok=True)
    return len(leftovers)


@contextlib.contextmanager
def on_cluster(
    scheduler: str,
    recipe: Recipe,
    *,
    model: str | None,
    uncertainty: bool,
    out: str,
    resume: bool,
    max_length: int | None = None,
) -> Iterator[ClusterBatches]:
    """Yield the batch source of a run on ``scheduler`` writing ``out``.

    The done batches are kept in ``OUT.parts/`` (read back with ``resume``) and removed when
    the block ends without an error, that is once ``out`` has been written. With ``resume``,
    the partial output a killed run left beside ``out`` (the atomic writer's temp file) goes.
    """
    spec = work_spec(recipe, model=model, uncertainty=uncertainty, max_length=max_length)
    with connect(scheduler) as cluster:
        done = None if is_stdio(out) else DoneBatches(parts_folder(out), resume=resume)
        source = ClusterBatches(cluster, spec, done=done)
        if resume and done is not None:
            source.leftovers = _remove_leftovers(out)
        try:
            yield source
        except BaseException:
            if done is not None:
                done.remove_if_empty()
            raise
        finally:
            source.close()
        if done is not None:
            done.remove()
