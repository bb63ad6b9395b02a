"""The local server on a real, throwaway PostgreSQL: the round-trip and kill -9 tests again, the password
kept out of ps, logs and state, and a database that cannot be used refused with exit 3.

The round trips are the tests of test_pushpull_doccano.py and test_pushpull_faults.py, called with a
Doccano whose database is PostgreSQL; each then counts the project's examples in PostgreSQL itself.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import doccano_home
from postgres_helpers import Cluster, find_bindir, throwaway_cluster
from test_pushpull_doccano import (
    test_pushing_three_times_leaves_one_example_per_document as pushing_three_times,
)
from test_pushpull_doccano import (
    test_re3d_round_trip_keeps_overlapping_entities_and_all_relations as re3d_round_trip,
)
from test_pushpull_faults import (
    test_kill_9_mid_upload_then_rerun_leaves_every_document_exactly_once_and_complete as kill_9_then_rerun,
)
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import DoccanoAPI, server
from annotate.doccano.database_url import pgpass_path
from annotate.settings import ConnectionSettings

BINDIR = find_bindir()


def _why_no_postgres() -> str | None:
    if os.environ.get("ANNOTATE_SKIP_DOCCANO") == "1":
        return "ANNOTATE_SKIP_DOCCANO=1"
    if BINDIR is None:
        return "no PostgreSQL: no initdb/pg_ctl on PATH or in `pg_config --bindir` (setup.sh installs it)"
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no user postgres for initdb"
    return None


pytestmark = [
    pytest.mark.doccano,
    pytest.mark.postgres,
    pytest.mark.skipif(bool(_why_no_postgres()), reason=str(_why_no_postgres())),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    assert BINDIR is not None
    with throwaway_cluster(BINDIR) as c:
        yield c


@pytest.fixture(scope="module")
def pg_server(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.ServerInfo]:
    data_dir = tmp_path_factory.mktemp("doccano-postgres")
    info = server.start(
        port=server.free_port(),
        data_dir=data_dir,
        home=doccano_home(),
        database_url=cluster.url,
        timeout=180,
        tie_to_parent=True,
    )
    try:
        yield info
    finally:
        server.stop(data_dir)


@pytest.fixture(scope="module")
def pg_api(pg_server: server.ServerInfo) -> Iterator[DoccanoAPI]:
    settings = ConnectionSettings(
        pg_server.url, pg_server.username, pg_server.password, password_source="test"
    )
    with DoccanoAPI(settings) as api:
        api.login()
        yield api


@pytest.fixture
def pg_env(pg_server: server.ServerInfo) -> dict[str, str]:
    return {
        "DOCCANO_URL": pg_server.url,
        "DOCCANO_USERNAME": pg_server.username,
        "DOCCANO_PASSWORD": pg_server.password,
    }


@pytest.fixture
def pg_make_project(pg_api: DoccanoAPI) -> Iterator[Callable[..., dict[str, Any]]]:
    made: list[int] = []

    def make(**kwargs: Any) -> dict[str, Any]:
        project = pg_api.create_project(f"pg-{secrets.token_hex(4)}", **kwargs)
        made.append(int(project["id"]))
        return project

    make.made = made  # type: ignore[attr-defined]
    yield make
    for project_id in made:
        pg_api.delete_project(project_id)


def examples_in_postgres(cluster: Cluster, project_id: int) -> int:
    return int(cluster.psql(f"SELECT count(*) FROM examples_example WHERE project_id = {int(project_id)}"))


def test_the_server_runs_on_postgresql_and_its_password_is_in_no_argv_log_or_state(
    pg_server: server.ServerInfo, cluster: Cluster
) -> None:
    assert int(cluster.psql("SELECT count(*) FROM django_migrations")) > 50, "migrations did not run"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert cluster.password not in ps
    for path in pg_server.data_dir.rglob("*"):
        if path.is_file() and path != pgpass_path(pg_server.data_dir):
            assert cluster.password not in path.read_text(errors="replace"), f"password in {path}"
    assert pgpass_path(pg_server.data_dir).stat().st_mode & 0o777 == 0o600
    for pid in pg_server.pids.values():
        environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        assert cluster.password not in environ
        assert "PGPASSFILE=" in environ
    shown = f"postgresql://annotate@127.0.0.1:{cluster.port}/annotate?sslmode=disable"
    assert server.status(pg_server.data_dir).database == shown
    out = CliRunner().invoke(app, ["server", "status", "--data-dir", str(pg_server.data_dir)])
    assert out.exit_code == 0, out.output
    assert f"database: {shown}" in out.output and cluster.password not in out.output


def test_pushing_three_times_on_postgresql_leaves_one_example_per_document(
    pg_api: DoccanoAPI, pg_make_project: Any, cluster: Cluster, tmp_path: Path
) -> None:
    project = pg_make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=False)
    pushing_three_times(pg_api, project, tmp_path)
    assert examples_in_postgres(cluster, project["id"]) == 30


@pytest.mark.parametrize("method", ["rest", "export"])
def test_re3d_round_trip_on_postgresql_keeps_every_entity_and_relation(
    pg_api: DoccanoAPI, pg_make_project: Any, cluster: Cluster, tmp_path: Path, method: str
) -> None:
    re3d_round_trip(pg_api, pg_make_project, tmp_path, method)
    assert examples_in_postgres(cluster, pg_make_project.made[-1]) == 71


@pytest.mark.slow
def test_kill_9_mid_upload_on_postgresql_then_rerun_leaves_every_document_exactly_once(
    pg_env: dict[str, str], pg_api: DoccanoAPI, pg_make_project: Any, cluster: Cluster, tmp_path: Path
) -> None:
    project = pg_make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=False)
    kill_9_then_rerun(pg_env, pg_api, project, tmp_path, "import_in_flight")
    assert examples_in_postgres(cluster, project["id"]) == 300


def _start_on(url: str, tmp_path: Path) -> Any:
    env = {"ANNOTATE_HOME": str(doccano_home()), "ANNOTATE_DATABASE_URL": url, "ANNOTATE_NO_PROGRESS": "1"}
    args = ["server", "start", "--data-dir", str(tmp_path / "srv"), "--port", str(server.free_port())]
    return CliRunner().invoke(app, args, env=env)


@pytest.mark.parametrize(
    "problem",
    ["refused", "missing database", "wrong password", "not a port", "no database named"],
)
def test_a_database_that_cannot_be_used_is_exit_3_and_the_server_stays_stopped(
    cluster: Cluster, tmp_path: Path, problem: str
) -> None:
    wrong = secrets.token_urlsafe(10)
    base = f"127.0.0.1:{cluster.port}"
    url = {
        "refused": f"postgresql://annotate:{cluster.password}@127.0.0.1:{server.free_port()}/annotate",
        "missing database": f"postgresql://annotate:{cluster.password}@{base}/nosuchdb?sslmode=disable",
        "wrong password": f"postgresql://annotate:{wrong}@{base}/annotate?sslmode=disable",
        "not a port": f"postgresql://annotate:{wrong}@127.0.0.1:port/annotate",
        "no database named": f"postgresql://annotate:{wrong}@{base}",
    }[problem]
    result = _start_on(url, tmp_path)
    assert result.exit_code == 3, result.output
    assert "cannot use the database" in result.output or "not a usable database URL" in result.output
    assert cluster.password not in result.output and wrong not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1
    assert not server.status(tmp_path / "srv", check_health=False).running
    for log in (tmp_path / "srv").rglob("*.log"):
        assert wrong not in log.read_text(errors="replace")
