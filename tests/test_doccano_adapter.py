"""The Doccano adapter against the real server: login, projects, users, members, paging, errors."""

from __future__ import annotations

import pytest

from annotate.doccano import DoccanoAPI
from annotate.errors import AuthenticationFailed, NotFound


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
