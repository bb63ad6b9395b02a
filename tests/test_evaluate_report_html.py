"""The HTML report: expected sections, valid markup, self-contained, differences marked."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from annotate.quality.evaluate import PRF, evaluate
from annotate.quality.report_html import STATUS_COLORS, label_bars_svg, render_report
from annotate.records.model import Record, Span
from tests.test_evaluate_scores import GOLD, PRED

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class StrictChecker(HTMLParser):
    """Fails on any end tag that does not close the innermost open element, and on unclosed ones."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, tuple[int, int]]] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            if k == "id" and v:
                self.ids.append(v)
            if k in ("src", "href") and v:
                self.urls.append(v)
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)  # self-closed (SVG shapes): nothing to match

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void <{tag}> at {self.getpos()}")
        elif not self.stack or self.stack[-1][0] != tag:
            self.errors.append(
                f"</{tag}> at {self.getpos()} closes {self.stack[-1] if self.stack else 'nothing'}"
            )
        else:
            self.stack.pop()


def check(html: str) -> StrictChecker:
    c = StrictChecker()
    c.feed(html)
    c.close()
    assert c.errors == []
    assert c.stack == [], f"unclosed: {c.stack[:5]}"
    return c


def test_checker_catches_a_misnested_and_an_unclosed_tag() -> None:
    c = StrictChecker()
    c.feed("<div><p>x</div>")
    assert c.errors
    c = StrictChecker()
    c.feed("<section><p>x</p>")
    assert c.stack


def test_report_has_every_section_and_is_valid_html() -> None:
    html = render_report(evaluate([PRED], [GOLD]), title="t")
    assert html.startswith("<!DOCTYPE html>")
    c = check(html)
    for section in ("summary", "labels", "label-plot", "relation-plot", "effort", "provenance", "documents"):
        assert section in c.ids
    assert "doc-d1" in c.ids
    assert c.tags.count("svg") == 2  # entity and relation plots


def test_report_is_self_contained() -> None:
    html = render_report(evaluate([PRED], [GOLD]))
    c = check(html)
    assert "script" not in c.tags and "link" not in c.tags and "img" not in c.tags
    # Only in-page anchors (displaCy's span links default to "#"); nothing to fetch.
    assert all(u.startswith("#") for u in c.urls), c.urls
    assert "@import" not in html and "url(" not in html


def test_document_render_marks_each_difference_in_its_colour() -> None:
    html = render_report(evaluate([PRED], [GOLD]))
    doc = html[html.index('id="doc-d1"') :]
    # Pre-annotation side: Bob as ORG relabelled, "Paris and" shifted, "met" deleted; gold: London added.
    for label, status in (
        ("ORG (relabelled)", "relabelled"),
        ("LOC (shifted)", "shifted"),
        ("PER (deleted)", "deleted"),
        ("LOC (added)", "added"),
    ):
        assert label in doc
        assert STATUS_COLORS[status] in doc
    # The two renders sit side by side.
    assert doc.index("pre-annotation") < doc.index("gold")
    # Relation table: the removed rule output and the hand-added relation.
    assert ">removed<" in doc and ">added<" in doc and ">retyped<" in doc


def test_labels_and_text_are_escaped() -> None:
    text = "<b>Bob</b> & co"
    gold = Record(text=text, doc_id="x<y", entities=[Span(0, 3, 6, "P<E>R")])
    pred = Record(text=text, doc_id="x<y", entities=[Span(0, 3, 6, "ORG", source="model:<m>")])
    html = render_report(evaluate([pred], [gold]))
    c = check(html)
    assert "b" not in c.tags
    assert "P&lt;E&gt;R" in html


def test_bar_plot_draws_three_bars_per_label_with_lengths_proportional_to_scores() -> None:
    svg = label_bars_svg({"A": PRF(1, 1, 0), "B": PRF(0, 0, 2)}, {"A": PRF(1, 1, 0)})
    check(svg)
    bars = {
        (label, what): float(w)
        for w, label, what in re.findall(
            r'<rect x="190" y="\d+" width="([\d.]+)"[^>]*><title>(\w+) (\w+) ', svg
        )
    }
    # A: P 1/2, R 1, F1 2/3 of the 520-px axis; B: all zero.
    assert bars == {
        ("A", "precision"): 260.0,
        ("A", "recall"): 520.0,
        ("A", "f1"): round(520 * 2 / 3, 1),
        ("B", "precision"): 0.0,
        ("B", "recall"): 0.0,
        ("B", "f1"): 0.0,
    }
    # The label with more gold spans comes first.
    assert svg.index(">B (2)<") < svg.index(">A (1)<")
