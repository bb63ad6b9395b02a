"""A routed push against a real Doccano: re-push is idempotent, later documents move none of the
earlier ones, and bad input (unknown annotator, overlap larger than the team, a login or a
member without the right role, a conflicts file of another project) changes nothing."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pushpull_helpers import PUSHPULL, make_tasks, pushpull_recipe, write_tasks
from team_helpers import adjudicate_args, delete_team
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import DoccanoAPI
from annotate.errors import TeamError
from annotate.sync.options import PushOptions
from annotate.sync.routing import loads_of
from annotate.sync.team import find_team
from annotate.sync.team_push import TeamPushReport, team_push

pytestmark = [pytest.mark.doccano]

RECIPE = PUSHPULL / "recipe.toml"


@pytest.fixture
def team_name(doccano_api: DoccanoAPI) -> Iterator[str]:
    """A fresh team name; every project of that team is deleted after the test."""
    name = f"tp-{secrets.token_hex(3)}"
    yield name
    delete_team(doccano_api, name)


def _holdings(api: DoccanoAPI, team: str) -> dict[str, set[str]]:
    found = find_team(api, team)
    assert found is not None
    return {
        a: {ex["meta"]["doc_id"] for ex in api.list_examples(int(p["id"]))} for a, p in found.projects.items()
    }


def _team_push(
    api: DoccanoAPI, tasks: Path, team: str, annotators: list[str], overlap: int, **options: Any
) -> TeamPushReport:
    """Push ``tasks`` to ``team`` with the pushpull recipe and these push options."""
    return team_push(
        api,
        tasks,
        project=team,
        recipe=pushpull_recipe(),
        annotators=annotators,
        overlap=overlap,
        options=PushOptions(**options),
    )


def test_repush_is_idempotent_and_more_documents_move_none_of_the_earlier(
    doccano_api: DoccanoAPI, make_user: Callable[..., Any], team_name: str, tmp_path: Path
) -> None:
    names = sorted(make_user().username for _ in range(3))
    first = make_tasks(12, seed=1)
    path = write_tasks(tmp_path / "first.jsonl", first)
    rep = _team_push(doccano_api, path, team_name, names, 2, create=True)
    assert rep.pushed == 24 and sorted(rep.created) == names
    before = _holdings(doccano_api, team_name)
    again = _team_push(doccano_api, path, team_name, names, 2)
    assert again.pushed == 0 and again.skipped_present == 24 and not again.created
    assert _holdings(doccano_api, team_name) == before
    more = write_tasks(tmp_path / "more.jsonl", first + make_tasks(9, seed=2, prefix="late"))
    later = _team_push(doccano_api, more, team_name, names, 2)
    assert later.pushed == 18 and later.skipped_present == 24
    after = _holdings(doccano_api, team_name)
    for a in names:
        assert before[a] <= after[a]
        assert {d for d in after[a] if d.startswith("doc-")} == before[a]
    docs: dict[str, list[str]] = {}
    for a, held in after.items():
        for d in held:
            docs.setdefault(d, []).append(a)
    assert len(docs) == 21 and all(len(v) == 2 for v in docs.values())
    loads = loads_of(docs)
    assert max(loads.values()) - min(loads.values()) <= 1


def _team_args(tasks: Path, team: str, annotators: str, overlap: int) -> list[str]:
    return [
        "push",
        str(tasks),
        "--project",
        team,
        "--recipe",
        str(RECIPE),
        "--create",
        "--annotators",
        annotators,
        "--overlap",
        str(overlap),
    ]


def test_an_unknown_annotator_or_an_overlap_larger_than_the_team_changes_nothing(
    doccano_api: DoccanoAPI,
    doccano_env: dict[str, str],
    make_user: Callable[..., Any],
    team_name: str,
    tmp_path: Path,
) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", make_tasks(3))
    alice = make_user().username
    runner = CliRunner()
    unknown = runner.invoke(
        app, _team_args(tasks, team_name, f"{alice},nobody-{secrets.token_hex(3)}", 1), env=doccano_env
    )
    assert unknown.exit_code == 1 and "unknown annotator" in unknown.output
    too_many = runner.invoke(app, _team_args(tasks, team_name, alice, 2), env=doccano_env)
    assert too_many.exit_code == 1 and "--overlap 2 does not fit a team of 1" in too_many.output
    assert find_team(doccano_api, team_name) is None


def test_a_login_or_a_member_without_the_right_role_is_refused_and_nothing_changes(
    doccano_api: DoccanoAPI,
    doccano_server: Any,
    make_user: Callable[..., Any],
    team_name: str,
    tmp_path: Path,
) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", make_tasks(4))
    alice, bob = make_user(), make_user()
    runner = CliRunner()
    as_annotator = {
        "DOCCANO_URL": doccano_server.url,
        "DOCCANO_USERNAME": alice.username,
        "DOCCANO_PASSWORD": alice.password,
    }
    refused = runner.invoke(
        app, _team_args(tasks, team_name, f"{alice.username},{bob.username}", 1), env=as_annotator
    )
    assert refused.exit_code == 1 and "is not an admin" in refused.output
    assert find_team(doccano_api, team_name) is None
    pw_file = tmp_path / "pw.json"
    new = f"nobody-{secrets.token_hex(3)}"
    no_users = runner.invoke(app, ["users", "add", new, "--passwords-out", str(pw_file)], env=as_annotator)
    assert no_users.exit_code == 1 and "is not an admin" in no_users.output
    assert not pw_file.exists() and new not in {u["username"] for u in doccano_api.list_users()}
    # A team whose member project gives its annotator another role: refused before any upload.
    _team_push(doccano_api, tasks, team_name, [alice.username, bob.username], 1, create=True)
    team = find_team(doccano_api, team_name)
    assert team is not None
    pid = int(team.projects[bob.username]["id"])
    member = next(m for m in doccano_api.list_members(pid) if m["username"] == bob.username)
    doccano_api.set_member_role(pid, member, "annotation_approver")
    counts = {a: doccano_api.count_examples(int(p["id"])) for a, p in team.projects.items()}
    more = write_tasks(tmp_path / "more.jsonl", make_tasks(4) + make_tasks(4, prefix="late"))
    with pytest.raises(TeamError, match="is annotation_approver") as info:
        _team_push(doccano_api, more, team_name, [alice.username, bob.username], 1)
    assert info.value.exit_code == 1
    assert {a: doccano_api.count_examples(int(p["id"])) for a, p in team.projects.items()} == counts


def test_a_reviewer_with_the_annotator_role_is_refused(
    doccano_api: DoccanoAPI,
    doccano_env: dict[str, str],
    make_project: Callable[..., Any],
    make_user: Callable[..., Any],
    tmp_path: Path,
) -> None:
    from annotate.fileio import write_jsonl
    from annotate.records.model import Record, Span

    text = "Putin met Kim."
    per = tmp_path / "per.jsonl"
    write_jsonl(
        per,
        [
            Record(
                text=text, doc_id="d1", entities=[Span(0, 0, 5, "PERSON")], annotator="a", confirmed=True
            ).to_dict(),
            Record(text=text, doc_id="d1", annotator="b", confirmed=True).to_dict(),
        ],
    )
    proj = make_project(use_relation=True, collaborative_annotation=True)
    reviewer = make_user(int(proj["id"]), role="annotator")
    gold, conflicts = tmp_path / "gold.jsonl", tmp_path / "c.jsonl"
    result = CliRunner().invoke(
        app,
        adjudicate_args(
            per,
            gold,
            conflicts,
            "--review-project",
            str(proj["name"]),
            "--reviewer",
            reviewer.username,
            "--recipe",
            str(RECIPE),
        ),
        env=doccano_env,
    )
    assert result.exit_code == 1 and "a reviewer must be" in result.output
    assert not gold.exists() and not conflicts.exists()
    assert doccano_api.count_examples(int(proj["id"])) == 0


def test_a_dry_run_routes_and_counts_but_makes_nothing(
    doccano_api: DoccanoAPI, make_user: Callable[..., Any], team_name: str, tmp_path: Path
) -> None:
    names = sorted(make_user().username for _ in range(2))
    path = write_tasks(tmp_path / "t.jsonl", make_tasks(5))
    rep = _team_push(doccano_api, path, team_name, names, 1, create=True, dry_run=True)
    assert rep.dry_run and rep.pushed == 5 and sorted(rep.routed.values()) == [2, 3]
    assert find_team(doccano_api, team_name) is None
