"""The local Doccano server the benchmark runs against, started through ``annotate.doccano.server``.

It runs on a free loopback port with its state in a temporary directory, and is stopped and
removed when the bench ends. Doccano's own virtual environment is reused from ``$ANNOTATE_HOME``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Server:
    url: str
    username: str
    password: str = field(repr=False)
    how: str = ""

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (the CLI) that should talk to this server."""
        e = dict(os.environ)
        e.update(
            DOCCANO_URL=self.url,
            DOCCANO_USERNAME=self.username,
            DOCCANO_PASSWORD=self.password,
            ANNOTATE_NO_PROGRESS="1",
        )
        return e


@contextlib.contextmanager
def doccano_server(log: Callable[[str], None]) -> Iterator[Server]:
    """Yield a running local Doccano server; stop it and remove its state afterwards."""
    from annotate.doccano import server

    data_dir = Path(tempfile.mkdtemp(prefix="bench-server-"))
    try:
        info = server.start(port=server.free_port(), data_dir=data_dir, timeout=180)
        log(f"Doccano {info.doccano_version} started in {info.seconds:.0f} s")
        try:
            yield Server(
                url=info.url,
                username=info.username,
                password=info.password,
                how=f"Doccano {info.doccano_version or '?'} via annotate.server.start "
                f"(gunicorn 2 workers + 2 Celery worker processes, SQLite in WAL mode)",
            )
        finally:
            server.stop(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
