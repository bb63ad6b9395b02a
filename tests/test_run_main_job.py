"""`annotate run`: the main job, end to end against the real Doccano, and its refusals."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from annotate.cli import app
from annotate.doccano import DoccanoAPI
from annotate.errors import EXIT_USAGE, NotFound
from annotate.fileio import iter_jsonl
from annotate.run import CORPUS_GLOB, Hooks, Login, Outputs, default_project_name, run

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
RECIPE = REPO / "recipes" / "news.toml"
SEED = "000_713c0c7ced567231.txt"
# The seed plus one release from each public-domain source keeps the job under a few seconds.
SAMPLE = [
    SEED,
    "us-state-department_340238F0CEF0581CBBA9106FFB2EA97C.txt",
    "centcom_28829CF80D445874061C5948E6A3751D.txt",
]


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A corpus folder with three real documents and a README that is not a document."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in SAMPLE:
        shutil.copyfile(CORPUS / name, folder / name)
    (folder / "README.md").write_text("# Sources\n\nNot a document.\n", encoding="utf-8")
    return folder


def test_bundled_corpus_has_the_seed_and_at_least_twenty_more_documents() -> None:
    docs = sorted(p.name for p in CORPUS.glob(CORPUS_GLOB))
    assert SEED in docs
    assert len(docs) >= 21
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for name in docs:
        assert f"`{name}`" in readme, f"{name} has no source line in corpus/README.md"


def test_corpus_documents_are_the_exact_texts_of_their_sources() -> None:
    sources = {}
    for source in ("us-state-department", "centcom"):
        for _, row in iter_jsonl(REPO / "tests" / "data" / "re3d" / f"{source}.jsonl"):
            sources[f"{source}_{row['doc_id']}.txt"] = row["text"]
    checked = 0
    for path in CORPUS.glob(CORPUS_GLOB):
        if path.name == SEED:
            continue
        assert path.name in sources, f"{path.name} comes from no known source"
        assert path.read_bytes() == sources[path.name].encode("utf-8")
        checked += 1
    assert checked >= 20


def test_run_no_wait_goes_from_corpus_to_exports_and_report(
    small_corpus: Path, tmp_path: Path, doccano_env: dict[str, str], doccano_api: Any
) -> None:
    out = tmp_path / "out"
    project = f"run-{secrets.token_hex(3)}"
    args = ["run", str(small_corpus), "--recipe", str(RECIPE), "--project", project, "--out", str(out)]
    try:
        result = CliRunner().invoke(app, [*args, "--no-wait"], env=doccano_env)
        assert result.exit_code == 0, result.output
        made = doccano_api.find_project(project)
        outputs = Outputs(out)

        # It says where to correct and how to log in, never the password itself.
        assert f"{doccano_env['DOCCANO_URL']}/projects/{made['id']}" in result.stdout
        assert f"log in as {doccano_env['DOCCANO_USERNAME']}" in result.output
        assert doccano_env["DOCCANO_PASSWORD"] not in result.output
        # ... and where each output went.
        for path in outputs.all():
            assert str(path) in result.stdout
            assert path.exists(), path

        tasks = [row for _, row in iter_jsonl(outputs.tasks)]
        gold = [row for _, row in iter_jsonl(outputs.gold)]
        # Three documents: the README is not one.
        assert sorted(t["doc_id"] for t in tasks) == sorted(g["doc_id"] for g in gold)
        assert len(tasks) == 3
        # Nobody corrected anything, so the gold is the pre-annotation, span for span.
        by_id = {g["doc_id"]: g for g in gold}
        for t in tasks:
            keys = {(e["start_offset"], e["end_offset"], e["label"]) for e in t["entities"]}
            assert {
                (e["start_offset"], e["end_offset"], e["label"]) for e in by_id[t["doc_id"]]["entities"]
            } == keys
        assert sum(len(t["entities"]) for t in tasks) > 0

        validation = json.loads(outputs.validation.read_text(encoding="utf-8"))
        assert validation["records"] == 3 and validation["errors"] == 0
        for fmt in ("spacy", "conll", "brat"):
            assert (outputs.export_dir / fmt).is_dir(), fmt
        assert (outputs.export_dir / "manifest.json").exists()
        effort = json.loads(outputs.evaluation.read_text(encoding="utf-8"))["correction_effort"]["spans"]
        assert effort["edits"] == 0 and effort["kept"] == sum(len(t["entities"]) for t in tasks)
        assert outputs.report_html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")

        # A second run refuses to replace the outputs; with --force it reuses the project
        # and pushes nothing twice.
        again = CliRunner().invoke(app, [*args, "--no-wait"], env=doccano_env)
        assert again.exit_code == EXIT_USAGE
        assert "--force" in again.output
        forced = CliRunner().invoke(app, [*args, "--no-wait", "--force"], env=doccano_env)
        assert forced.exit_code == 0, forced.output
        assert "pushed 0 new documents, 3 were already there" in forced.output
        assert len(doccano_api.list_examples(int(made["id"]))) == 3
    finally:
        with contextlib.suppress(NotFound):
            doccano_api.delete_project(int(doccano_api.find_project(project)["id"]))


def test_run_waits_for_the_person_and_pulls_what_they_did(
    small_corpus: Path, tmp_path: Path, doccano_api: Any, doccano_settings: Any, make_user: Any
) -> None:
    project = f"run-wait-{secrets.token_hex(3)}"
    events: list[str] = []
    done: dict[str, Any] = {}

    def ready(login: Login) -> None:
        events.append("ready")
        done["project_url"] = login.project_url

    def person_corrects(login: Login) -> None:
        """What an annotator does while `annotate run` waits: delete a span, mark the doc done."""
        events.append("wait")
        pid = int(doccano_api.find_project(project)["id"])
        annotator = make_user(pid, role="annotator")
        example = next(e for e in doccano_api.list_examples(pid) if e["text"].startswith("Putin admits"))
        span = doccano_api.list_spans(pid, example["id"])[0]
        base = f"{login.url}/v1/projects/{pid}/examples/{example['id']}"
        # The annotator's own session, as the web UI would use it.
        with DoccanoAPI(annotator.settings) as api:
            api.login()
            headers = {"Authorization": f"Token {api.token}"}
            requests.delete(f"{base}/spans/{span['id']}", headers=headers, timeout=10).raise_for_status()
            requests.post(f"{base}/states", headers=headers, timeout=10).raise_for_status()
        done["span"] = (span["start_offset"], span["end_offset"])

    try:
        report = run(
            small_corpus,
            recipe_path=RECIPE,
            project=project,
            out_dir=tmp_path / "out",
            settings=doccano_settings,
            hooks=Hooks(ready=ready, wait=person_corrects),
        )
    finally:
        with contextlib.suppress(NotFound):
            doccano_api.delete_project(int(doccano_api.find_project(project)["id"]))

    assert events == ["ready", "wait"]
    assert report.waited and done["project_url"].endswith(f"/projects/{report.push.project_id}")
    gold = {g["doc_id"]: g for _, g in iter_jsonl(report.outputs.gold)}
    seed = next(g for g in gold.values() if g["text"].startswith("Putin admits"))
    assert seed["confirmed"] is True
    assert done["span"] not in {(e["start_offset"], e["end_offset"]) for e in seed["entities"]}
    assert report.pull.confirmed == 1
    assert report.evaluation.span_effort.deleted == 1
    assert report.evaluation.span_effort.added == 0


def test_run_refuses_existing_outputs_before_touching_any_server(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "gold.jsonl").write_text("precious\n", encoding="utf-8")
    # Nothing listens on port 9: the refusal must come before any connection.
    env = {"DOCCANO_URL": "http://127.0.0.1:9", "DOCCANO_USERNAME": "u", "DOCCANO_PASSWORD": "p"}
    result = CliRunner().invoke(
        app, ["run", str(small_corpus), "--recipe", str(RECIPE), "--out", str(out)], env=env
    )
    assert result.exit_code == EXIT_USAGE, result.output
    assert "gold.jsonl exists" in result.output
    assert (out / "gold.jsonl").read_text(encoding="utf-8") == "precious\n"
    assert not (out / "tasks.jsonl").exists()


def test_run_refuses_a_folder_without_text_documents(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("not a .txt document\n", encoding="utf-8")
    env = {"DOCCANO_URL": "http://127.0.0.1:9", "DOCCANO_USERNAME": "u", "DOCCANO_PASSWORD": "p"}
    result = CliRunner().invoke(app, ["run", str(empty), "--out", str(tmp_path / "out")], env=env)
    assert result.exit_code == EXIT_USAGE
    assert "no .txt documents" in result.output


def test_default_project_name_names_recipe_and_corpus_folder(tmp_path: Path) -> None:
    assert default_project_name(tmp_path / "corpus", "news") == "news-corpus"
