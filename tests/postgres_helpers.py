"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, on loopback, a random port, removed after.

initdb refuses to run as root, so as root the cluster belongs to the user ``postgres`` (``runuser``).
Logins need a password (scram-sha-256), so a test that connects without the right one fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from annotate.doccano.processes import free_port


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its admin login ``postgres`` and one database ``annotate`` owned by ``annotate``."""

    bindir: Path
    port: int
    admin_password: str = field(repr=False)
    password: str = field(repr=False)
    user: str = "annotate"
    database: str = "annotate"

    @property
    def url(self) -> str:
        """The URL for ANNOTATE_DATABASE_URL (the test cluster has no SSL)."""
        return (
            f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}?sslmode=disable"
        )

    def psql(self, sql: str, *, database: str | None = None) -> str:
        """Run ``sql`` as the admin; return psql's unaligned, tuples-only output."""
        env = {**os.environ, "PGPASSWORD": self.admin_password}
        out = subprocess.run(
            [psql_binary(self.bindir), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
            + ["-d", database or self.database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout.strip()


def find_bindir() -> Path | None:
    """Return the directory of initdb and pg_ctl (on PATH, else ``pg_config --bindir``), None if none."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def psql_binary(bindir: Path) -> str:
    return str(bindir / "psql") if (bindir / "psql").exists() else (shutil.which("psql") or "psql")


def _as_owner(cmd: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root (initdb and the server refuse root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def throwaway_cluster(bindir: Path) -> Iterator[Cluster]:
    """Start a new cluster on 127.0.0.1 and a free port; stop it and delete its files afterwards."""
    root = Path(tempfile.mkdtemp(prefix="annotate-pg-"))
    data, pwfile = root / "data", root / "pwfile"
    admin_password, password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    pwfile.write_text(admin_password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    os.chmod(root, 0o700)
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256"]
    subprocess.run(_as_owner([*initdb, f"--pwfile={pwfile}"]), check=True, capture_output=True, timeout=120)
    pwfile.unlink()
    port = free_port()
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log")]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    try:
        subprocess.run(
            _as_owner([*pg_ctl, "-o", options, "-w", "start"]), check=True, capture_output=True, timeout=120
        )
        cluster = Cluster(bindir=bindir, port=port, admin_password=admin_password, password=password)
        cluster.psql(f"CREATE ROLE annotate LOGIN PASSWORD '{password}'", database="postgres")
        cluster.psql("CREATE DATABASE annotate OWNER annotate", database="postgres")
        yield cluster
    finally:
        subprocess.run(
            _as_owner([*pg_ctl, "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=120
        )
        shutil.rmtree(root, ignore_errors=True)
