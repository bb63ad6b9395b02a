"""The Doccano adapter against the real server: login, projects, users, members, paging, errors."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from faultproxy import FaultProxy

from annotate.doccano import DoccanoAPI, RetryPolicy
from annotate.errors import AuthenticationFailed, ConnectionFailed, NotFound, ServerError


def test_login_gives_a_token_and_whoami_names_the_admin(doccano_api: DoccanoAPI, doccano_server) -> None:
    me = doccano_api.whoami()
    assert me["username"] == doccano_server.username
    assert me["is_superuser"] is True


def test_create_find_and_delete_project(doccano_api: DoccanoAPI, make_project) -> None:
    project = make_project(use_relation=True)
    assert doccano_api.find_project(project["name"])["id"] == project["id"]
    assert doccano_api.find_project(str(project["id"]))["name"] == project["name"]
    doccano_api.delete_project(project["id"])
    with pytest.raises(NotFound):
        doccano_api.find_project(project["name"])


def test_find_project_matches_the_exact_name_whatever_it_holds(doccano_api: DoccanoAPI, make_project) -> None:
    """The server's search narrows the list; names it would split or mangle still match exactly."""
    tag = secrets.token_hex(3)
    names = [
        f"news {tag}",
        f"news {tag} 2",  # the first name is a prefix of this one
        f'quoted "{tag}", with comma',
        f"naïve café {tag} 😀",
        f"  {tag}  spaced",
        f"under_score%{tag}\\back",
    ]
    made = {name: make_project(name)["id"] for name in names}
    for name, pid in made.items():
        assert doccano_api.find_project(name)["id"] == pid, name
    with pytest.raises(NotFound):
        doccano_api.find_project(f"news {tag} 3")


def test_the_search_narrows_the_project_list(doccano_api: DoccanoAPI, make_project) -> None:
    # find_project asks the server's search: without it a busy server lists every project.
    tag = secrets.token_hex(4)
    mine = make_project(f"search {tag}")["id"]
    other = make_project(f"search {secrets.token_hex(4)}")["id"]
    found = {p["id"] for p in doccano_api.list_projects(search=tag)}
    assert found == {mine}
    assert other in {p["id"] for p in doccano_api.list_projects()}


def test_annotator_is_added_with_the_annotator_role(
    doccano_api: DoccanoAPI, doccano_project, make_user
) -> None:
    user = make_user(doccano_project["id"])
    members = {m["username"]: m["rolename"] for m in doccano_api.list_members(doccano_project["id"])}
    assert members[user.username] == "annotator"
    with DoccanoAPI(user.settings) as api:
        api.login()
        assert api.whoami()["username"] == user.username
        assert [p["id"] for p in api.list_projects()] == [doccano_project["id"]]


def test_wrong_password_raises_authentication_failed(doccano_settings) -> None:
    from dataclasses import replace

    bad = replace(doccano_settings, password="not-the-password")
    with DoccanoAPI(bad) as api, pytest.raises(AuthenticationFailed) as exc:
        api.login()
    assert "not-the-password" not in str(exc.value)


def test_list_all_follows_limit_pages(doccano_api: DoccanoAPI, make_project) -> None:
    made = {make_project()["id"] for _ in range(3)}
    # page_size=1 forces the ``next`` links to be followed.
    seen = {p["id"] for p in doccano_api.list_all("projects", page_size=1)}
    assert made <= seen
    assert len(doccano_api.list_all("projects", page_size=1)) == len(doccano_api.list_projects())


def test_unreachable_server_is_connection_failed(doccano_settings) -> None:
    from dataclasses import replace

    from annotate.doccano.server import free_port

    sleeps: list[float] = []
    dead = replace(doccano_settings, url=f"http://127.0.0.1:{free_port()}")
    with DoccanoAPI(dead, retry=RetryPolicy(attempts=3, sleep=sleeps.append)) as api:
        with pytest.raises(ConnectionFailed, match="connection refused"):
            api.health()
    assert len(sleeps) == 2  # three attempts, two pauses


# -- retries, through a fault-injecting proxy in front of the real server --------------------------


@pytest.fixture
def proxy(doccano_server) -> Iterator[FaultProxy]:
    with FaultProxy(doccano_server.url) as p:
        yield p


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def proxied_api(proxy: FaultProxy, doccano_api: DoccanoAPI, doccano_settings, sleeps) -> Iterator[DoccanoAPI]:
    """An adapter that talks through the proxy, reusing the admin's token, never really sleeping."""
    from dataclasses import replace

    settings = replace(doccano_settings, url=proxy.url)
    with DoccanoAPI(
        settings, token=doccano_api.token, retry=RetryPolicy(attempts=4, sleep=sleeps.append)
    ) as api:
        yield api


def test_get_is_retried_after_503_and_succeeds(
    proxy: FaultProxy, proxied_api: DoccanoAPI, doccano_project
) -> None:
    proxy.fail_next(2, "503", methods={"GET"})
    projects = proxied_api.list_projects()
    assert doccano_project["id"] in {p["id"] for p in projects}
    outcomes = [o for _, _, o in proxy.requests("GET", "/v1/projects")]
    assert outcomes == ["503", "503", "forwarded"]


def test_get_is_retried_after_a_dropped_connection(proxy: FaultProxy, proxied_api: DoccanoAPI) -> None:
    proxy.fail_next(2, "drop", methods={"GET"})
    assert proxied_api.whoami()["is_superuser"] is True
    assert [o for _, _, o in proxy.requests("GET", "/v1/me")] == ["drop", "drop", "forwarded"]


def test_retry_after_header_sets_the_pause(proxy: FaultProxy, proxied_api: DoccanoAPI, sleeps) -> None:
    proxy.fail_next(1, "503", methods={"GET"}, retry_after="3")
    proxied_api.list_projects()
    assert len(sleeps) == 1 and sleeps[0] >= 3


def test_get_gives_up_after_the_last_attempt(proxy: FaultProxy, proxied_api: DoccanoAPI, sleeps) -> None:
    proxy.fail_next(10, "503", methods={"GET"})
    with pytest.raises(ServerError, match="HTTP 503"):
        proxied_api.list_projects()
    assert len(proxy.requests("GET")) == 4
    assert len(sleeps) == 3
    # Exponential backoff with full jitter: each pause is at most base * 2**n.
    assert all(0 <= s <= 0.25 * 2**n for n, s in enumerate(sleeps))


def test_post_is_not_retried_after_503(
    proxy: FaultProxy, proxied_api: DoccanoAPI, doccano_api: DoccanoAPI
) -> None:
    name = f"test-post-503-{secrets.token_hex(3)}"
    proxy.fail_next(1, "503", methods={"POST"})
    with pytest.raises(ServerError, match="HTTP 503"):
        proxied_api.create_project(name)
    assert len(proxy.requests("POST")) == 1
    assert not [p for p in doccano_api.list_projects() if p["name"] == name]


def test_post_is_not_retried_when_the_answer_is_lost(
    proxy: FaultProxy, proxied_api: DoccanoAPI, doccano_api: DoccanoAPI
) -> None:
    """The server applied the POST but the client never heard back: a retry would duplicate it."""
    name = f"test-post-lost-{secrets.token_hex(3)}"
    proxy.fail_next(1, "drop_after_forward", methods={"POST"})
    try:
        with pytest.raises(ConnectionFailed) as exc:
            proxied_api.create_project(name)
        assert "may or may not have been applied" in (exc.value.hint or "")
        assert len(proxy.requests("POST")) == 1
        assert len([p for p in doccano_api.list_projects() if p["name"] == name]) == 1
    finally:
        for p in doccano_api.list_projects():
            if p["name"] == name:
                doccano_api.delete_project(p["id"])


def test_a_post_marked_idempotent_is_retried(proxy: FaultProxy, doccano_settings) -> None:
    from dataclasses import replace

    proxy.fail_next(1, "503", methods={"POST"}, path_contains="/auth/login/")
    settings = replace(doccano_settings, url=proxy.url)
    with DoccanoAPI(settings, retry=RetryPolicy(attempts=3, sleep=lambda s: None)) as api:
        api.login()  # login is declared idempotent
        assert api.whoami()["username"] == doccano_settings.username
    assert [o for _, _, o in proxy.requests("POST", "/auth/login/")] == ["503", "forwarded"]


def test_errors_never_contain_the_password_or_token(make_user) -> None:
    from dataclasses import replace

    # A throwaway user: the request below puts its secrets in a URL, which the server logs,
    # and the admin's password must never reach a log.
    user = make_user()
    secret = user.settings.password
    with DoccanoAPI(user.settings) as api:
        api.login()
        token = api.token
        # A path that echoes the secrets back must still be redacted in the message (a
        # non-admin gets 403 here rather than 404).
        with pytest.raises(ServerError) as exc:
            api.get_json(f"projects/999999?{secret}={token}")
    assert "***" in str(exc.value)
    leaked = secret in str(exc.value) or str(token) in str(exc.value)
    assert not leaked, "the error message shows the password or the token"
    leaked = secret in repr(replace(user.settings))
    assert not leaked, "repr(settings) shows the password"


def test_a_non_json_answer_is_a_server_error(doccano_api: DoccanoAPI) -> None:
    # Doccano answers every path outside its API with the web app's HTML.
    with pytest.raises(ServerError, match="expected JSON"):
        doccano_api.get_json(f"{doccano_api.url}/no-such-page")


_CLIENT_CHECKS = """
import json
from annotate.doccano import doccano_client, DoccanoAPI
from annotate.errors import NotFound
from annotate.settings import resolve_settings

settings = resolve_settings()
client = doccano_client(settings)
names = [p.name for p in client.list_projects()]
session = client._base_repository._session
try:
    with DoccanoAPI(settings)._mapped("find project"):
        client.find_project_by_id(999999)
    mapped = None
except NotFound as e:
    mapped = type(e).__name__
api = DoccanoAPI(settings)
print(json.dumps({
    "names": names,
    "timeout": repr(session.timeout),
    "our_timeout": repr(api.session.timeout),
    "token": session.headers.get("Authorization", "").startswith("Token "),
    "our_content_type": "Content-Type" in api.session.headers,
    "not_found": mapped,
}))
"""


def test_doccano_client_is_logged_in_from_our_settings_with_our_timeouts(
    doccano_settings, doccano_project
) -> None:
    from doccano_client_venv import run_with_client

    got = run_with_client(_CLIENT_CHECKS, doccano_settings)
    assert doccano_project["name"] in got["names"]
    assert got["token"] and got["timeout"] == got["our_timeout"]
    assert not got["our_content_type"], "doccano-client's JSON Content-Type leaked into our session"


def test_doccano_client_errors_are_mapped(doccano_settings) -> None:
    from doccano_client_venv import run_with_client

    assert run_with_client(_CLIENT_CHECKS, doccano_settings)["not_found"] == "NotFound"


def test_without_doccano_client_its_client_is_a_config_error_naming_the_extra(
    doccano_api: DoccanoAPI,
) -> None:
    import importlib.util

    if importlib.util.find_spec("doccano_client") is not None:
        pytest.skip("doccano-client is installed here")
    from annotate.errors import ConfigError

    with pytest.raises(ConfigError, match="doccano-client is not installed") as e:
        doccano_api.client()
    assert "annotate[doccano-client]" in (e.value.hint or "")


def _response_with(headers: dict[str, str]):
    import requests

    r = requests.Response()
    r.status_code = 503
    r.headers.update(headers)
    return r


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    import email.utils
    import time

    policy = RetryPolicy(base=0.001, cap=0.001)
    assert policy.delay(0, _response_with({"Retry-After": "7"})) >= 7
    in_5s = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3 <= policy.delay(0, _response_with({"Retry-After": in_5s})) <= 5
    # Absurd values are capped, garbage is ignored.
    assert policy.delay(0, _response_with({"Retry-After": "86400"})) == policy.max_retry_after
    assert policy.delay(0, _response_with({"Retry-After": "soon"})) <= 0.001


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        pauses = [policy.delay(attempt) for _ in range(200)]
        assert max(pauses) <= ceiling
        assert max(pauses) > ceiling / 2  # full jitter spreads over the whole range


def test_an_ambiguous_project_name_asks_for_the_id(doccano_api: DoccanoAPI, make_project) -> None:
    from annotate.errors import UsageError

    name = f"twin-{secrets.token_hex(3)}"
    first, second = make_project(name), make_project(name)
    with pytest.raises(UsageError, match="2 projects are named") as exc:
        doccano_api.find_project(name)
    assert str(first["id"]) in str(exc.value) and str(second["id"]) in str(exc.value)


def test_members_can_be_added_by_user_name_with_any_role(
    doccano_api: DoccanoAPI, doccano_project, make_user
) -> None:
    user = make_user()
    doccano_api.add_member(doccano_project["id"], user.username, "annotation_approver")
    roles = {m["username"]: m["rolename"] for m in doccano_api.list_members(doccano_project["id"])}
    assert roles[user.username] == "annotation_approver"


def test_an_annotator_cannot_create_users(doccano_project, make_user) -> None:
    from annotate.errors import PermissionDenied

    user = make_user(doccano_project["id"])
    with DoccanoAPI(user.settings) as api:
        api.login()
        with pytest.raises(PermissionDenied):
            api.create_user(f"x-{secrets.token_hex(3)}", secrets.token_urlsafe(12))
