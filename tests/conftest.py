"""Shared fixtures: a real Doccano server for the whole session, started like `annotate server start`.

Fixtures (every test using one is marked ``doccano`` automatically):

- ``doccano_server``  -> annotate.doccano.server.ServerInfo (url, username, password, data_dir, pids)
- ``doccano_settings`` -> annotate.settings.ConnectionSettings for the admin
- ``doccano_env``     -> dict for ``CliRunner(env=...)``: DOCCANO_URL / _USERNAME / _PASSWORD
- ``doccano_api``     -> a logged-in annotate.doccano.DoccanoAPI (admin, session-wide)
- ``make_project``    -> factory ``make_project(name=None, **create_project_kwargs) -> dict``;
                         every project it makes is deleted after the test
- ``doccano_project`` -> one throwaway SequenceLabeling project with relations
- ``make_user``       -> factory ``make_user(project_id=None, role="annotator") -> DoccanoUser``
                         (a new user with a random password, added to the project with that role)

The server runs in a temp data dir on a free port, or is the one that ``scripts/test.sh``
started with ``annotate server start`` (its data dir in ``ANNOTATE_TEST_SERVER_DIR``).
Doccano's venv is reused from ``$ANNOTATE_HOME`` (or the repo's ignored
``.cache/annotate-home``, which CI can cache).
A server that cannot start is an error, not a skip; set ANNOTATE_SKIP_DOCCANO=1 to skip instead.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from annotate.doccano import DoccanoAPI, server
from annotate.errors import ServerStartFailed
from annotate.settings import ConnectionSettings

REPO = Path(__file__).resolve().parent.parent
DOCCANO_FIXTURES = {
    "doccano_server",
    "doccano_settings",
    "doccano_env",
    "doccano_api",
    "make_project",
    "doccano_project",
    "make_user",
}


def doccano_home() -> Path:
    """Return where Doccano's venv lives for tests: $ANNOTATE_HOME, else <repo>/.cache/annotate-home."""
    home = os.environ.get("ANNOTATE_HOME")
    return Path(home) if home else REPO / ".cache" / "annotate-home"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = os.environ.get("ANNOTATE_SKIP_DOCCANO") == "1"
    for item in items:
        if DOCCANO_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.doccano)
        if skip and item.get_closest_marker("doccano"):
            item.add_marker(pytest.mark.skip(reason="ANNOTATE_SKIP_DOCCANO=1"))


@pytest.fixture(scope="session")
def doccano_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.ServerInfo]:
    """A real Doccano (web + worker) on 127.0.0.1 for the whole session."""
    if os.environ.get("ANNOTATE_SKIP_DOCCANO") == "1":
        pytest.skip("ANNOTATE_SKIP_DOCCANO=1")
    external = os.environ.get("ANNOTATE_TEST_SERVER_DIR")
    if external:
        # scripts/test.sh started the server with `annotate server start` and stops it after
        # the run; `start` on a running data dir returns that server.
        info = server.start(data_dir=Path(external), home=doccano_home(), timeout=180)
        assert info.already_running, f"no server was running in ANNOTATE_TEST_SERVER_DIR={external}"
        yield info
        return
    data_dir = tmp_path_factory.mktemp("doccano-server")
    # tie_to_parent: if this test run is killed, the server goes with it.
    try:
        info = server.start(
            port=server.free_port(), data_dir=data_dir, home=doccano_home(), timeout=180, tie_to_parent=True
        )
    except ServerStartFailed as first:
        # The machine is shared: a port picked as free can be taken before gunicorn binds it.
        # One more try on another port; a second failure is a real error.
        warnings.warn(f"the test Doccano did not start, retrying once: {first}", stacklevel=1)
        info = server.start(
            port=server.free_port(), data_dir=data_dir, home=doccano_home(), timeout=180, tie_to_parent=True
        )
    try:
        yield info
    finally:
        server.stop(data_dir)


@pytest.fixture(scope="session")
def doccano_settings(doccano_server: server.ServerInfo) -> ConnectionSettings:
    return ConnectionSettings(
        doccano_server.url, doccano_server.username, doccano_server.password, password_source="test"
    )


@pytest.fixture(scope="session")
def doccano_env(doccano_server: server.ServerInfo) -> dict[str, str]:
    """Environment for CLI tests that talk to the test server."""
    return {
        "DOCCANO_URL": doccano_server.url,
        "DOCCANO_USERNAME": doccano_server.username,
        "DOCCANO_PASSWORD": doccano_server.password,
    }


@pytest.fixture(scope="session")
def doccano_api(doccano_settings: ConnectionSettings) -> Iterator[DoccanoAPI]:
    with DoccanoAPI(doccano_settings) as api:
        api.login()
        yield api


@pytest.fixture
def make_project(
    doccano_api: DoccanoAPI, request: pytest.FixtureRequest
) -> Iterator[Callable[..., dict[str, Any]]]:
    made: list[int] = []

    def make(name: str | None = None, **kwargs: Any) -> dict[str, Any]:
        name = name or f"test-{request.node.name[:60]}-{secrets.token_hex(3)}"
        project = doccano_api.create_project(name, **kwargs)
        made.append(int(project["id"]))
        return project

    yield make
    for project_id in made:
        doccano_api.delete_project(project_id)


@pytest.fixture
def doccano_project(make_project: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A throwaway SequenceLabeling project with relations enabled, deleted after the test."""
    return make_project(use_relation=True)


@dataclass(frozen=True)
class DoccanoUser:
    id: int
    username: str
    password: str = field(repr=False)
    settings: ConnectionSettings = field(repr=False)


@pytest.fixture
def make_user(doccano_api: DoccanoAPI, doccano_server: server.ServerInfo) -> Callable[..., DoccanoUser]:
    def make(project_id: int | None = None, role: str = "annotator") -> DoccanoUser:
        username = f"user-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(12)
        created = doccano_api.create_user(username, password)
        if project_id is not None:
            doccano_api.add_member(project_id, int(created["id"]), role)
        settings = ConnectionSettings(doccano_server.url, username, password, password_source="test")
        return DoccanoUser(int(created["id"]), username, password, settings)

    return make
