"""The transport under the Doccano adapter: one session to one server, and nothing of its resources.

It adds what doccano-client lacks:

- a timeout on every call (``ConnectionSettings.connect_timeout`` / ``read_timeout``);
- retries with exponential backoff plus full jitter, honouring ``Retry-After``, on connection
  errors, 429 and 5xx -- but only for idempotent requests. A non-idempotent request (POST, PATCH)
  is retried only when the connection was refused before anything was sent, or on 429 (the server
  says it did not process it). Pass ``idempotent=True`` for a POST that is safe to repeat (e.g. a
  deduplicated push, a login);
- failures mapped to :mod:`annotate.errors` (ConnectionFailed, AuthenticationFailed,
  PermissionDenied, NotFound, RequestRejected, ServerError), with messages that never contain
  the password or the token;
- JSON decoding, ``?limit=`` paging (:meth:`Transport.list_all`), the health check and the token
  login.

``_request(method, path, *, idempotent=None, expected=..., **requests_kwargs)`` takes a path
relative to ``<url>/v1/`` (or an absolute URL, e.g. a ``next`` link), returns the
``requests.Response`` and raises the mapped errors. ``idempotent=None`` means "decide by the
method".

Logout is deliberately absent: Doccano deletes the user's only token, which would log out every
other client of the same user.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter

from annotate.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    RequestRejected,
    ServerError,
)
from annotate.settings import ConnectionSettings, normalize_url

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryPolicy:
    """How often and how long to retry: ``attempts`` tries in all, backoff ``base * 2**n`` (capped)."""

    def __init__(
        self,
        attempts: int = 5,
        base: float = 0.25,
        cap: float = 8.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.attempts = max(1, attempts)
        self.base = base
        self.cap = cap
        self.max_retry_after = max_retry_after
        self.sleep = sleep

    def delay(self, attempt: int, response: requests.Response | None = None) -> float:
        """Return the pause before retry number ``attempt`` (0-based): full jitter, or Retry-After."""
        pause = random.uniform(0, min(self.cap, self.base * 2**attempt))
        after = _retry_after(response) if response is not None else None
        if after is not None:
            pause = max(pause, min(after, self.max_retry_after))
        return pause


def _retry_after(response: requests.Response) -> float | None:
    """Return the seconds asked for by a ``Retry-After`` header (number or HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the request provably never reached the server (refused / connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


class ResilientSession(requests.Session):
    """A requests session with a default timeout and the retry rules described in the module doc.

    doccano-client gets one of these too, so its calls have the same timeouts and retries.
    """

    def __init__(self, timeout: tuple[float, float], policy: RetryPolicy) -> None:
        super().__init__()
        self.timeout = timeout
        self.policy = policy
        # One connection pool per host is plenty; urllib3's own retries stay off (we do them).
        self.mount("http://", HTTPAdapter(max_retries=0))
        self.mount("https://", HTTPAdapter(max_retries=0))

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, idempotent: bool | None = None, **kwargs: Any
    ) -> requests.Response:
        method_s = method.decode() if isinstance(method, bytes) else str(method)
        method_s = method_s.upper()
        if idempotent is None:
            idempotent = method_s in IDEMPOTENT_METHODS
        kwargs.setdefault("timeout", self.timeout)
        attempt = 0
        while True:
            last = attempt + 1 >= self.policy.attempts
            try:
                response = super().request(method_s, url, *args, **kwargs)
            except requests.exceptions.ConnectionError as e:
                # A read timeout or a dropped connection after sending may have been applied.
                if last or not (idempotent or _never_sent(e)):
                    raise
                self.policy.sleep(self.policy.delay(attempt))
                attempt += 1
                continue
            except requests.exceptions.Timeout:
                if last or not idempotent:
                    raise
                self.policy.sleep(self.policy.delay(attempt))
                attempt += 1
                continue
            status = response.status_code
            retryable = status in RETRY_STATUSES and (idempotent or status == 429)
            if last or not retryable:
                return response
            pause = self.policy.delay(attempt, response)
            response.close()
            self.policy.sleep(pause)
            attempt += 1


def describe_failure(exc: Exception) -> str:
    """Return a short, secret-free reason for a network failure."""
    text = repr(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connecting timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "the server did not answer in time"
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "ConnectionResetError" in text:
        return "the server closed the connection"
    return type(exc).__name__


def _body_excerpt(response: requests.Response, limit: int = 300) -> str:
    """Return the first ``limit`` characters of a response body, on one line, HTML dropped."""
    ctype = response.headers.get("Content-Type", "")
    if "html" in ctype:
        return ""
    text = " ".join(response.text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


_T = TypeVar("_T", bound="Transport")


class Transport:
    """A session to one Doccano server as one user: requests, errors, JSON, paging, login.

    ``retry`` overrides the default RetryPolicy (tests use a fast-sleeping one).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        retry: RetryPolicy | None = None,
        token: str | None = None,
    ) -> None:
        self.settings = settings
        self.url = normalize_url(settings.url)
        self.api_url = f"{self.url}/v1"
        self.session = ResilientSession(
            (settings.connect_timeout, settings.read_timeout), retry or RetryPolicy()
        )
        self.session.headers.update({"Accept": "application/json", "Referer": self.url + "/"})
        self._token: str | None = None
        if token:
            self._set_token(token)

    # -- plumbing --------------------------------------------------------------------------------

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, username={self.settings.username!r})"

    def _set_token(self, token: str) -> None:
        self._token = token
        self.session.headers["Authorization"] = f"Token {token}"

    def _redact(self, text: str) -> str:
        """Return ``text`` with the password and token blanked out."""
        for secret in (self.settings.password, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _full_url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.api_url}/{path.lstrip('/')}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        expected: tuple[int, ...] = (200, 201, 204),
        what: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request (with timeouts and retries); return the response or raise a mapped error.

        ``what`` names the operation in error messages (default: ``METHOD path``).
        """
        url = self._full_url(path)
        what = what or f"{method.upper()} {url.removeprefix(self.url)}"
        try:
            response = self.session.request(method, url, idempotent=idempotent, **kwargs)
        except requests.exceptions.RequestException as e:
            sent_maybe = method.upper() not in IDEMPOTENT_METHODS and not (
                isinstance(e, requests.exceptions.ConnectionError) and _never_sent(e)
            )
            raise ConnectionFailed(
                self._redact(f"{what}: cannot reach Doccano at {self.url}: {describe_failure(e)}"),
                hint=(
                    "the request may or may not have been applied, so it was not repeated; check the server"
                    if sent_maybe
                    else "is the server running? `annotate server status`, or check --url / DOCCANO_URL"
                ),
            ) from None
        if response.status_code in expected:
            return response
        raise self._error_for(response, what)

    def _error_for(self, response: requests.Response, what: str) -> ServerError:
        """Return the annotate error for an unexpected response."""
        status = response.status_code
        detail = _body_excerpt(response)
        message = self._redact(f"{what}: HTTP {status}" + (f": {detail}" if detail else ""))
        if status == 401:
            return AuthenticationFailed(
                message, hint=f"log in again; check the user name and password for {self.url}"
            )
        if status == 403:
            return PermissionDenied(
                message, hint=f"user {self.settings.username} lacks the role needed for this"
            )
        if status == 404:
            return NotFound(message)
        if status >= 500:
            return ServerError(message, hint="see the server's log (`annotate server logs` for a local one)")
        return RequestRejected(message, status=status, body=self._redact(response.text[:2000]))

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` and return its JSON (ServerError if the answer is not JSON)."""
        response = self._request("GET", path, **kwargs)
        return self._json(response, kwargs.get("what") or f"GET {path}")

    def _json(self, response: requests.Response, what: str) -> Any:
        """Return the response's JSON; a non-JSON answer (e.g. the web app's HTML) is a ServerError."""
        try:
            return response.json()
        except ValueError:
            ctype = response.headers.get("Content-Type", "?")
            raise ServerError(
                self._redact(f"{what}: expected JSON from {self.url}, got {ctype}"),
                hint="is this URL a Doccano server (and the path an API path)?",
            ) from None

    def list_all(
        self, path: str, *, params: dict[str, Any] | None = None, page_size: int = 1000
    ) -> list[Any]:
        """Return every item of a list endpoint, following ``?limit=``/``offset`` pages.

        Works on paginated (``{"results", "next"}``) and unpaginated (plain list) endpoints.
        """
        return list(self.iter_all(path, params=params, page_size=page_size))

    def iter_all(
        self, path: str, *, params: dict[str, Any] | None = None, page_size: int = 1000
    ) -> Iterator[Any]:
        """Yield every item of a list endpoint, one page (``limit=page_size``) at a time."""
        query: dict[str, Any] | None = {**(params or {}), "limit": page_size, "offset": 0}
        url: str | None = path
        while url is not None:
            data = self.get_json(url, params=query)
            if isinstance(data, list):
                yield from data
                return
            yield from data.get("results", [])
            url = data.get("next")
            # ``next`` already carries limit/offset and the other parameters.
            query = None

    # -- the server and the login ----------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Return Doccano's health report; raise ServerError unless every check passes.

        Needs no login. 200 means the migrations are done and the Celery worker answers.
        """
        response = self._request(
            "GET",
            f"{self.url}/v1/health/",
            expected=(200, 500, 503),
            what="health check",
            headers={"Accept": "application/json"},
        )
        try:
            report = response.json()
        except ValueError:
            report = {}
        if response.status_code != 200:
            failing = sorted(k for k, v in report.items() if str(v).lower() != "working")
            raise ServerError(
                f"Doccano at {self.url} is not healthy: "
                + (", ".join(failing) or f"HTTP {response.status_code}"),
                hint="is the Celery worker running? see `annotate server logs`",
            )
        return report

    def login(self: _T) -> _T:
        """Log in with a token (``Authorization: Token ...``); return self.

        Raises AuthenticationFailed with a clear message on a wrong user name or password.
        """
        # Replaying a login is harmless (it returns the same token), so it may be retried.
        self.session.headers.pop("Authorization", None)
        response = self._request(
            "POST",
            "auth/login/",
            idempotent=True,
            expected=(200, 400, 401, 403),
            json={"username": self.settings.username, "password": self.settings.password},
            what="login",
        )
        if response.status_code != 200:
            raise AuthenticationFailed(
                f"login to {self.url} as {self.settings.username} failed: wrong user name or password",
                hint=f"the password came from {self.settings.password_source}; "
                "set DOCCANO_PASSWORD or check --username",
            )
        token = response.json().get("key")
        if not token:
            raise ServerError(f"login to {self.url} returned no token")
        self._set_token(token)
        # The login also set a session cookie; with it DRF would demand a CSRF token on writes.
        # The token alone authenticates, so drop the cookies.
        self.session.cookies.clear()
        return self

    @property
    def token(self) -> str | None:
        """The auth token after :meth:`login` (a secret: never print it)."""
        return self._token

    def server_version(self) -> str | None:
        """Return Doccano's version if the server reports one, else None.

        Doccano 1.8 exposes no version over HTTP; for the local server ``annotate.doccano.server``
        knows it from its venv, and :func:`annotate.doccano.doctor.diagnose` uses that.
        """
        return None
