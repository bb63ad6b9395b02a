"""Connection settings: where URL, user and password come from, and that the password stays hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate.errors import ConfigError
from annotate.settings import annotate_home, normalize_url, resolve_settings


def _local(tmp_path: Path, url: str = "http://127.0.0.1:8123") -> Path:
    data_dir = tmp_path / "server"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "credentials.json").write_text(
        json.dumps({"url": url, "username": "admin", "password": "s3cret"})
    )
    return data_dir


def test_options_beat_environment(tmp_path: Path) -> None:
    env = {"DOCCANO_URL": "http://env:1", "DOCCANO_USERNAME": "envuser", "DOCCANO_PASSWORD": "pw"}
    s = resolve_settings("http://opt:2", "optuser", env=env, data_dir=tmp_path)
    assert (s.url, s.username, s.password, s.password_source) == (
        "http://opt:2",
        "optuser",
        "pw",
        "DOCCANO_PASSWORD",
    )


def test_local_server_credentials_are_used_when_nothing_is_given(tmp_path: Path) -> None:
    s = resolve_settings(env={}, data_dir=_local(tmp_path))
    assert (s.url, s.username, s.password) == ("http://127.0.0.1:8123", "admin", "s3cret")
    assert s.password_source == "credentials file"


def test_local_credentials_match_localhost_spelling(tmp_path: Path) -> None:
    s = resolve_settings("http://localhost:8123/", env={}, data_dir=_local(tmp_path))
    assert s.password == "s3cret"


def test_local_credentials_are_not_sent_to_another_server(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no Doccano user name"):
        resolve_settings("http://elsewhere:8000", env={}, data_dir=_local(tmp_path))
    with pytest.raises(ConfigError, match="no password for admin"):
        resolve_settings("http://elsewhere:8000", "admin", env={}, data_dir=_local(tmp_path))


def test_the_prompt_is_asked_last(tmp_path: Path) -> None:
    asked = []
    s = resolve_settings(
        "http://h:1",
        "u",
        env={},
        data_dir=tmp_path,
        prompt=lambda url, user: asked.append((url, user)) or "typed",
    )
    assert s.password == "typed" and asked == [("http://h:1", "u")]


def test_password_is_hidden_from_repr(tmp_path: Path) -> None:
    s = resolve_settings(env={}, data_dir=_local(tmp_path))
    assert "s3cret" not in repr(s)


def test_no_server_at_all_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no Doccano server given") as exc:
        resolve_settings(env={}, data_dir=tmp_path)
    assert "annotate server start" in (exc.value.hint or "")


def test_url_with_credentials_is_refused() -> None:
    with pytest.raises(ConfigError, match="must not contain"):
        normalize_url("http://admin:pw@127.0.0.1:8000")


def test_annotate_home_prefers_env_then_xdg(tmp_path: Path) -> None:
    assert annotate_home({"ANNOTATE_HOME": str(tmp_path)}) == tmp_path
    assert annotate_home({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "annotate"
    assert annotate_home({}).parts[-3:] == (".local", "share", "annotate")


def test_the_cli_has_no_password_option() -> None:
    from typer.testing import CliRunner

    from annotate.cli import app

    for command in (["doctor"], ["server", "start"]):
        help_text = CliRunner().invoke(app, [*command, "--help"]).output
        assert "--password" not in help_text
        assert "--url" in help_text or "--port" in help_text
