"""Connecting to a Dask cluster for ``preannotate --scheduler``: an address or ``local:N``.

``tcp://HOST:PORT`` (or any address Dask takes) is a running ``dask scheduler``; ``local:N``
starts a ``LocalCluster`` of N worker processes with one thread each (spaCy runs one document
at a time per thread, and threads of one process share its interpreter lock). Its scheduler
starts at once; its workers are forked from this process once the pipeline is loaded
(:meth:`Cluster.start_workers`), as ``--n-process`` forks its own, so they start with the
pipeline in memory instead of each importing spaCy and loading it again. How long to wait
for a scheduler is Dask's own setting, ``distributed.comm.timeouts.connect``
(``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from annotate.errors import ClusterError, ConfigError, UsageError

LOCAL_PREFIX = "local:"
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
INSTALL_HINT = "install the extra: pip install 'annotate[dask]' (on the client and on every worker)"


@dataclass
class Cluster:
    """A connected Dask client and what the CLI shows of the cluster."""

    client: Any  # distributed.Client
    address: str
    dashboard: str | None
    workers: int
    threads: int
    timeout: float = 30.0
    # ``local:N``: starts its N workers (see :meth:`start_workers`); None for a running cluster.
    scale: Callable[[int], None] | None = None

    @property
    def forks_workers(self) -> bool:
        """True for ``local:N``, whose workers are forked from this process."""
        return self.scale is not None

    def start_workers(self) -> None:
        """``local:N``: fork the N workers from this process and wait for them.

        Call it once the pipeline is loaded and in the worker's cache: the workers inherit it.
        A worker that dies later is started again by its nanny the usual way (spawned: it
        builds the pipeline from the work spec), as on any cluster.
        """
        if self.scale is None:
            return
        import dask

        sys.stdout.flush()  # what this process has buffered is not written again by a fork
        sys.stderr.flush()
        with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
            self.scale(self.workers)
            try:
                self.client.wait_for_workers(self.workers, timeout=max(self.timeout, 120.0))
            except (OSError, TimeoutError) as e:
                raise ClusterError(f"the {self.workers} local Dask workers did not start: {e}") from None


def _local_workers(scheduler: str) -> int | None:
    """Return N of ``local:N``, None for an address; raise UsageError for a bad N."""
    if not scheduler.startswith(LOCAL_PREFIX):
        return None
    n = scheduler[len(LOCAL_PREFIX) :]
    if not n.isdigit() or int(n) < 1:
        raise UsageError(f"--scheduler {scheduler!r}: N of local:N must be a whole number of at least 1")
    return int(n)


def _import_distributed() -> Any:
    if importlib.util.find_spec("distributed") is None:
        raise ConfigError("--scheduler needs Dask, which is not installed", hint=INSTALL_HINT, code="E233")
    import distributed

    return distributed


def _dashboard(client: Any) -> str | None:
    """Return the dashboard's link, or None when the scheduler serves none. (Without bokeh
    on the scheduler, the page at the link says what to install.)"""
    try:
        link = client.dashboard_link
    except Exception:  # the link is a courtesy: no dashboard is not an error
        return None
    return str(link) if link else None


def _unreachable(address: str, e: BaseException) -> ClusterError:
    return ClusterError(
        f"cannot reach the Dask scheduler at {address}: {e}",
        hint="start one (`dask scheduler`, then `dask worker ADDRESS --nthreads 1`) or check "
        f"--scheduler / {SCHEDULER_ENV}; the wait is Dask's distributed.comm.timeouts.connect",
    )


def _quiet_dask_logs(stack: contextlib.ExitStack) -> None:
    """Keep Dask's own log lines (a traceback for a lost connection, a worker removed) out of
    the client's stderr while connected: what matters reaches the user as one error."""
    names = ["distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    for name in names:  # Dask's config gives some of them a level of their own
        logger = logging.getLogger(name)
        stack.callback(logger.setLevel, logger.level)
        logger.setLevel(logging.CRITICAL)


@contextlib.contextmanager
def connect(scheduler: str) -> Iterator[Cluster]:
    """Yield a Cluster connected to ``scheduler`` with at least one worker; close it after.

    Raises ClusterError (exit 3) when the scheduler cannot be reached or has no worker within
    Dask's connect timeout.
    """
    n_local = _local_workers(scheduler)
    distributed = _import_distributed()
    import dask
    from dask.utils import parse_timedelta

    timeout = float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="s"))
    with contextlib.ExitStack() as stack:
        _quiet_dask_logs(stack)
        # Dask keeps the last 1,000 messages of each connection for debugging, and a batch's
        # task message holds its texts: tens of MB on the client that grow with the corpus
        # up to that count. Keep none (set before the connections are made).
        stack.enter_context(dask.config.set({"distributed.admin.low-level-log-length": 0}))
        if n_local is not None:
            yield _local_cluster(distributed, n_local, stack, timeout=timeout)
            return
        try:
            client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise _unreachable(scheduler, e) from None
        stack.callback(client.close)
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise ClusterError(
                f"the Dask scheduler at {scheduler} has no worker: {e}",
                hint="start workers with `dask worker ADDRESS --nthreads 1`",
            ) from None
        threads = client.nthreads()
        yield Cluster(
            client=client,
            address=scheduler,
            dashboard=_dashboard(client),
            workers=len(threads),
            threads=sum(threads.values()),
            timeout=timeout,
        )


def _local_cluster(distributed: Any, n: int, stack: contextlib.ExitStack, *, timeout: float) -> Cluster:
    """Start a LocalCluster's scheduler; its N workers start with :meth:`Cluster.start_workers`."""
    local = distributed.LocalCluster(
        n_workers=0,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    stack.callback(local.close)
    client = distributed.Client(local, timeout=timeout, set_as_default=False)
    stack.callback(client.close)
    return Cluster(
        client=client,
        address=local.scheduler_address,
        dashboard=_dashboard(client),
        workers=n,
        threads=n,
        timeout=timeout,
        scale=local.scale,
    )
