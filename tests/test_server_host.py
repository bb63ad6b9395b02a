"""``annotate server start --host``: another address only when asked, with a warning,
Doccano's production settings for that address, and the admin password never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from conftest import doccano_home
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import DoccanoAPI, server
from annotate.settings import ConnectionSettings, read_credentials

pytestmark = [pytest.mark.doccano, pytest.mark.slow]

HOST = "127.0.0.2"


def test_a_server_on_another_address_warns_allows_only_that_host_and_hides_the_password(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "served"
    port = server.free_port(HOST)
    env = {"ANNOTATE_HOME": str(doccano_home())}
    args = ["server", "start", "--host", HOST, "--port", str(port), "--data-dir", str(data_dir)]
    runner = CliRunner()
    refused = runner.invoke(app, [*args, "--show-password"], env=env)
    assert refused.exit_code == 2 and "never shown" in refused.output
    assert not (data_dir / "server.json").exists()
    try:
        started = runner.invoke(app, args, env=env)
        assert started.exit_code == 0, started.output
        creds = read_credentials(data_dir)
        assert creds is not None and creds.url == f"http://{HOST}:{port}"
        assert "warning: Doccano will listen on 127.0.0.2" in started.output
        assert creds.password not in started.output
        url = f"http://{HOST}:{port}"
        assert (
            requests.get(f"{url}/v1/health/", headers={"Accept": "application/json"}, timeout=10).status_code
            == 200
        )
        # Bound to that address only: loopback's usual one does not answer.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/v1/health/", timeout=5)
        # Production settings: another Host header is refused, DEBUG's technical pages are off.
        assert (
            requests.get(f"{url}/v1/health/", headers={"Host": "evil.example"}, timeout=10).status_code == 400
        )
        missing = requests.get(f"{url}/v1/no-such-endpoint", timeout=10)
        assert "URLconf" not in missing.text and "Traceback" not in missing.text
        # The admin logs in, from the credentials file only.
        with DoccanoAPI(ConnectionSettings(url, creds.username, creds.password)) as api:
            assert api.login().whoami()["is_superuser"] is True
        # A browser's form login: CSRF accepts that origin.
        session = requests.Session()
        session.get(f"{url}/v1/auth/login/", timeout=10)
        token = session.cookies.get("csrftoken")
        answer = session.post(
            f"{url}/v1/auth/login/",
            json={"username": creds.username, "password": creds.password},
            headers={"Origin": url, "Referer": f"{url}/auth", **({"X-CSRFToken": token} if token else {})},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text[:200]
        status = runner.invoke(app, ["server", "status", "--data-dir", str(data_dir)], env=env)
        assert status.exit_code == 0 and url in status.output and creds.password not in status.output
        assert json.loads((data_dir / "server.json").read_text())["url"] == url
    finally:
        server.stop(data_dir)


def test_the_served_address_is_the_only_allowed_host_and_a_trusted_origin(tmp_path: Path) -> None:
    from annotate.doccano import environment, install

    inst = install.Installation(venv=tmp_path, python=tmp_path / "python", backend=tmp_path, version="1.8.4")
    served = environment.server_env(
        inst, tmp_path, "sqlite:///x", secret_key="k", served_at=f"http://{HOST}:8123"
    )
    assert (
        served["ANNOTATE_ALLOWED_HOSTS"] == HOST and served["CSRF_TRUSTED_ORIGINS"] == f"http://{HOST}:8123"
    )
    assert served["DEBUG"] == "False"
    loopback = environment.server_env(inst, tmp_path, "sqlite:///x", secret_key="k")
    assert "ANNOTATE_ALLOWED_HOSTS" not in loopback and "CSRF_TRUSTED_ORIGINS" not in loopback
    settings = (tmp_path / "settings" / f"{environment.SETTINGS_MODULE}.py").read_text()
    assert 'ALLOWED_HOSTS = _os.environ["ANNOTATE_ALLOWED_HOSTS"].split(",")' in settings


def test_host_must_be_an_ipv4_address() -> None:
    from annotate.errors import ConfigError

    assert server.check_host(" 127.0.0.2 ") == HOST
    with pytest.raises(ConfigError):
        server.check_host("example.org")
