"""THE Doccano adapter: the only module that talks HTTP to Doccano or imports ``doccano_client``.

Everything else calls :class:`DoccanoAPI`. It adds what doccano-client lacks:

- a timeout on every call (``ConnectionSettings.connect_timeout`` / ``read_timeout``);
- retries with exponential backoff plus full jitter, honouring ``Retry-After``, on connection
  errors, 429 and 5xx -- but only for idempotent requests. A non-idempotent request (POST, PATCH)
  is retried only when the connection was refused before anything was sent, or on 429 (the server
  says it did not process it). Pass ``idempotent=True`` for a POST that is safe to repeat (e.g. a
  deduplicated push, a login);
- failures mapped to :mod:`annotate.errors` (ConnectionFailed, AuthenticationFailed,
  PermissionDenied, NotFound, RequestRejected, ServerError, TaskFailed), with messages that never
  contain the password or the token;
- the raw REST calls the client lacks: health, token login, whoami, ``?limit=`` paging
  (:meth:`DoccanoAPI.list_all`), projects, users, members.

Extending it (push/pull calls live in the marked section at the end of the class):

    def list_examples(self, project_id: int) -> list[dict]:
        return self.list_all(f"projects/{project_id}/examples")

    def create_span(self, project_id, example_id, body):
        return self._request("POST", f"projects/{project_id}/examples/{example_id}/spans",
                             json=body, expected=(201,)).json()

``_request(method, path, *, idempotent=None, expected=..., **requests_kwargs)`` takes a path
relative to ``<url>/v1/`` (or an absolute URL, e.g. a ``next`` link), returns the
``requests.Response`` and raises the mapped errors. ``idempotent=None`` means "decide by the
method". For doccano-client's helpers (upload/download), use :meth:`DoccanoAPI.client`: it shares
this session (token, timeouts, retries); wrap the call in ``with self._mapped("what"):``.

Logout is deliberately absent: Doccano deletes the user's only token, which would log out every
other client of the same user.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import random
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from annotate.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    RequestRejected,
    ServerError,
    TaskFailed,
    UsageError,
)
from annotate.settings import ConnectionSettings, normalize_url

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: A project name Doccano's search finds by its words (see ``find_project``).
_SEARCHABLE = re.compile(r"[^\"'\\\x00-\x1f\x7f]+")


class WaitStopped(Exception):
    """``wait_task`` gave up because its caller asked it to stop (the task itself runs on)."""


#: Seconds a task is polled at the short pause before the pause grows (see ``wait_task``).
SLOW_AFTER = 10.0

ROLE_IDS = {"project_admin": 1, "annotator": 2, "annotation_approver": 3}
"""Doccano's built-in roles (``create_roles`` makes them in this order)."""

PROJECT_RESOURCE_TYPES = {
    "DocumentClassification": "TextClassificationProject",
    "SequenceLabeling": "SequenceLabelingProject",
    "Seq2seq": "Seq2seqProject",
    "IntentDetectionAndSlotFilling": "IntentDetectionAndSlotFillingProject",
    "Speech2text": "Speech2textProject",
    "ImageClassification": "ImageClassificationProject",
    "BoundingBox": "BoundingBoxProject",
    "Segmentation": "SegmentationProject",
    "ImageCaptioning": "ImageCaptioningProject",
}


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


def _describe(exc: Exception) -> str:
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


class DoccanoAPI:
    """A connection to one Doccano server as one user. Build it, call :meth:`login`, use it.

    ``retry`` and ``timeout`` override the defaults (tests use a fast-sleeping RetryPolicy).
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
        self._me: dict[str, Any] | None = None
        if token:
            self._set_token(token)

    # -- plumbing --------------------------------------------------------------------------------

    def __enter__(self) -> DoccanoAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"DoccanoAPI(url={self.url!r}, username={self.settings.username!r})"

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
                self._redact(f"{what}: cannot reach Doccano at {self.url}: {_describe(e)}"),
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

    @contextlib.contextmanager
    def _mapped(self, what: str) -> Iterator[None]:
        """Map doccano-client and requests exceptions raised inside the block to annotate errors."""
        from doccano_client.exceptions import DoccanoAPIError

        try:
            yield
        except DoccanoAPIError as e:
            response = getattr(e, "response", None)
            if response is None:
                raise ServerError(self._redact(f"{what}: {e}")) from None
            raise self._error_for(response, what) from None
        except requests.exceptions.RequestException as e:
            raise ConnectionFailed(
                self._redact(f"{what}: cannot reach Doccano at {self.url}: {_describe(e)}")
            ) from None

    def client(self) -> Any:
        """Return a ``doccano_client.DoccanoClient`` logged in with our token, with our timeouts and retries.

        It gets its own session (doccano-client wants a JSON Content-Type on every call, which would
        break multipart uploads on ours).
        """
        from doccano_client import DoccanoClient

        client = DoccanoClient(self.url)
        base = client._base_repository
        base._session.close()
        session = ResilientSession(self.session.timeout, self.session.policy)
        session.headers.update(self.session.headers)
        session.headers["Content-Type"] = "application/json"
        base._session = session
        return client

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

    # -- server and user ---------------------------------------------------------------------------

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

    def login(self) -> DoccanoAPI:
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

    def whoami(self) -> dict[str, Any]:
        """Return the logged-in user (``id``, ``username``, ``is_superuser``, ...)."""
        if self._me is None:
            self._me = self.get_json("me", what="who am I")
        return self._me

    def server_version(self) -> str | None:
        """Return Doccano's version if the server reports one, else None.

        Doccano 1.8 exposes no version over HTTP; for the local server ``annotate.doccano.server``
        knows it from its venv, and :func:`annotate.doctor.diagnose` uses that.
        """
        return None

    # -- projects ---------------------------------------------------------------------------------

    def list_projects(self, search: str | None = None) -> list[dict[str, Any]]:
        """Return every project the user can see; with ``search``, only those whose name or
        description contains each of its words (Doccano's search filter, whose query
        parameter is ``q``: Doccano ignores any other and lists every project)."""
        return self.list_all("projects", params={"q": search} if search else None)

    def get_project(self, project_id: int) -> dict[str, Any]:
        """Return one project by id; NotFound if it does not exist or is not visible."""
        return self.get_json(f"projects/{int(project_id)}", what=f"project {project_id}")

    def find_project(self, name_or_id: str | int) -> dict[str, Any]:
        """Return the project with this id (an int or all-digit string) or this exact name.

        Raises NotFound if none matches, UsageError if the name is ambiguous.
        """
        text = str(name_or_id).strip()
        if text.isdigit():
            try:
                return self.get_project(int(text))
            except NotFound:
                pass  # a project may be *named* "42"
        # The server's search narrows the list (a busy server holds many projects). It keeps
        # the projects whose name or description contains each word of the text, so it holds
        # the exact name, except where its parsing rewrites a word: quotes and backslashes
        # (unescaped), control characters (refused). Such a name is looked for in the full list.
        if _SEARCHABLE.fullmatch(text):
            candidates = self.list_projects(search=text)
        else:
            candidates = self.list_projects()
        matches = [p for p in candidates if p.get("name") == text]
        if not matches:
            raise NotFound(
                f"no project {text!r} at {self.url}", hint="`annotate doctor` lists the projects you can see"
            )
        if len(matches) > 1:
            ids = ", ".join(str(p["id"]) for p in matches)
            raise UsageError(
                f"{len(matches)} projects are named {text!r} (ids {ids})", hint="name the project by its id"
            )
        return matches[0]

    def create_project(
        self,
        name: str,
        *,
        project_type: str = "SequenceLabeling",
        description: str = "",
        guideline: str = "",
        collaborative_annotation: bool = False,
        allow_overlapping: bool = False,
        use_relation: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create a project and return it. Not retried blindly (a POST)."""
        if project_type not in PROJECT_RESOURCE_TYPES:
            raise UsageError(
                f"unknown Doccano project type {project_type!r}",
                hint="one of: " + ", ".join(PROJECT_RESOURCE_TYPES),
            )
        body: dict[str, Any] = {
            "name": name,
            "description": description or name,
            "guideline": guideline,
            "project_type": project_type,
            "resourcetype": PROJECT_RESOURCE_TYPES[project_type],
            "collaborative_annotation": collaborative_annotation,
            "random_order": False,
            "single_class_classification": False,
            **extra,
        }
        if project_type == "SequenceLabeling":
            body.update(allow_overlapping=allow_overlapping, use_relation=use_relation)
        return self._request(
            "POST", "projects", json=body, expected=(201,), what=f"create project {name!r}"
        ).json()

    def delete_project(self, project_id: int) -> None:
        """Delete a project (and its examples). A missing project is not an error."""
        self._request(
            "DELETE", f"projects/{int(project_id)}", expected=(204, 404), what=f"delete project {project_id}"
        )

    # -- users and members --------------------------------------------------------------------------

    def create_user(self, username: str, password: str, *, email: str | None = None) -> dict[str, Any]:
        """Create a user (admin only) and return it (``id``, ``username``)."""
        body = {
            "username": username,
            "email": email or f"{username}@example.invalid",
            "password1": password,
            "password2": password,
        }
        try:
            return self._request(
                "POST", "users/create", json=body, expected=(201,), what=f"create user {username!r}"
            ).json()
        except RequestRejected as e:
            # The body may echo fields; never let the new user's password into a message.
            raise RequestRejected(
                e.message.replace(password, "***"), status=e.status, body=e.body.replace(password, "***")
            ) from None

    def find_user(self, username: str) -> dict[str, Any]:
        """Return the user with exactly this name; NotFound otherwise."""
        for user in self.get_json("users", params={"q": username}, what="list users"):
            if user.get("username") == username:
                return dict(user)
        raise NotFound(f"no user {username!r} at {self.url}")

    def role_id(self, role: str | int) -> int:
        """Return the id of a role given by name (``annotator``) or id."""
        if isinstance(role, int) or str(role).isdigit():
            return int(role)
        try:
            for r in self.get_json("roles", what="list roles"):
                if r.get("name") == role:
                    return int(r["id"])
        except (NotFound, PermissionDenied):
            pass
        if role in ROLE_IDS:
            return ROLE_IDS[role]
        raise UsageError(f"unknown role {role!r}", hint="one of: " + ", ".join(ROLE_IDS))

    def list_members(self, project_id: int) -> list[dict[str, Any]]:
        """Return the project's members (``user``, ``username``, ``role``, ``rolename``)."""
        return self.list_all(f"projects/{int(project_id)}/members")

    def add_member(self, project_id: int, user: str | int, role: str | int = "annotator") -> dict[str, Any]:
        """Add a user (name or id) to a project with a role; return the membership."""
        user_id = user if isinstance(user, int) else int(self.find_user(user)["id"])
        return self._request(
            "POST",
            f"projects/{int(project_id)}/members",
            json={"user": user_id, "role": self.role_id(role)},
            expected=(201,),
            what=f"add member {user} to project {project_id}",
        ).json()

    # ==============================================================================================
    # Push / pull: import, export, label types, examples, spans, relations. (Owned by push/pull.)
    # Build on self._request / self.list_all / self.client() + self._mapped(); keep HTTP in here.
    # ==============================================================================================

    def update_project(self, project_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH project settings; return the project. Repeating it is harmless."""
        body = {"resourcetype": "SequenceLabelingProject", **changes}
        return self._request(
            "PATCH",
            f"projects/{int(project_id)}",
            json=body,
            idempotent=True,
            what=f"update project {project_id}",
        ).json()

    def list_label_types(self, project_id: int, kind: str) -> list[dict[str, Any]]:
        """Return the project's label types of ``kind`` (``span`` or ``relation``)."""
        return self.list_all(f"projects/{int(project_id)}/{kind}-types")

    def create_label_type(self, project_id: int, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create one label type of ``kind`` (``span``/``relation``); return it.

        The caller must have checked the name is new: Doccano answers a duplicate name with a 500.
        """
        return self._request(
            "POST",
            f"projects/{int(project_id)}/{kind}-types",
            json=body,
            expected=(201,),
            what=f"create {kind} type {body.get('text')!r}",
        ).json()

    def create_label_types(self, project_id: int, kind: str, bodies: list[dict[str, Any]]) -> None:
        """Create several label types of ``kind`` (``span``/``relation``) in one request; return nothing.

        Doccano 1.8.4's ``<kind>-type-upload`` takes a JSON list as a file and saves it in one
        transaction with the same serializer as the one-by-one POST (text, prefix/suffix key,
        colours): all are created or none (a name already there gives a 400, not the 500 of
        the single POST). It answers without the new ids. It checks a shortcut only against
        the types already saved, so the caller must make sure the names and shortcuts of
        ``bodies`` are new and distinct. An empty list sends nothing.
        """
        import json

        if not bodies:
            return
        content = json.dumps(bodies).encode("utf-8")
        self._request(
            "POST",
            f"projects/{int(project_id)}/{kind}-type-upload",
            files={"file": (f"{kind}-types.json", content, "application/json")},
            expected=(201,),
            what=f"create {len(bodies)} {kind} types",
        )

    def count_examples(self, project_id: int, *, params: dict[str, Any] | None = None) -> int:
        """Return how many examples a project holds (one cheap request); ``params`` filter them."""
        data = self.get_json(
            f"projects/{int(project_id)}/examples",
            params={**(params or {}), "limit": 1, "offset": 0},
            what="count examples",
        )
        return int(data.get("count", 0)) if isinstance(data, dict) else len(data)

    def probe_examples(self, project_id: int) -> tuple[int, int | None, dict[str, Any] | None]:
        """Return ``(count, newest example id, newest example)`` in one cheap request.

        ``ordering=-created_at`` is one of the example list's ``ordering_fields`` in Doccano 1.8.4
        and overrides the project's own order (random order included); ``limit=1`` keeps the
        answer to a single serialised example whatever the project's size.
        """
        data = self.get_json(
            f"projects/{int(project_id)}/examples",
            params={"limit": 1, "offset": 0, "ordering": "-created_at"},
            what="probe examples",
        )
        items = data.get("results", []) if isinstance(data, dict) else list(data)
        count = int(data.get("count", len(items))) if isinstance(data, dict) else len(items)
        newest = dict(items[0]) if items else None
        return count, (int(newest["id"]) if newest else None), newest

    def list_confirmed_ids(self, project_id: int) -> set[int]:
        """Return the ids of the examples someone confirmed (collaborative projects).

        Doccano 1.8.4's ``?confirmed=true`` filter counts every user's confirmation in a
        collaborative project (only the caller's otherwise), the same rule as ``is_confirmed``;
        only the confirmed examples go through the (slow, per-example) serializer.
        """
        return {int(ex["id"]) for ex in self.list_examples(project_id, params={"confirmed": "true"})}

    def list_examples(
        self, project_id: int, *, params: dict[str, Any] | None = None, page_size: int = 250, threads: int = 4
    ) -> list[dict[str, Any]]:
        """Return every example of a project (``id``, ``text``, ``meta``, ``is_confirmed``, ...).

        Doccano serialises each example with two queries of its own (comment count, confirmed
        state), so a long list is slow; its pages are fetched in parallel (``?limit=&offset=``),
        which the server's workers serve side by side.
        """
        from concurrent.futures import ThreadPoolExecutor

        path = f"projects/{int(project_id)}/examples"
        first = self.get_json(path, params={**(params or {}), "limit": page_size, "offset": 0})
        if isinstance(first, list):
            return first
        items = list(first.get("results", []))
        total = int(first.get("count", len(items)))
        offsets = list(range(page_size, total, page_size))

        def page(offset: int) -> list[dict[str, Any]]:
            data = self.get_json(path, params={**(params or {}), "limit": page_size, "offset": offset})
            return list(data.get("results", []))

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for chunk in pool.map(page, offsets):
                items.extend(chunk)
        # Examples added or deleted meanwhile may shift a page boundary: drop any repeat.
        unique: dict[Any, dict[str, Any]] = {}
        for ex in items:
            unique.setdefault(ex.get("id"), ex)
        return list(unique.values())

    def delete_examples(self, project_id: int, example_ids: list[int]) -> None:
        """Delete these examples (and their annotations). An empty list deletes nothing.

        Doccano deletes *every* example when the id list is empty, hence the guard.
        """
        ids = [int(i) for i in example_ids]
        if not ids:
            return
        self._request(
            "DELETE",
            f"projects/{int(project_id)}/examples",
            json={"ids": ids},
            expected=(204,),
            what=f"delete {len(ids)} examples",
        )

    def list_spans(self, project_id: int, example_id: int) -> list[dict[str, Any]]:
        """Return the spans of one example (every user's): ``id, user, label, start_offset, end_offset``."""
        return self.list_all(f"projects/{int(project_id)}/examples/{int(example_id)}/spans")

    def list_relations(self, project_id: int, example_id: int) -> list[dict[str, Any]]:
        """Return the relations of one example (every user's): ``id, user, from_id, to_id, type``."""
        return self.list_all(f"projects/{int(project_id)}/examples/{int(example_id)}/relations")

    def list_example_states(self, project_id: int, example_id: int) -> list[dict[str, Any]]:
        """Return who confirmed an example (``confirmed_by`` user ids)."""
        return self.list_all(f"projects/{int(project_id)}/examples/{int(example_id)}/states")

    def list_comments(self, project_id: int) -> list[dict[str, Any]]:
        """Return every comment of a project (``example``, ``username``, ``text``, ``created_at``)."""
        return self.list_all(f"projects/{int(project_id)}/comments")

    def upload_file(self, path: str | os.PathLike[str]) -> str:
        """Send a file to Doccano's upload area; return its upload id. Safe to retry."""
        p = Path(path)
        # Bytes, not an open file: a retried request must send the whole file again.
        content = p.read_bytes()
        response = self._request(
            "POST",
            "fp/process/",
            idempotent=True,  # an unused upload is only a temp file on the server
            files={"filepond": (p.name, content, "application/octet-stream")},
            # Drop a session-wide JSON Content-Type so that requests writes the multipart one.
            headers={"Content-Type": None, "Accept": "*/*"},  # type: ignore[dict-item]
            what="upload file",
        )
        upload_id = response.text.strip()
        if not upload_id:
            raise ServerError("upload file: Doccano returned no upload id")
        return upload_id

    def start_import(
        self,
        project_id: int,
        upload_ids: list[str],
        *,
        task: str = "RelationExtraction",
        fmt: str = "JSONL",
        column_data: str = "text",
    ) -> str:
        """Start Doccano's import task on uploaded files; return the Celery task id.

        Never retried here: a repeat would import the file twice. Callers dedupe instead.
        """
        body = {"uploadIds": upload_ids, "task": task, "format": fmt, "column_data": column_data}
        data = self._request(
            "POST", f"projects/{int(project_id)}/upload", json=body, what="start import task"
        ).json()
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not task_id:
            raise ServerError("start import task: Doccano returned no task id")
        return str(task_id)

    def task_status(self, task_id: str) -> dict[str, Any]:
        """Return a Celery task's status: ``{"ready", "result", "error"}``."""
        return self.get_json(f"tasks/status/{task_id}", what="task status")

    def wait_task(
        self,
        task_id: str,
        *,
        timeout: float,
        what: str,
        poll: float = 0.05,
        slow_poll: float = 0.25,
        stop: threading.Event | None = None,
    ) -> Any:
        """Poll a task until it is ready; return its result.

        The pause between polls is short: an import or export of a thousand documents takes
        seconds and a status GET milliseconds, so a longer pause only finds the finished task
        late. After ``SLOW_AFTER`` seconds (a large task) it becomes ``slow_poll``. The last pause
        is cut so that no poll falls after ``timeout``. Raises TaskFailed when the task failed
        (with its error) or is not ready after ``timeout`` seconds (the usual cause: no Celery
        worker, or one on another database). When ``stop`` is set (the caller was interrupted),
        raises WaitStopped between polls: the task runs on, unwatched.
        """
        began = time.monotonic()
        deadline = began + timeout
        while True:
            if stop is not None and stop.is_set():
                raise WaitStopped(f"{what}: no longer waiting for task {task_id}")
            status = self.task_status(task_id)
            if status.get("ready"):
                if status.get("error"):
                    err = status["error"]
                    text = err.get("text") if isinstance(err, dict) else str(err)
                    raise TaskFailed(self._redact(f"{what}: the Doccano task failed: {text}"))
                return status.get("result")
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                raise TaskFailed(
                    f"{what}: the Doccano task was not done after {timeout:.0f} s",
                    hint="is the Celery worker running, on the same database as the web server? "
                    "see `annotate server logs`",
                )
            pause = poll if now - began < SLOW_AFTER else slow_poll
            if stop is not None:
                stop.wait(max(0.0, min(pause, left)))
            else:
                time.sleep(max(0.0, min(pause, left)))

    def import_errors(self, result: Any) -> list[str]:
        """Return the per-line errors an import task reported (``file:line: message``)."""
        errors = result.get("error") if isinstance(result, dict) else None
        out = []
        for e in errors or []:
            if isinstance(e, dict):
                where = f"{e.get('filename', '?')}:{e.get('line_num', '?')}"
                out.append(f"{where}: {e.get('message', e)}")
            else:
                out.append(str(e))
        return out

    def export_zip(
        self,
        project_id: int,
        dest: str | os.PathLike[str],
        *,
        only_approved: bool = False,
        timeout: float = 600.0,
    ) -> Path:
        """Run the JSONL export task and download its zip to ``dest``; return ``dest``.

        The body is streamed to ``dest`` and checked (length and zip directory), so a dropped
        connection raises ConnectionFailed instead of leaving a truncated archive behind.
        """
        data = self._request(
            "POST",
            f"projects/{int(project_id)}/download",
            json={"format": "JSONL", "exportApproved": bool(only_approved)},
            idempotent=True,  # a repeated export only starts a second, harmless export
            what="start export task",
        ).json()
        task_id = str(data["task_id"])
        self.wait_task(task_id, timeout=timeout, what="export")
        target = Path(dest)
        attempts = self.session.policy.attempts
        for attempt in range(attempts):
            try:
                self._download(project_id, task_id, target)
                return target
            except ConnectionFailed:
                target.unlink(missing_ok=True)
                # Downloading the finished export again is safe: retry a dropped transfer.
                if attempt + 1 >= attempts:
                    raise
                self.session.policy.sleep(self.session.policy.delay(attempt))
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(self, project_id: int, task_id: str, target: Path) -> None:
        """Stream a finished export's zip into ``target``; ConnectionFailed if it arrives incomplete."""
        try:
            response = self._request(
                "GET",
                f"projects/{int(project_id)}/download",
                params={"taskId": task_id},
                stream=True,
                headers={"Accept": "*/*"},
                what="download export",
            )
            expected_len = response.headers.get("Content-Length")
            n = 0
            with target.open("wb") as f:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    f.write(chunk)
                    n += len(chunk)
        except requests.exceptions.RequestException as e:
            raise ConnectionFailed(
                self._redact(f"download export: the connection to {self.url} failed: {_describe(e)}")
            ) from None
        if expected_len is not None and int(expected_len) != n:
            raise ConnectionFailed(
                f"download export: the connection dropped after {n} of {expected_len} bytes"
            )
        if not zipfile.is_zipfile(target):
            raise ConnectionFailed("download export: the archive is incomplete or not a zip file")


def _body_excerpt(response: requests.Response, limit: int = 300) -> str:
    """Return the first ``limit`` characters of a response body, on one line, HTML dropped."""
    ctype = response.headers.get("Content-Type", "")
    if "html" in ctype:
        return ""
    text = " ".join(response.text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def connect(settings: ConnectionSettings, *, retry: RetryPolicy | None = None) -> DoccanoAPI:
    """Return a logged-in adapter for ``settings``."""
    return DoccanoAPI(settings, retry=retry).login()
