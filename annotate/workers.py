"""Forked worker processes: a pool that shares the cores fairly, and its results in input order.

Pre-annotation and export hand chunks of documents to ``n_process`` forked workers with
:func:`map_in_order`. Forking lets a worker use what the parent holds (a loaded pipeline, the
writers' settings) without pickling it; only the chunks and their results cross the pipe.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from annotate.errors import AnnotateError

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


def usable_cores() -> int:
    """Return how many CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """True where worker processes can be forked (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _limit_blas_threads(threads: int) -> None:
    """In a worker: let BLAS (numpy's matrix products, which the models run on) use at most
    ``threads`` threads.

    Why: OpenBLAS starts a thread per core in every process. With one worker per core, each
    worker's BLAS threads compete with the other workers for the same cores (and spin while
    they wait): on two cores, two pre-annotation workers ran about 0.4 s slower on 300 articles
    than with one BLAS thread each.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


def worker_pool(n_process: int) -> ProcessPoolExecutor:
    """Return a pool of ``n_process`` forked workers, each with its share of the cores for BLAS."""
    return ProcessPoolExecutor(
        max_workers=n_process,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_limit_blas_threads,
        initargs=(max(1, usable_cores() // n_process),),
    )


# What the workers of the running map_in_order share, set before they are forked.
_SHARED: Any = None


def _call(fn: Callable[[Any, T], R], task: T) -> R:
    """In a worker: run ``fn`` on the shared state it inherited and one task."""
    return fn(_SHARED, task)


def map_in_order(
    fn: Callable[[S, T], R], tasks: Iterable[T], n_process: int, *, shared: S, what: str
) -> Iterator[R]:
    """Yield ``fn(shared, task)`` for each task, in order, computed by ``n_process`` forked workers.

    ``shared`` (a loaded pipeline, the writers of an export) reaches the workers by the fork,
    without being pickled; only the tasks and their results cross the pipe. A worker takes the
    next task when it is free. At most ``2 * n_process`` tasks are in flight, so ``tasks`` is
    read as the results are consumed. A worker that dies (killed, out of memory) raises
    AnnotateError E280 naming ``what``; an exception raised by ``fn`` is raised here as it is.
    """
    global _SHARED
    _SHARED = shared
    try:
        # With fork, the executor starts every worker before its own thread, on the first task.
        with worker_pool(n_process) as pool:
            in_flight: deque[Future[R]] = deque()
            try:
                for task in tasks:
                    in_flight.append(pool.submit(_call, fn, task))
                    while len(in_flight) >= 2 * n_process:
                        yield in_flight.popleft().result()
                while in_flight:
                    yield in_flight.popleft().result()
            except BrokenProcessPool:
                raise AnnotateError(
                    f"a {what} worker process died (killed, or out of memory?)",
                    hint="run again with fewer --n-process, or without it",
                    code="E280",
                ) from None
            finally:
                for future in in_flight:
                    future.cancel()
    finally:
        _SHARED = None


def tasks_ending_small(items: Iterable[T], size: int, workers: int, *, tail: int) -> Iterator[list[T]]:
    """Yield ``items`` in tasks of ``size``, except the last ones, which are split small.

    ``size * workers`` items are read ahead to know where the end is; when the input ends, what
    is left is split into about ``tail * workers`` tasks, so that the workers finish close together.
    """
    ahead = size * workers
    buffer: deque[T] = deque()
    for item in items:
        buffer.append(item)
        if len(buffer) >= size + ahead:
            yield [buffer.popleft() for _ in range(size)]
    small = max(1, -(-len(buffer) // (tail * workers)))
    while buffer:
        yield [buffer.popleft() for _ in range(min(small, len(buffer)))]
