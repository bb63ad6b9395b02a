"""The human step, proven in a real browser: an annotator corrects pre-annotations in Doccano's
web UI (Chromium, driven by Playwright) and `annotate pull` brings back exactly those corrections.

Run only this test with ``pytest -m browser``; leave it out with ``-m "not browser"``. It needs
Debian's ``chromium`` (Playwright's own browser download is not used); set ``ANNOTATE_CHROMIUM``
to point at another Chromium binary. Screenshots go to ``test-artifacts/ui-browser/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.fileio import write_jsonl
from annotate.recipe import load_recipe
from annotate.records.model import Record, Relation, Span
from annotate.sync.push import PushOptions, push

pytestmark = [pytest.mark.browser, pytest.mark.doccano, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "corpus" / "000_713c0c7ced567231.txt"
ARTIFACTS = REPO / "test-artifacts" / "ui-browser"
# The flags that make Debian's Chromium run headless in a container without a GPU or sandbox.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Material Design icon paths of the review button: "not checked" (a cross) and "checked" (a tick).
ICON_CLOSE_PREFIX = "M19,6.41L17.59,5L12,10.59L6.41,5"
ICON_CHECK_PREFIX = "M21,7L9,19L3.5,13.5"
TIMEOUT_MS = 20_000

# Screen box of the character at a text offset. v-annotator draws each visual line as an <svg>
# whose <text id="start:end"> carries the line's character offsets, so an offset maps to a glyph.
JS_CHAR_BOX = """(offset) => {
  for (const t of document.querySelectorAll('svg text[id]')) {
    const [s, e] = t.id.split(':').map(Number);
    if (offset >= s && offset < e) {
      const r = t.getExtentOfChar(offset - s); const m = t.getScreenCTM();
      return {x: r.x * m.a + m.e, y: r.y * m.d + m.f, w: r.width * m.a, h: r.height * m.d};
    }
  }
  return null;
}"""
# Index (among all `svg line`) of the underline of the span that starts at a text offset: the
# underline is a <line> beside the line's <text>, starting at the x of the span's first glyph.
JS_SPAN_LINE = """(offset) => {
  const all = [...document.querySelectorAll('svg line')];
  for (const t of document.querySelectorAll('svg text[id]')) {
    const [s, e] = t.id.split(':').map(Number);
    if (offset >= s && offset < e) {
      const x = t.getExtentOfChar(offset - s).x;
      let best = -1, dist = 1e9;
      t.parentNode.querySelectorAll('line').forEach((l) => {
        const d = Math.abs(parseFloat(l.getAttribute('x1')) - x);
        if (d < dist) { dist = d; best = all.indexOf(l); }
      });
      return dist < 6 ? best : -1;
    }
  }
  return -1;
}"""


def _chromium() -> str:
    """Return the Chromium binary to drive; fail (not skip) when there is none."""
    path = os.environ.get("ANNOTATE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "no Chromium: install Debian's package (apt-get install -y chromium) or set ANNOTATE_CHROMIUM"
        )
    return path


# --- the seed article and its pre-annotations ------------------------------------------------------

TEXT = SEED.read_text(encoding="utf-8")


def at(surface: str, after: str = "") -> tuple[int, int]:
    """Return the offsets of the first ``surface`` that follows the first ``after`` in the seed."""
    start = TEXT.index(surface, TEXT.index(after) if after else 0)
    return start, start + len(surface)


MODEL = "model:en_core_web_sm"
PUTIN = at("Vladimir Putin")
KIM = at("Kim Jong-un", "Vladimir Putin")
RUSSIA = at("Russia", "summit in ")
BRICS = at("BRICS", "disclosure follows the ")
KREMLIN = at("Kremlin")
MOSCOW = at("Moscow")

# What a pre-annotator plausibly produced: mostly right, with one wrong label (BRICS as GPE), one
# wrong span (the Kremlin as a PERSON) and one missed entity (Moscow) and relation (Putin leads Russia).
PRE_SPANS = [
    (*at("Putin"), "PERSON"),
    (*at("Kim Jong-un"), "PERSON"),
    (*at("Russian"), "NORP"),
    (*at("North Korean", "Russian"), "NORP"),
    (*at("Ukraine"), "GPE"),
    (*PUTIN, "PERSON"),
    (*KIM, "PERSON"),
    (*BRICS, "GPE"),
    (*RUSSIA, "GPE"),
    (*KREMLIN, "PERSON"),
]
PRE_RELATIONS = [(PUTIN, KIM, "TALKS_WITH")]

# The default recipe: its labels, shortcut keys and relation types are what annotators get.
RECIPE = load_recipe(REPO / "recipes" / "news.toml")


def seed_task() -> Record:
    spans = [Span(i, s, e, label, source=MODEL) for i, (s, e, label) in enumerate(PRE_SPANS)]
    by_offsets = {(s.start, s.end): s.id for s in spans}
    relations = [
        Relation(i, by_offsets[h], by_offsets[t], label, source="rule:test")
        for i, (h, t, label) in enumerate(PRE_RELATIONS)
    ]
    return Record(text=TEXT, doc_id=SEED.stem, entities=spans, relations=relations)


# --- the browser -------------------------------------------------------------------------------------


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A fresh headless Chromium page (its own profile), closed after the test."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("playwright is missing: it is a test dependency (pip install -e '.[test]')")
    executable = _chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            # Tall enough that the virtual scroller renders every line the test touches.
            context = browser.new_context(viewport={"width": 1400, "height": 2400})
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


class AnnotationPage:
    """Doccano 1.8.4's sequence-labelling page, driven the way a person uses it."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def login(self, username: str, password: str) -> None:
        self.page.goto(f"{self.base_url}/auth")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        # The app bar has a "Login" button too; the form's is the one inside the card.
        self.page.locator(".v-card").get_by_role("button", name="Login").click()
        self.page.wait_for_url("**/projects**")

    def open(self, project_id: int) -> None:
        self.page.goto(f"{self.base_url}/projects/{project_id}/sequence-labeling?page=1")
        self.page.wait_for_selector("svg text[id]")
        self.page.wait_for_load_state("networkidle")

    def char_box(self, offset: int) -> dict[str, float]:
        box = self.page.evaluate(JS_CHAR_BOX, offset)
        assert box is not None, f"offset {offset} is not rendered"
        return box

    def span_label(self, start: int) -> Any:
        """Locator of the clickable label drawn under the span that starts at ``start``."""
        index = self.page.evaluate(JS_SPAN_LINE, start)
        assert index >= 0, f"no span drawn at offset {start} ({TEXT[start : start + 20]!r})"
        return self.page.locator("svg line").nth(index).locator("xpath=following-sibling::*[1]")

    def arcs(self, relation_type: str) -> Any:
        """Locator of the drawn arcs labelled ``relation_type``."""
        return (
            self.page.locator("svg g[style*='cursor']")
            .filter(has=self.page.locator("path[marker-start], path[marker-end]"))
            .filter(has=self.page.locator("text", has_text=relation_type))
        )

    def select_text(self, start: int, end: int) -> None:
        """Drag the mouse over ``text[start:end]``, as a person selects a word."""
        a, b = self.char_box(start), self.char_box(end - 1)
        self.page.mouse.move(a["x"] + 1, a["y"] + a["h"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(b["x"] + b["w"] / 2, b["y"] + b["h"] / 2, steps=5)
        self.page.mouse.move(b["x"] + b["w"] - 1, b["y"] + b["h"] / 2, steps=2)
        self.page.mouse.up()

    def press_label_key(self, key: str, label: str, attempts: int = 3) -> None:
        """Press a label's shortcut key until its chip is selected, as a person would retry.

        The page sometimes drops a key press while it re-renders after a save; pressing the key
        again toggles the label, so it is pressed again only while the chip is not selected.
        """
        chip = self.page.locator(".v-chip", has_text=label).element_handle()
        selected = "(chip) => chip.classList.contains('v-chip--active')"
        for _ in range(attempts):
            self.page.keyboard.press(key)
            try:
                self.page.wait_for_function(selected, arg=chip, timeout=3000)
                return
            except Exception:
                if self.page.evaluate(selected, chip):
                    return
        raise AssertionError(f"the {label} chip was not selected by its shortcut key {key!r}")

    def expect_write(self, method: str, fragment: str) -> Any:
        """Context manager that waits for the UI's ``method`` request to a URL containing ``fragment``."""
        return self.page.expect_response(
            lambda r: r.request.method == method and fragment in r.url and r.ok, timeout=TIMEOUT_MS
        )

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        # The top of the page, where every correction happens; the full page is mostly empty lines.
        self.page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": 1400, "height": 1400})
        return path


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


# --- the test -----------------------------------------------------------------------------------------


def test_annotator_corrections_in_the_web_ui_are_exactly_what_pull_returns(
    tmp_path: Path,
    browser_page: Any,
    doccano_api: Any,
    doccano_env: dict[str, str],
    doccano_server: Any,
    make_user: Callable[..., Any],
) -> None:
    # 1. Push the seed article with its pre-annotations into a new project.
    tasks = tmp_path / "tasks.jsonl"
    write_jsonl(tasks, [seed_task().to_dict()])
    name = f"ui-browser-{secrets.token_hex(3)}"
    report = push(doccano_api, tasks, project=name, recipe=RECIPE, options=PushOptions(create=True))
    project_id = int(report.project_id or 0)
    try:
        assert report.pushed == 1
        annotator = make_user(project_id, role="annotator")
        ui = AnnotationPage(browser_page, doccano_server.url)
        try:
            _correct_in_browser(ui, project_id, annotator)
        except Exception:
            ui.screenshot("failure.png")  # what the page showed when a step failed
            raise
        _check_pull_and_evaluate(tmp_path, tasks, project_id, doccano_env)
    finally:
        doccano_api.delete_project(project_id)


def _correct_in_browser(ui: AnnotationPage, project_id: int, annotator: Any) -> None:
    page = ui.page
    # 2. Log in through the form as the annotator (not the admin).
    ui.login(annotator.username, annotator.password)
    ui.open(project_id)

    # 3. The pre-annotations are shown: a PERSON on "Vladimir Putin" and the TALKS_WITH arc.
    assert ui.span_label(PUTIN[0]).text_content().strip() == "PERSON"
    assert ui.span_label(KREMLIN[0]).text_content().strip() == "PERSON"
    assert ui.span_label(BRICS[0]).text_content().strip() == "GPE"
    assert ui.arcs("TALKS_WITH").count() >= 1
    ui.screenshot("before.png")

    # 4a. Delete the wrong span: a right click on its label removes it.
    with ui.expect_write("DELETE", "/spans/"):
        ui.span_label(KREMLIN[0]).click(button="right")

    # 4b. Relabel BRICS: a click on its label opens the label menu; choose ORG.
    ui.span_label(BRICS[0]).click()
    with ui.expect_write("PATCH", "/spans/"):
        page.locator(".menuable__content__active .v-list-item").filter(
            has=page.get_by_text("ORG", exact=True)
        ).click()

    # 4c. Add Moscow: the GPE shortcut key selects the label, then selecting the text adds the span.
    gpe_key = next(label.shortcut for label in RECIPE.labels if label.name == "GPE")
    assert gpe_key and len(gpe_key) == 1
    # The label menu's search box takes the focus while it is open: let it close first, and
    # give the key to the page, as a person clicking beside the menu does.
    page.locator(".menuable__content__active").wait_for(state="hidden")
    page.wait_for_load_state("networkidle")  # the page reloads its annotations after a save
    page.evaluate("document.activeElement && document.activeElement.blur()")
    ui.press_label_key(gpe_key, "GPE")
    with ui.expect_write("POST", "/spans"):
        ui.select_text(*MOSCOW)

    # 4d. Add a relation: switch to relation mode, pick LEADER_OF, click the head then the tail.
    page.locator(".v-input--switch").click()
    page.locator(".v-chip", has_text="LEADER_OF").click()
    ui.span_label(PUTIN[0]).click()
    with ui.expect_write("POST", "/relations"):
        ui.span_label(RUSSIA[0]).click()

    # 4e. Mark the example as done with the review button (a cross that becomes a tick).
    with ui.expect_write("POST", "/states"):
        page.locator(f'button:has(path[d^="{ICON_CLOSE_PREFIX}"])').click()
    page.locator(f'button:has(path[d^="{ICON_CHECK_PREFIX}"])').wait_for()
    page.wait_for_load_state("networkidle")

    # The page now shows the corrections.
    assert ui.span_label(BRICS[0]).text_content().strip() == "ORG"
    assert ui.span_label(MOSCOW[0]).text_content().strip() == "GPE"
    assert ui.arcs("LEADER_OF").count() >= 1
    with pytest.raises(AssertionError, match="no span drawn"):
        ui.span_label(KREMLIN[0])
    ui.screenshot("after.png")


def _check_pull_and_evaluate(tmp_path: Path, tasks: Path, project_id: int, env: dict[str, str]) -> None:
    runner = CliRunner()
    gold_path = tmp_path / "gold.jsonl"
    # 5. Pull: the gold holds exactly the corrected annotations.
    result = runner.invoke(app, ["pull", "--project", str(project_id), "--out", str(gold_path)], env=env)
    assert result.exit_code == 0, result.output
    golds = [json.loads(line) for line in gold_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(golds) == 1
    gold = Record.from_dict(golds[0])
    assert gold.doc_id == SEED.stem and gold.text == TEXT
    assert gold.confirmed is True

    expected_spans = {(s, e, label) for s, e, label in PRE_SPANS if (s, e) != KREMLIN}
    expected_spans = {(s, e, "ORG" if (s, e) == BRICS else label) for s, e, label in expected_spans}
    expected_spans.add((*MOSCOW, "GPE"))
    assert {s.key for s in gold.entities} == expected_spans
    assert len(gold.entities) == len(expected_spans)
    triples = {((h.start, h.end), (t.start, t.end), r.label) for h, t, r in gold.relation_triples()}
    assert triples == {(PUTIN, KIM, "TALKS_WITH"), (PUTIN, RUSSIA, "LEADER_OF")}
    assert len(gold.relations) == 2

    # ... and evaluate counts exactly those corrections.
    result = runner.invoke(
        app, ["evaluate", "--pred", str(tasks), "--gold", str(gold_path), "--format", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    effort = json.loads(result.stdout)["correction_effort"]
    assert effort["spans"] == {
        "kept": len(PRE_SPANS) - 2,
        "relabelled": 1,
        "boundary_shifted": 0,
        "deleted": 1,
        "added": 1,
        "edits": 3,
    }
    assert effort["relations"] == {"kept": 1, "retyped": 0, "removed": 0, "added": 1, "edits": 1}
    assert effort["relabels"] == [{"from": "GPE", "to": "ORG", "count": 1}]
