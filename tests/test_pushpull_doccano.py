"""push and pull against the real Doccano server (session fixture): round trips, idempotency, human work."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pushpull_helpers import (
    PUSHPULL,
    annotation_view,
    make_tasks,
    pushpull_recipe,
    re3d_tasks,
    read,
    write_tasks,
)
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import DoccanoAPI, connect
from annotate.errors import ProjectConflict
from annotate.formats.jsonl import read_records
from annotate.records.model import Record, Span
from annotate.sync.pull import PullOptions, pull
from annotate.sync.push import PushOptions, push

RECIPE = PUSHPULL / "recipe.toml"
UNICODE = PUSHPULL / "unicode-tasks.jsonl"


@pytest.fixture
def env(doccano_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**doccano_env, "ANNOTATE_HOME": str(tmp_path / "home"), "ANNOTATE_NO_PROGRESS": "1"}


@pytest.fixture
def project(make_project: Any) -> dict[str, Any]:
    """An empty project with the settings the test recipe needs (labels still missing)."""
    return make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=False)


def run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result


def doc_counts(api: DoccanoAPI, pid: int) -> Counter[str]:
    return Counter(str((ex.get("meta") or {}).get("doc_id")) for ex in api.list_examples(pid))


def test_cli_push_then_pull_round_trips_unicode_offsets_meta_and_crlf(
    env: dict[str, str], project: dict[str, Any], tmp_path: Path, doccano_api: DoccanoAPI
) -> None:
    pushed = run(
        env, "push", str(UNICODE), "--project", str(project["id"]), "--recipe", str(RECIPE), "--sync-labels"
    )
    assert pushed.exit_code == 0, pushed.output
    assert f"/projects/{project['id']}" in pushed.stdout
    assert "pushed 4" in pushed.output and "refused 0" in pushed.output
    out = tmp_path / "gold.jsonl"
    pulled = run(env, "pull", "--project", project["name"], "--out", str(out))
    assert pulled.exit_code == 0, pulled.output
    tasks = {r.doc_id: r for r in read(UNICODE)}
    gold = read(out)
    assert sorted(g.doc_id for g in gold) == sorted(tasks)
    for g in gold:
        assert annotation_view(g) == annotation_view(tasks[g.doc_id])
        assert "\r\n" in g.text or g.doc_id in ("u2", "u4")
        assert g.confirmed is False and isinstance(g.example_id, int)
        # A meta key named "id" is carried inside our meta: it did not replace the example id.
        assert g.meta["id"] == "not-the-example-id"
    # Label types came from the recipe, with its colours and shortcut keys.
    spans = {t["text"]: t for t in doccano_api.list_label_types(project["id"], "span")}
    assert spans["PERSON"]["background_color"] == "#1f77b4" and spans["PERSON"]["suffix_key"] == "p"
    assert {t["text"] for t in doccano_api.list_label_types(project["id"], "relation")} == {
        "LOCATED_IN",
        "MET",
    }


@pytest.mark.parametrize("method", ["rest", "export"])
def test_re3d_round_trip_keeps_overlapping_entities_and_all_relations(
    doccano_api: DoccanoAPI, make_project: Any, tmp_path: Path, method: str
) -> None:
    tasks_path, recipe = re3d_tasks(tmp_path)
    proj = make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=True)
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    report = push(doccano_api, tasks_path, project=proj["id"], recipe=recipe, options=options)
    tasks = {r.doc_id: r for r in read(tasks_path)}
    assert report.pushed == len(tasks) == 71 and not report.refused
    assert any(
        a.start < b.end and b.start < a.end
        for r in tasks.values()
        for a in r.entities
        for b in r.entities
        if a is not b
    ), "re3d must contain overlapping entities for this test to mean anything"
    out = tmp_path / "gold.jsonl"
    rep = pull(doccano_api, project=proj["id"], out=out, options=PullOptions(method=method))
    assert rep.method == method
    gold = read(out)
    assert len(gold) == 71
    for g in gold:
        assert annotation_view(g) == annotation_view(tasks[g.doc_id])


def test_pushing_three_times_leaves_one_example_per_document(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", make_tasks(30))
    reports = [
        push(
            doccano_api,
            tasks,
            project=project["id"],
            recipe=pushpull_recipe(),
            options=PushOptions(sync_labels=True, batch_size=7, ledger_dir=tmp_path),
        )
        for _ in range(3)
    ]
    assert [r.pushed for r in reports] == [30, 0, 0]
    assert [r.skipped_present for r in reports] == [0, 30, 30]
    counts = doc_counts(doccano_api, project["id"])
    assert len(counts) == 30 and set(counts.values()) == {1}


def test_duplicates_left_by_an_import_finished_after_listing_are_removed(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    """An import task the server completes after a killed push was listed leaves a second copy."""
    from annotate.formats.doccano import dumps_import_line

    records = make_tasks(12)
    tasks = write_tasks(tmp_path / "t.jsonl", records)
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    push(doccano_api, tasks, project=project["id"], recipe=pushpull_recipe(), options=options)
    ghost = tmp_path / "ghost.jsonl"
    ghost.write_text("".join(dumps_import_line(r) + "\n" for r in records[:5]), encoding="ascii")
    task_id = doccano_api.start_import(project["id"], [doccano_api.upload_file(ghost)])
    doccano_api.wait_task(task_id, timeout=60, what="ghost import")
    assert sum(doc_counts(doccano_api, project["id"]).values()) == 17

    options = PushOptions(ledger_dir=tmp_path)
    report = push(doccano_api, tasks, project=project["id"], recipe=pushpull_recipe(), options=options)
    assert report.pushed == 0 and report.duplicates_removed == 5
    counts = doc_counts(doccano_api, project["id"])
    assert len(counts) == 12 and set(counts.values()) == {1}


def test_human_edit_shows_in_pull_and_update_replaces_only_untouched_examples(
    doccano_api: DoccanoAPI, project: dict[str, Any], make_user: Any, tmp_path: Path
) -> None:
    recipe = pushpull_recipe()
    pid = project["id"]
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    push(doccano_api, UNICODE, project=pid, recipe=recipe, options=options)
    by_doc = {ex["meta"]["doc_id"]: ex for ex in doccano_api.list_examples(pid)}
    person = {t["text"]: t["id"] for t in doccano_api.list_label_types(pid, "span")}["PERSON"]

    # An annotator adds a span to u1 (which "They" refers to) and confirms u3, through the REST API.
    annotator = make_user(pid, "annotator")
    with connect(annotator.settings) as api2:
        u1 = by_doc["u1"]
        start = u1["text"].index("They")
        api2._request(
            "POST",
            f"projects/{pid}/examples/{u1['id']}/spans",
            json={"label": person, "start_offset": start, "end_offset": start + 4},
            expected=(201,),
        )
        api2._request(
            "POST", f"projects/{pid}/examples/{by_doc['u3']['id']}/states", json={}, expected=(201,)
        )

    out = tmp_path / "gold.jsonl"
    pull(doccano_api, project=pid, out=out)
    gold = {g.doc_id: g for g in read(out)}
    assert (start, start + 4, "PERSON") in {s.key for s in gold["u1"].entities}
    assert gold["u3"].confirmed is True and gold["u1"].confirmed is False

    per = tmp_path / "per.jsonl"
    pull(doccano_api, project=pid, out=per, options=PullOptions(per_annotator=True))
    mine = [g for g in read(per) if g.annotator == annotator.username]
    assert [(g.doc_id, [s.key for s in g.entities]) for g in mine if g.doc_id == "u1"] == [
        ("u1", [(start, start + 4, "PERSON")])
    ]
    assert {g.doc_id for g in mine if g.confirmed} == {"u3"}

    # A new model changes every document's pre-annotations; --update must leave u1 (edited) and
    # u3 (confirmed) alone and replace u2 and u4.
    changed = []
    for rec in read(UNICODE):
        ents = [Span(e.id, e.start, e.end, "ORG" if e.label == "GPE" else e.label) for e in rec.entities]
        if rec.doc_id == "u4":
            ents.append(Span(0, rec.text.index("text"), rec.text.index("text") + 4, "ORG"))
        changed.append(rec.with_annotations(ents, [r for r in rec.relations if r.label != "LOCATED_IN"]))
    new_tasks = write_tasks(tmp_path / "v2.jsonl", changed)
    options = PushOptions(update=True, dry_run=True, ledger_dir=tmp_path)
    dry = push(doccano_api, new_tasks, project=pid, recipe=recipe, options=options)
    assert (dry.updated, dry.skipped_human) == (2, 2)
    options = PushOptions(update=True, ledger_dir=tmp_path)
    report = push(doccano_api, new_tasks, project=pid, recipe=recipe, options=options)
    assert (report.updated, report.skipped_human, report.pushed) == (2, 2, 0)

    after = tmp_path / "after.jsonl"
    pull(doccano_api, project=pid, out=after)
    now = {g.doc_id: g for g in read(after)}
    v2 = {r.doc_id: r for r in changed}
    assert annotation_view(now["u2"]) == annotation_view(v2["u2"])
    assert annotation_view(now["u4"]) == annotation_view(v2["u4"])
    assert now["u1"].entities == gold["u1"].entities and now["u1"].example_id == gold["u1"].example_id
    assert now["u3"].confirmed is True and now["u3"].entities == gold["u3"].entities
    assert set(doc_counts(doccano_api, pid).values()) == {1}


def test_dry_run_writes_nothing_not_even_the_project(env: dict[str, str], doccano_api: DoccanoAPI) -> None:
    name = "dry-run-never-created"
    result = run(
        env, "push", str(UNICODE), "--project", name, "--recipe", str(RECIPE), "--create", "--dry-run"
    )
    assert result.exit_code == 0, result.output
    assert "would push 4" in result.output
    assert all(p["name"] != name for p in doccano_api.list_projects())


def test_existing_project_that_conflicts_with_the_recipe_is_reported_and_unchanged(
    doccano_api: DoccanoAPI, make_project: Any, env: dict[str, str]
) -> None:
    proj = make_project(use_relation=True, collaborative_annotation=False, allow_overlapping=True)
    result = run(
        env, "push", str(UNICODE), "--project", str(proj["id"]), "--recipe", str(RECIPE), "--sync-labels"
    )
    assert result.exit_code == 2
    assert "E250" in result.output and "collaborative_annotation" in result.output
    assert "allow_overlapping" in result.output
    assert doccano_api.list_examples(proj["id"]) == []
    assert doccano_api.list_label_types(proj["id"], "span") == []


def test_missing_labels_need_sync_labels_and_existing_names_are_never_created_twice(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    pid = project["id"]
    doccano_api.create_label_type(
        pid, "span", {"text": "PERSON", "suffix_key": "p", "background_color": "#1f77b4"}
    )
    options = PushOptions(ledger_dir=tmp_path)
    with pytest.raises(ProjectConflict, match="missing label types GPE, ORG"):
        push(doccano_api, UNICODE, project=pid, recipe=pushpull_recipe(), options=options)
    assert doccano_api.list_examples(pid) == []
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    report = push(doccano_api, UNICODE, project=pid, recipe=pushpull_recipe(), options=options)
    assert "PERSON" not in report.labels_added and report.pushed == 4
    names = Counter(t["text"] for t in doccano_api.list_label_types(pid, "span"))
    assert names == Counter({"PERSON": 1, "GPE": 1, "ORG": 1})


def test_invalid_tasks_are_refused_with_file_and_line_and_nothing_is_uploaded(
    env: dict[str, str], project: dict[str, Any], tmp_path: Path, doccano_api: DoccanoAPI
) -> None:
    lines = UNICODE.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[1])
    bad["entities"][0]["end_offset"] = len(bad["text"]) + 5  # Doccano would accept this silently
    lines[1] = json.dumps(bad, ensure_ascii=False)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["push", str(tasks), "--project", str(project["id"]), "--recipe", str(RECIPE), "--sync-labels"]
    result = run(env, *args)
    assert result.exit_code == 1
    assert f"{tasks}:2" in result.output
    assert doccano_api.list_examples(project["id"]) == []
    result = run(env, *args, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "pushed 3" in result.output and "refused 1" in result.output
    assert sorted(doc_counts(doccano_api, project["id"])) == ["u1", "u3", "u4"]


def test_pull_refuses_to_overwrite_without_force_and_writes_a_diff_since_a_snapshot(
    env: dict[str, str], project: dict[str, Any], tmp_path: Path, doccano_api: DoccanoAPI
) -> None:
    pid = project["id"]
    run(env, "push", str(UNICODE), "--project", str(pid), "--recipe", str(RECIPE), "--sync-labels")
    first = tmp_path / "gold-1.jsonl"
    assert run(env, "pull", "--project", str(pid), "--out", str(first)).exit_code == 0
    before = first.read_bytes()
    again = run(env, "pull", "--project", str(pid), "--out", str(first))
    assert again.exit_code == 2 and "E220" in again.output
    assert first.read_bytes() == before

    ex = {e["meta"]["doc_id"]: e for e in doccano_api.list_examples(pid)}["u2"]
    spans = doccano_api.list_spans(pid, ex["id"])
    rels = doccano_api.list_relations(pid, ex["id"])
    for r in rels:
        doccano_api._request(
            "DELETE", f"projects/{pid}/examples/{ex['id']}/relations/{r['id']}", expected=(204,)
        )
    org = {t["text"]: t["id"] for t in doccano_api.list_label_types(pid, "span")}["ORG"]
    target = next(s for s in spans if s["start_offset"] == ex["text"].index("São Paulo"))
    doccano_api._request(
        "PATCH",
        f"projects/{pid}/examples/{ex['id']}/spans/{target['id']}",
        json={"label": org},
        expected=(200,),
    )
    doccano_api._request("POST", f"projects/{pid}/examples/{ex['id']}/states", json={}, expected=(201,))

    second = tmp_path / "gold-2.jsonl"
    result = run(env, "pull", "--project", str(pid), "--out", str(second), "--since", str(first))
    assert result.exit_code == 0, result.output
    diff = [
        json.loads(line) for line in (tmp_path / "gold-2.diff.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [d["doc_id"] for d in diff] == ["u2"]
    s = ex["text"].index("São Paulo")
    assert diff[0]["spans"] == {"relabelled": [[s, s + len("São Paulo"), "GPE", "ORG"]]}
    assert len(diff[0]["relations"]["removed"]) == 1
    assert diff[0]["confirmed"] == {"old": False, "new": True}
    assert first.read_bytes() == before
    assert len(list(read_records(second))) == 4


def test_pull_fails_without_output_when_a_text_no_longer_matches_its_hash(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    pid = project["id"]
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    push(doccano_api, UNICODE, project=pid, recipe=pushpull_recipe(), options=options)
    ex = doccano_api.list_examples(pid)[0]
    doccano_api._request("PATCH", f"projects/{pid}/examples/{ex['id']}", json={"text": ex["text"] + "!"})
    out = tmp_path / "gold.jsonl"
    from annotate.errors import HashMismatch

    with pytest.raises(HashMismatch, match=ex["meta"]["doc_id"]):
        pull(doccano_api, project=pid, out=out)
    assert not out.exists() and list(tmp_path.glob(".gold.jsonl*")) == []


def test_only_approved_pulls_confirmed_examples(
    doccano_api: DoccanoAPI, project: dict[str, Any], tmp_path: Path
) -> None:
    pid = project["id"]
    options = PushOptions(sync_labels=True, ledger_dir=tmp_path)
    push(doccano_api, UNICODE, project=pid, recipe=pushpull_recipe(), options=options)
    ex = {e["meta"]["doc_id"]: e for e in doccano_api.list_examples(pid)}["u4"]
    doccano_api._request("POST", f"projects/{pid}/examples/{ex['id']}/states", json={}, expected=(201,))
    for method in ("rest", "export"):
        out = tmp_path / f"approved-{method}.jsonl"
        pull(doccano_api, project=pid, out=out, options=PullOptions(only_approved=True, method=method))
        assert [(g.doc_id, g.confirmed) for g in read(out)] == [("u4", True)]


def test_dry_run_on_an_existing_project_adds_no_labels_and_no_examples(
    env: dict[str, str], project: dict[str, Any], doccano_api: DoccanoAPI
) -> None:
    args = ["push", str(UNICODE), "--project", str(project["id"]), "--recipe", str(RECIPE), "--sync-labels"]
    result = run(env, *args, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would push 4" in result.output and "would add label types: PERSON" in result.output
    assert doccano_api.list_examples(project["id"]) == []
    assert doccano_api.list_label_types(project["id"], "span") == []


def test_push_reads_stdin_and_pull_writes_stdout(
    env: dict[str, str], project: dict[str, Any], doccano_api: DoccanoAPI
) -> None:
    runner = CliRunner()
    args = ["push", "-", "--project", str(project["id"]), "--recipe", str(RECIPE), "--sync-labels"]
    pushed = runner.invoke(
        app, args, env=env, input=UNICODE.read_text(encoding="utf-8"), catch_exceptions=False
    )
    assert pushed.exit_code == 0, pushed.output
    pulled = runner.invoke(app, ["pull", "--project", str(project["id"]), "--out", "-"], env=env)
    assert pulled.exit_code == 0, pulled.output
    gold = [Record.from_dict(json.loads(line)) for line in pulled.stdout.splitlines()]
    tasks = {r.doc_id: r for r in read(UNICODE)}
    assert {g.doc_id: annotation_view(g) for g in gold} == {d: annotation_view(r) for d, r in tasks.items()}


def test_invalid_tasks_on_stdin_are_refused_as_stdin_lines(
    env: dict[str, str], project: dict[str, Any], doccano_api: DoccanoAPI
) -> None:
    lines = UNICODE.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[2])
    bad["relations"].append({"id": 99, "from_id": 0, "to_id": 77, "type": "MET"})  # dangles
    lines[2] = json.dumps(bad, ensure_ascii=False)
    args = ["push", "-", "--project", str(project["id"]), "--recipe", str(RECIPE), "--sync-labels"]
    result = CliRunner().invoke(app, args, env=env, input="\n".join(lines) + "\n")
    assert result.exit_code == 1, result.output
    assert "<stdin>:3" in result.output and "annotate-push-" not in result.output
    assert doccano_api.list_examples(project["id"]) == []


def test_pull_of_a_non_collaborative_project_keeps_each_annotators_work_apart(
    doccano_api: DoccanoAPI, make_project: Any, make_user: Any, tmp_path: Path
) -> None:
    """Doccano's REST lists show only the caller's own spans there, so pull must use the export."""
    from annotate.formats.doccano import dumps_import_line

    proj = make_project(use_relation=True, collaborative_annotation=False, allow_overlapping=False)
    pid = proj["id"]
    for label in ("PERSON", "GPE", "ORG"):
        doccano_api.create_label_type(pid, "span", {"text": label})
    for rel in ("LOCATED_IN", "MET"):
        doccano_api.create_label_type(pid, "relation", {"text": rel})
    tasks = tmp_path / "import.jsonl"
    tasks.write_text("".join(dumps_import_line(r) + "\n" for r in read(UNICODE)), encoding="ascii")
    doccano_api.wait_task(
        doccano_api.start_import(pid, [doccano_api.upload_file(tasks)]), timeout=60, what="import"
    )
    ex = {e["meta"]["doc_id"]: e for e in doccano_api.list_examples(pid)}["u4"]
    org = {t["text"]: t["id"] for t in doccano_api.list_label_types(pid, "span")}["ORG"]
    alice, bob = make_user(pid, "annotator"), make_user(pid, "annotator")
    marks = {alice.username: (0, 2), bob.username: (3, 11)}
    for user in (alice, bob):
        s, e = marks[user.username]
        with connect(user.settings) as api:
            api._request(
                "POST",
                f"projects/{pid}/examples/{ex['id']}/spans",
                json={"label": org, "start_offset": s, "end_offset": e},
                expected=(201,),
            )
            if user is bob:
                api._request("POST", f"projects/{pid}/examples/{ex['id']}/states", json={}, expected=(201,))

    per = tmp_path / "per.jsonl"
    rep = pull(doccano_api, project=pid, out=per, options=PullOptions(per_annotator=True))
    assert rep.method == "export"
    u4 = {g.annotator: g for g in read(per) if g.doc_id == "u4"}
    assert set(u4) == {alice.username, bob.username}
    assert [s.key for s in u4[alice.username].entities] == [(0, 2, "ORG")]
    assert [s.key for s in u4[bob.username].entities] == [(3, 11, "ORG")]
    assert (u4[alice.username].confirmed, u4[bob.username].confirmed) == (False, True)
    admin = [g for g in read(per) if g.doc_id == "u1"]
    assert [g.annotator for g in admin] == [doccano_api.settings.username]

    merged = tmp_path / "merged.jsonl"
    pull(doccano_api, project=pid, out=merged, options=PullOptions(method="rest"))
    gold = {g.doc_id: g for g in read(merged)}
    assert [s.key for s in gold["u4"].entities] == [(0, 2, "ORG"), (3, 11, "ORG")] and gold["u4"].confirmed
    assert annotation_view(gold["u1"]) == annotation_view({r.doc_id: r for r in read(UNICODE)}["u1"])

    approved = tmp_path / "approved.jsonl"
    pull(doccano_api, project=pid, out=approved, options=PullOptions(per_annotator=True, only_approved=True))
    assert [(g.doc_id, g.annotator) for g in read(approved)] == [("u4", bob.username)]
