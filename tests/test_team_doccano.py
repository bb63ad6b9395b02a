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
from team_helpers import adjudicate_args, delete_team
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
    pw_file: Path  # the passwords `annotate users add` wrote
    added_output: str  # what `annotate users add` printed

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
    team = PushedTeam(
        name, corpus_tasks, tasks, passwords, doccano_server.url, doccano_env, pw_file, added.output
    )
    try:
        yield team
    finally:
        delete_team(doccano_api, name)


def test_users_add_writes_the_passwords_only_to_a_private_file(pushed_team: PushedTeam) -> None:
    pw_file = pushed_team.pw_file
    assert stat.S_IMODE(os.stat(pw_file).st_mode) == 0o600
    assert sorted(pushed_team.passwords) == pushed_team.annotators and len(pushed_team.passwords) == 3
    output = pushed_team.added_output
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


def _pair_docs(team: PushedTeam, doccano_api: DoccanoAPI) -> tuple[str, str, list[str]]:
    """Return two annotators and the documents both of them got (in routing order)."""
    routing = route(list(team.tasks), team.annotators, 2)
    x, y = team.annotators[:2]
    both = [d for d, names in routing.items() if names == (x, y) and len(team.tasks[d].entities) >= 3]
    assert len(both) >= 3, "the corpus gives each pair several documents"
    return x, y, both


def _example(api: DoccanoAPI, doc_id: str) -> tuple[int, dict[str, Any]]:
    """Return (project id, example) of ``doc_id`` in the only project the user sees."""
    [proj] = api.list_projects()
    pid = int(proj["id"])
    return pid, next(ex for ex in api.list_examples(pid) if ex["meta"]["doc_id"] == doc_id)


def _unrelated_span(api: DoccanoAPI, pid: int, eid: int) -> dict[str, Any]:
    """Return a span of an example that no relation uses (deleting it changes one span only)."""
    used = {r["from_id"] for r in api.list_relations(pid, eid)} | {
        r["to_id"] for r in api.list_relations(pid, eid)
    }
    return next(
        s for s in sorted(api.list_spans(pid, eid), key=lambda s: s["start_offset"]) if s["id"] not in used
    )


def test_edits_through_each_login_come_back_attributed_then_adjudicate_and_review(
    pushed_team: PushedTeam, doccano_api: DoccanoAPI, make_user: Any, tmp_path: Path
) -> None:
    x, y, (agreed_doc, deleted_doc, relabelled_doc, *_) = _pair_docs(pushed_team, doccano_api)
    # x deletes a span in one document and confirms it; y relabels a span in another; both
    # confirm the first document as it is.
    with pushed_team.login(x) as api:
        pid, ex = _example(api, deleted_doc)
        gone = _unrelated_span(api, pid, ex["id"])
        api.delete_span(pid, ex["id"], gone["id"])
        api.confirm_example(pid, ex["id"])
        api.confirm_example(pid, _example(api, agreed_doc)[1]["id"])
    with pushed_team.login(y) as api:
        pid, ex = _example(api, relabelled_doc)
        span = _unrelated_span(api, pid, ex["id"])
        types = {t["text"]: t["id"] for t in api.list_label_types(pid, "span")}
        new_label = "ORG" if types.get("ORG") != span["label"] else "PERSON"
        api.delete_span(pid, ex["id"], span["id"])
        api.create_span(
            pid, ex["id"], label_id=types[new_label], start=span["start_offset"], end=span["end_offset"]
        )
        api.confirm_example(pid, _example(api, agreed_doc)[1]["id"])
    per = tmp_path / "per.jsonl"
    pulled = invoke(
        ["pull", "--project", pushed_team.name, "--per-annotator", "--out", str(per)], pushed_team.env
    )
    assert pulled.exit_code == 0, pulled.output
    records = [r for _, r in read_records(per)]
    # One record per (document, annotator), each attributed to the person, not the admin.
    assert len(records) == 2 * len(pushed_team.tasks)
    assert {r.annotator for r in records} == set(pushed_team.annotators)
    mine = {(r.doc_id, r.annotator): r for r in records}
    task = pushed_team.tasks
    gone_key = (gone["start_offset"], gone["end_offset"])
    assert {s.key for s in mine[(deleted_doc, x)].entities} == {
        s.key for s in task[deleted_doc].entities if (s.start, s.end) != gone_key
    }
    assert {s.key for s in mine[(deleted_doc, y)].entities} == {s.key for s in task[deleted_doc].entities}
    moved = {s.key for s in mine[(relabelled_doc, y)].entities} - {
        s.key for s in task[relabelled_doc].entities
    }
    assert moved == {(span["start_offset"], span["end_offset"], new_label)}
    assert mine[(agreed_doc, x)].confirmed and mine[(agreed_doc, y)].confirmed
    assert mine[(deleted_doc, x)].confirmed and not mine[(deleted_doc, y)].confirmed

    # Progress: the confirmations show per annotator.
    status = invoke(["status", "--project", pushed_team.name, "--json"], pushed_team.env)
    assert status.exit_code == 0, status.output
    rows = {r["annotator"]: r for r in json.loads(status.stdout)}
    loads = loads_of(route(list(task), pushed_team.annotators, 2))
    assert {a: r["assigned"] for a, r in rows.items()} == dict(loads)
    assert rows[x]["confirmed"] == 2 and rows[y]["confirmed"] == 1 and rows[x]["left"] == loads[x] - 2
    table = invoke(["status", "--project", pushed_team.name], pushed_team.env)
    assert table.exit_code == 0 and x in table.stdout and "confirmed" in table.stdout

    # Agreement runs on the file; adjudication finds exactly the two edited documents.
    agreement = invoke(["agreement", str(per), "--format", "json"], pushed_team.env)
    assert agreement.exit_code == 0, agreement.output
    assert len(json.loads(agreement.stdout)["pairs"]) == 3
    gold, conflicts = tmp_path / "gold.jsonl", tmp_path / "conflicts.jsonl"
    reviewer = make_user()
    review_name = f"{pushed_team.name}-review"
    adj = invoke(
        adjudicate_args(
            per,
            gold,
            conflicts,
            "--review-project",
            review_name,
            "--reviewer",
            reviewer.username,
            "--recipe",
            str(RECIPE_PATH),
        ),
        pushed_team.env,
    )
    assert adj.exit_code == 0, adj.output
    n = len(task)
    assert f"documents agreed {n - 2}, in conflict 2; spans disputed 3, relations disputed 0" in adj.output
    assert sorted(json.loads(line)["doc_id"] for line in conflicts.read_text().splitlines()) == sorted(
        [deleted_doc, relabelled_doc]
    )
    gold_records = [r for _, r in read_records(gold)]
    assert len(gold_records) == n - 2 and {r.doc_id for r in gold_records}.isdisjoint(
        {deleted_doc, relabelled_doc}
    )
    agreed = next(r for r in gold_records if r.doc_id == agreed_doc)
    assert agreed.meta["adjudication"]["agreed_by"] == [x, y]

    try:
        settle = (relabelled_doc, (span["start_offset"], span["end_offset"], new_label))
        _review_and_resolve(
            pushed_team, reviewer, review_name, per, conflicts, deleted_doc, gone, settle, tmp_path
        )
    finally:
        doccano_api.delete_project(int(doccano_api.find_project(review_name)["id"]))


def _review_and_resolve(
    team: PushedTeam,
    reviewer: Any,
    review_name: str,
    per: Path,
    conflicts: Path,
    deleted_doc: str,
    gone: dict[str, Any],
    settle: tuple[str, tuple[int, int, str]],
    tmp_path: Path,
) -> None:
    """The reviewer sees the conflicts pre-filled with the agreed items and a comment each
    disputed item; settles them; the final gold has every document, none in conflict."""
    with DoccanoAPI(reviewer.settings).login() as api:
        [proj] = api.list_projects()
        pid = int(proj["id"])
        examples = {ex["meta"]["doc_id"]: ex for ex in api.list_examples(pid)}
        assert len(examples) == 2
        comments = [c["text"] for c in api.list_comments(pid)]
        assert len(comments) == 3 and all(c.startswith("disputed span ") for c in comments)
        ex = examples[deleted_doc]
        keys = {(s["start_offset"], s["end_offset"]) for s in api.list_spans(pid, ex["id"])}
        agreed_count = len(team.tasks[deleted_doc].entities) - 1
        assert len(keys) == agreed_count and (gone["start_offset"], gone["end_offset"]) not in keys
        # The reviewer settles for the deletion in one and for the new label in the other
        # (the agreed items are there already), and confirms both.
        doc, (start, end, label) = settle
        types = {t["text"]: t["id"] for t in api.list_label_types(pid, "span")}
        api.create_span(pid, examples[doc]["id"], label_id=types[label], start=start, end=end)
        for e in examples.values():
            api.confirm_example(pid, e["id"])
    reviewed = tmp_path / "reviewed.jsonl"
    pulled = invoke(["pull", "--project", review_name, "--out", str(reviewed)], team.env)
    assert pulled.exit_code == 0, pulled.output
    final = tmp_path / "final.jsonl"
    done = invoke(
        adjudicate_args(per, final, conflicts, "--resolved", str(reviewed)),
        team.env,
    )
    assert done.exit_code == 0, done.output
    records = [r for _, r in read_records(final)]
    assert sorted(r.doc_id for r in records) == sorted(team.tasks)
    settled = next(r for r in records if r.doc_id == deleted_doc)
    assert len(settled.entities) == len(team.tasks[deleted_doc].entities) - 1
    assert settled.meta["adjudication"]["strategy"] == "review"
    relabelled = next(r for r in records if r.doc_id == doc)
    expected = {s.key for s in team.tasks[doc].entities if (s.start, s.end) != (start, end)} | {
        (start, end, label)
    }
    assert {s.key for s in relabelled.entities} == expected
