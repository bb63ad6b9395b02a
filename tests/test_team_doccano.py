"""Teams against a real Doccano: users, routed push with overlap, each annotator's own view.

Everything an annotator sees is checked through that annotator's own login, never the admin's.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import DoccanoAPI
from annotate.fileio import write_jsonl
from annotate.formats.jsonl import read_records
from annotate.recipe import load_recipe
from annotate.records.model import Record
from annotate.settings import ConnectionSettings
from annotate.sync.routing import loads_of, route
from annotate.sync.team import find_team

pytestmark = [pytest.mark.doccano, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
RECIPE_PATH = REPO / "recipes" / "news.toml"


@dataclass
class PushedTeam:
    """A team pushed once for the module: its name, tasks, users' logins, the admin's env."""

    name: str
    tasks_path: Path
    tasks: dict[str, Record]
    passwords: dict[str, str]
    url: str
    env: dict[str, str]

    @property
    def annotators(self) -> list[str]:
        return sorted(self.passwords)

    def login(self, annotator: str) -> DoccanoAPI:
        settings = ConnectionSettings(self.url, annotator, self.passwords[annotator], password_source="test")
        return DoccanoAPI(settings).login()


def invoke(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def corpus_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus, pre-annotated with the news recipe."""
    from annotate.nlp.preannotate import preannotate

    path = tmp_path_factory.mktemp("team-tasks") / "tasks.jsonl"
    write_jsonl(path, (r.to_dict() for r in preannotate([str(CORPUS)], load_recipe(RECIPE_PATH)).records))
    return path


@pytest.fixture(scope="module")
def pushed_team(
    corpus_tasks: Path,
    doccano_server: Any,
    doccano_env: dict[str, str],
    doccano_api: DoccanoAPI,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PushedTeam]:
    """Three users made by `annotate users add`, the corpus pushed to them with overlap 2."""
    tag = secrets.token_hex(3)
    names = [f"{who}-{tag}" for who in ("alice", "bob", "carol")]
    pw_file = tmp_path_factory.mktemp("team-users") / "passwords.json"
    added = invoke(["users", "add", *names, "--passwords-out", str(pw_file)], doccano_env)
    assert added.exit_code == 0, added.output
    passwords = json.loads(pw_file.read_text(encoding="utf-8"))
    name = f"team-{tag}"
    pushed = invoke(
        [
            "push",
            str(corpus_tasks),
            "--project",
            name,
            "--recipe",
            str(RECIPE_PATH),
            "--create",
            "--annotators",
            ",".join(names),
            "--overlap",
            "2",
        ],
        doccano_env,
    )
    assert pushed.exit_code == 0, pushed.output
    tasks = {r.doc_id: r for _, r in read_records(corpus_tasks)}
    team = PushedTeam(name, corpus_tasks, tasks, passwords, doccano_server.url, doccano_env)
    team.added_output = added.output  # type: ignore[attr-defined]
    team.pw_file = pw_file  # type: ignore[attr-defined]
    try:
        yield team
    finally:
        found = find_team(doccano_api, name)
        for proj in found.projects.values() if found else []:
            doccano_api.delete_project(int(proj["id"]))


def test_users_add_writes_the_passwords_only_to_a_private_file(pushed_team: PushedTeam) -> None:
    pw_file: Path = pushed_team.pw_file  # type: ignore[attr-defined]
    assert stat.S_IMODE(os.stat(pw_file).st_mode) == 0o600
    assert sorted(pushed_team.passwords) == pushed_team.annotators and len(pushed_team.passwords) == 3
    output: str = pushed_team.added_output  # type: ignore[attr-defined]
    assert "created 3 user(s)" in output
    assert not any(pw in output for pw in pushed_team.passwords.values())
    # Each password logs its user in.
    for annotator in pushed_team.annotators:
        with pushed_team.login(annotator) as api:
            assert api.whoami()["username"] == annotator


def test_users_add_leaves_existing_users_alone_and_reports_them(
    pushed_team: PushedTeam, tmp_path: Path
) -> None:
    again = tmp_path / "again.json"
    new = f"dave-{secrets.token_hex(3)}"
    result = invoke(
        ["users", "add", pushed_team.annotators[0], new, "--passwords-out", str(again)], pushed_team.env
    )
    assert result.exit_code == 0, result.output
    assert f"exists already, left as it is: {pushed_team.annotators[0]}" in result.output
    assert list(json.loads(again.read_text(encoding="utf-8"))) == [new]
    # The old password still works: the existing user was not touched.
    with pushed_team.login(pushed_team.annotators[0]) as api:
        assert api.whoami()["username"] == pushed_team.annotators[0]
    listed = invoke(["users", "list", "--json"], pushed_team.env)
    assert {pushed_team.annotators[0], new} <= {u["username"] for u in json.loads(listed.stdout)}


def test_users_add_refuses_an_existing_passwords_file_before_creating_anyone(
    pushed_team: PushedTeam, tmp_path: Path, doccano_api: DoccanoAPI
) -> None:
    taken = tmp_path / "taken.json"
    taken.write_text("{}\n", encoding="utf-8")
    new = f"erin-{secrets.token_hex(3)}"
    result = invoke(["users", "add", new, "--passwords-out", str(taken)], pushed_team.env)
    assert result.exit_code != 0
    assert taken.read_text(encoding="utf-8") == "{}\n"
    assert new not in {u["username"] for u in doccano_api.list_users()}


def _view(api: DoccanoAPI) -> dict[str, dict[str, Any]]:
    """Return what a logged-in user sees: project name -> {doc_id: (spans, relation triples)}."""
    out: dict[str, dict[str, Any]] = {}
    for proj in api.list_projects():
        pid = int(proj["id"])
        names = {t["id"]: t["text"] for t in api.list_label_types(pid, "span")}
        rel_names = {t["id"]: t["text"] for t in api.list_label_types(pid, "relation")}
        docs: dict[str, Any] = {}
        for ex in api.list_examples(pid):
            spans = api.list_spans(pid, ex["id"])
            key = {s["id"]: (s["start_offset"], s["end_offset"], names[s["label"]]) for s in spans}
            triples = {
                (key[r["from_id"]], key[r["to_id"]], rel_names[r["type"]])
                for r in api.list_relations(pid, ex["id"])
            }
            docs[ex["meta"]["doc_id"]] = (sorted(key.values()), triples)
        out[str(proj["name"])] = docs
    return out


def _expected(rec: Record) -> tuple[list[Any], set[Any]]:
    return sorted(s.key for s in rec.entities), {
        (h.key, t.key, r.label) for h, t, r in rec.relation_triples()
    }


def test_every_document_is_in_exactly_two_views_balanced_with_its_pre_annotations(
    pushed_team: PushedTeam,
) -> None:
    seen: dict[str, list[str]] = {}
    for annotator in pushed_team.annotators:
        with pushed_team.login(annotator) as api:
            view = _view(api)
        # An annotator sees one project, their own, and nobody else's.
        assert list(view) == [f"{pushed_team.name} · {annotator}"]
        for doc_id, got in next(iter(view.values())).items():
            seen.setdefault(doc_id, []).append(annotator)
            assert got == _expected(pushed_team.tasks[doc_id]), doc_id
    assert set(seen) == set(pushed_team.tasks)
    assert all(len(names) == 2 for names in seen.values())
    loads = loads_of(seen)
    assert max(loads.values()) - min(loads.values()) <= 1
    # Exactly the routing the pure function gives for these documents.
    assert {d: tuple(sorted(n)) for d, n in seen.items()} == route(
        list(pushed_team.tasks), pushed_team.annotators, 2
    )


def test_an_annotator_cannot_reach_another_annotators_project(
    pushed_team: PushedTeam, doccano_api: DoccanoAPI
) -> None:
    from annotate.errors import NotFound, PermissionDenied

    team = find_team(doccano_api, pushed_team.name)
    assert team is not None and team.annotators == pushed_team.annotators
    alice, bob = pushed_team.annotators[:2]
    bobs = int(team.projects[bob]["id"])
    with pushed_team.login(alice) as api:
        with pytest.raises((PermissionDenied, NotFound)):
            api.list_examples(bobs)
