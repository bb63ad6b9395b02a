"""Connection settings for every command that talks to Doccano.

Where each value comes from, first match wins:

- URL: ``--url``, then ``DOCCANO_URL``, then the local server started by ``annotate server start``.
- username: ``--username``, then ``DOCCANO_USERNAME``, then the local server's credentials file.
- password: ``DOCCANO_PASSWORD``, then the local server's credentials file (only when the URL is
  that server's), then a hidden prompt that the CLI supplies as a callback.

A password is never a command-line argument, and it never shows in ``repr()`` of the settings.
The library never prompts by itself: without a callback a missing password is a ConfigError.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from annotate.errors import ConfigError

ENV_URL = "DOCCANO_URL"
ENV_USERNAME = "DOCCANO_USERNAME"
ENV_PASSWORD = "DOCCANO_PASSWORD"
ENV_HOME = "ANNOTATE_HOME"

CREDENTIALS_FILE = "credentials.json"

PasswordPrompt = Callable[[str, str], str]
"""``prompt(url, username) -> password``: asks the user without echoing."""


@dataclass(frozen=True)
class ConnectionSettings:
    """Where Doccano is and who we are there. ``password`` is hidden from ``repr``."""

    url: str
    username: str
    password: str = field(repr=False)
    # Where the password came from ("env", "credentials file", "prompt", "argument"): for messages.
    password_source: str = "argument"
    connect_timeout: float = 5.0
    read_timeout: float = 60.0


def annotate_home(env: Mapping[str, str] | None = None) -> Path:
    """Return the per-user data dir: ``$ANNOTATE_HOME``, else ``$XDG_DATA_HOME/annotate``,
    else ``~/.local/share/annotate``."""
    env = os.environ if env is None else env
    if env.get(ENV_HOME):
        return Path(env[ENV_HOME]).expanduser()
    xdg = env.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "annotate"


def default_server_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the data dir of the default local server (``$ANNOTATE_HOME/server``)."""
    return annotate_home(env) / "server"


def normalize_url(url: str) -> str:
    """Return ``url`` without a trailing slash, with a scheme, and ``localhost`` spelled ``127.0.0.1``.

    Raises ConfigError for a URL that is not http(s) or that embeds credentials.
    """
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}",
            hint="pass e.g. --url http://127.0.0.1:8000",
        )
    if parts.username or parts.password:
        # Never keep a secret inside a URL: URLs end up in messages and logs.
        raise ConfigError(
            "the Doccano URL must not contain a user name or password",
            hint="use --username and DOCCANO_PASSWORD instead",
        )
    host = parts.hostname
    if host == "localhost":
        host = "127.0.0.1"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class LocalCredentials:
    """The admin login of a server started by ``annotate server start``."""

    url: str
    username: str
    password: str = field(repr=False)


def read_credentials(data_dir: Path | None = None) -> LocalCredentials | None:
    """Return the local server's credentials, or None when there is no such file."""
    path = (data_dir or default_server_dir()) / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LocalCredentials(url=data["url"], username=data["username"], password=data["password"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"cannot read the local server's credentials file {path}: {type(e).__name__}",
            hint="`annotate server stop` and `annotate server start` rewrite it",
        ) from None


def resolve_settings(
    url: str | None = None,
    username: str | None = None,
    *,
    prompt: PasswordPrompt | None = None,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
) -> ConnectionSettings:
    """Return the connection settings from options, environment, local credentials or a prompt.

    ``data_dir`` selects the local server whose credentials file is consulted (default:
    ``$ANNOTATE_HOME/server``).
    """
    env = os.environ if env is None else env
    local = read_credentials(data_dir or default_server_dir(env))
    raw_url = url or env.get(ENV_URL) or (local.url if local else None)
    if not raw_url:
        raise ConfigError(
            "no Doccano server given",
            hint=f"start one with `annotate server start`, or pass --url / set {ENV_URL}",
        )
    final_url = normalize_url(raw_url)
    is_local = local is not None and normalize_url(local.url) == final_url
    user = username or env.get(ENV_USERNAME) or (local.username if is_local and local else None)
    if not user:
        raise ConfigError("no Doccano user name given", hint=f"pass --username or set {ENV_USERNAME}")
    if env.get(ENV_PASSWORD):
        return ConnectionSettings(final_url, user, env[ENV_PASSWORD], password_source=ENV_PASSWORD)
    if is_local and local is not None and local.username == user:
        return ConnectionSettings(final_url, user, local.password, password_source="credentials file")
    if prompt is not None:
        return ConnectionSettings(final_url, user, prompt(final_url, user), password_source="prompt")
    raise ConfigError(
        f"no password for {user} at {final_url}",
        hint=f"set {ENV_PASSWORD} (a password is never accepted as a command-line argument)",
    )
