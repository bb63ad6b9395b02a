"""A team in a real browser: a non-admin annotator logs in to Doccano's web UI (Chromium, driven
by Playwright), sees only their own project with the pre-annotations, corrects one and confirms
it; the team's per-annotator pull has that correction under their name.

Run with ``pytest -m browser``; see ``test_ui_browser.py`` for what it needs.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from team_helpers import delete_team
from test_ui_browser import (  # noqa: F401 (browser_page is a fixture)
    BRICS,
    ICON_CHECK_PREFIX,
    ICON_CLOSE_PREFIX,
    KREMLIN,
    PUTIN,
    RECIPE,
    AnnotationPage,
    browser_page,
    seed_task,
)
from typer.testing import CliRunner

from annotate.cli import app
from annotate.fileio import write_jsonl
from annotate.records.model import Record
from annotate.sync.options import PushOptions
from annotate.sync.routing import route
from annotate.sync.team import find_team
from annotate.sync.team_push import team_push

pytestmark = [pytest.mark.browser, pytest.mark.doccano, pytest.mark.slow]

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _tasks() -> list[Record]:
    """The seed article with its pre-annotations, then three more articles without any."""
    others = sorted(p for p in CORPUS.glob("centcom_*.txt"))[:3]
    return [seed_task()] + [Record(text=p.read_text(encoding="utf-8"), doc_id=p.stem) for p in others]


def test_a_non_admin_annotator_corrects_their_own_document_in_the_browser(
    tmp_path: Path,
    browser_page: Any,  # noqa: F811 (the fixture imported above)
    doccano_api: Any,
    doccano_env: dict[str, str],
    doccano_server: Any,
    make_user: Callable[..., Any],
) -> None:
    tasks = _tasks()
    users = [make_user(), make_user()]
    names = [u.username for u in users]
    routing = route([t.doc_id for t in tasks], names, 1)
    me = next(u for u in users if u.username in routing[tasks[0].doc_id])
    other = next(u for u in users if u is not me)
    mine = [t.doc_id for t in tasks if me.username in routing[t.doc_id]]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, [t.to_dict() for t in tasks])
    team = f"ui-team-{secrets.token_hex(3)}"
    team_push(
        doccano_api,
        path,
        project=team,
        recipe=RECIPE,
        annotators=names,
        overlap=1,
        options=PushOptions(create=True),
    )
    try:
        ui = AnnotationPage(browser_page, doccano_server.url)
        try:
            _correct_in_browser(ui, team, me, other, find_team(doccano_api, team), len(mine))
        except Exception:
            ui.screenshot("team-failure.png")
            raise
        per = tmp_path / "per.jsonl"
        result = CliRunner().invoke(
            app, ["pull", "--project", team, "--per-annotator", "--out", str(per)], env=doccano_env
        )
        assert result.exit_code == 0, result.output
        records = {
            (r["doc_id"], r["annotator"]): r
            for r in map(json.loads, per.read_text(encoding="utf-8").splitlines())
        }
        assert len(records) == len(tasks)
        seed = Record.from_dict(records[(tasks[0].doc_id, me.username)])
        assert seed.confirmed is True
        labels = {(s.start, s.end): s.label for s in seed.entities}
        assert labels[BRICS] == "ORG" and labels[PUTIN] == "PERSON"
        # Exactly one change: the relabelled span; everything else as pre-annotated.
        pre = {s.key for s in tasks[0].entities}
        assert {s.key for s in seed.entities} ^ pre == {(*BRICS, "GPE"), (*BRICS, "ORG")}
    finally:
        delete_team(doccano_api, team)


def _correct_in_browser(
    ui: AnnotationPage, team_name: str, me: Any, other: Any, team: Any, how_many: int
) -> None:
    page = ui.page
    ui.login(me.username, me.password)
    # The project list shows their project only.
    page.wait_for_selector("table tbody tr")
    listed = page.locator("table tbody").inner_text()
    assert f"{team_name} · {me.username}" in listed
    assert other.username not in listed and page.locator("table tbody tr").count() == 1
    pid = int(team.projects[me.username]["id"])
    page.goto(f"{ui.base_url}/projects/{pid}/dataset")
    page.wait_for_selector("table tbody tr")
    assert page.locator("table tbody tr").count() == how_many
    ui.open(pid)
    # The pre-annotations are in the annotator's own view.
    assert ui.span_label(PUTIN[0]).text_content().strip() == "PERSON"
    assert ui.span_label(KREMLIN[0]).text_content().strip() == "PERSON"
    assert ui.span_label(BRICS[0]).text_content().strip() == "GPE"
    assert ui.arcs("TALKS_WITH").count() >= 1
    ui.screenshot("team-before.png")
    # Relabel BRICS as ORG, then confirm the document.
    ui.span_label(BRICS[0]).click()
    with ui.expect_write("PATCH", "/spans/"):
        page.locator(".menuable__content__active .v-list-item").filter(
            has=page.get_by_text("ORG", exact=True)
        ).click()
    page.locator(".menuable__content__active").wait_for(state="hidden")
    page.wait_for_load_state("networkidle")
    with ui.expect_write("POST", "/states"):
        page.locator(f'button:has(path[d^="{ICON_CLOSE_PREFIX}"])').click()
    page.locator(f'button:has(path[d^="{ICON_CHECK_PREFIX}"])').wait_for()
    page.wait_for_load_state("networkidle")
    assert ui.span_label(BRICS[0]).text_content().strip() == "ORG"
    ui.screenshot("team-after.png")
