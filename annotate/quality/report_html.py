"""The HTML quality report: one self-contained file (inline CSS and SVG, no scripts, no fetches).

Sections (each an element with a stable ``id``, which the tests look for): ``summary``,
``labels`` (per-label bars as an SVG plot), ``effort``, ``provenance`` and ``documents``
(displaCy renders of the pre-annotation next to the gold, worst documents first).
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from typing import Any

from annotate.quality.evaluate import (
    ADDED,
    DELETED,
    KEPT,
    MODES,
    PRF,
    RELABELLED,
    SHIFTED,
    DocResult,
    Evaluation,
)

# One colour per alignment status: the differences are what the eye should find.
STATUS_COLORS = {
    KEPT: "#c8e6c9",
    RELABELLED: "#ffcc80",
    SHIFTED: "#fff59d",
    DELETED: "#ef9a9a",
    ADDED: "#90caf9",
}
STATUS_TEXT = {
    KEPT: "kept unchanged",
    RELABELLED: "relabelled by the annotator",
    SHIFTED: "boundaries moved by the annotator",
    DELETED: "pre-annotation deleted by the annotator",
    ADDED: "added by the annotator (missed)",
}
BAR_COLORS = {"precision": "#5c6bc0", "recall": "#26a69a", "f1": "#ef6c00"}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1400px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f5f5f5}
.num{font-variant-numeric:tabular-nums}
.legend span{display:inline-block;padding:.1em .5em;margin:.2em;border-radius:3px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.pair>div{border:1px solid #e0e0e0;border-radius:4px;padding:.5em;overflow-x:auto}
.pair h4{margin:.2em 0 .5em 0}
details{margin:1em 0}summary{cursor:pointer;font-weight:600}
.muted{color:#777}
"""


def _f(x: float) -> str:
    return f"{x:.3f}"


def _prf_cells(p: PRF) -> str:
    return (
        f"<td class=num>{p.tp + p.fn}</td><td class=num>{p.tp + p.fp}</td><td class=num>{p.tp}</td>"
        f"<td class=num>{_f(p.precision)}</td><td class=num>{_f(p.recall)}</td><td class=num>{_f(p.f1)}</td>"
    )


def _summary(ev: Evaluation) -> str:
    rows = []
    for kind, scores in (("entities", ev.entities), ("relations", ev.relations)):
        for m in MODES:
            mi, ma = scores[m].micro, scores[m].macro
            rows.append(f"<tr><td>{kind}, {m}</td>{_prf_cells(mi)}<td class=num>{_f(ma.f1)}</td></tr>")
    docs = (
        f"<p>{len(ev.docs)} documents scored; {len(ev.changed)} whose text changed (not scored); "
        f"{len(ev.missing_pred)} gold documents without a prediction; "
        f"{len(ev.missing_gold)} predicted documents without gold.</p>"
    )
    changed = ""
    if ev.changed:
        items = "".join(f"<li>{escape(d)}</li>" for d in ev.changed)
        changed = f"<p>Text changed during annotation, so not scored:</p><ul>{items}</ul>"
    return (
        '<section id="summary"><h2>Summary</h2>'
        + docs
        + "<table><thead><tr><th>what</th><th>gold</th><th>predicted</th><th>correct</th>"
        "<th>precision</th><th>recall</th><th>F1 (micro)</th><th>F1 (macro)</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + changed
        + "</section>"
    )


# The bar chart's geometry in pixels: the label column, the plot's width, one bar's height,
# the gap between labels, and the top margin (for the legend).
BAR_LEFT, BAR_WIDTH, BAR_HEIGHT, BAR_GAP, BAR_TOP = 190, 520, 9, 10, 30


def label_bars_svg(
    per_label: dict[str, PRF], overlap: dict[str, PRF] | None = None, *, title: str = ""
) -> str:
    """Return an inline SVG bar chart: precision, recall and F1 per label (strict).

    A black tick on the F1 bar marks the overlap-mode F1, so the gap shows how much is boundary
    disagreement rather than a wrong label.
    """
    labels = sorted(per_label, key=lambda k: (-(per_label[k].tp + per_label[k].fn), k))
    group_h = 3 * BAR_HEIGHT + BAR_GAP
    height = BAR_TOP + max(1, len(labels)) * group_h + 30
    total_w = BAR_LEFT + BAR_WIDTH + 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{height}" '
        f'viewBox="0 0 {total_w} {height}" role="img" aria-label="{escape(title or "per-label scores")}" '
        'font-family="sans-serif" font-size="11">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    parts += _bar_grid(height)
    parts += _bar_legend(overlap is not None)
    for n, label in enumerate(labels):
        tick = overlap[label] if overlap is not None and label in overlap else None
        parts += _label_bars(label, per_label[label], tick, BAR_TOP + n * group_h)
    parts.append("</svg>")
    return "".join(parts)


def _bar_grid(height: int) -> list[str]:
    """Return the grid lines and axis labels at 0, .25, .5, .75 and 1."""
    left, width, top = BAR_LEFT, BAR_WIDTH, BAR_TOP
    parts = []
    for k in range(5):
        x = left + width * k / 4
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 5}" x2="{x:.1f}" y2="{height - 25}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle">{k / 4:.2f}</text>')
    return parts


def _bar_legend(with_overlap: bool) -> list[str]:
    """Return the legend: a swatch per bar, and the overlap tick when it is drawn."""
    parts = []
    lx = BAR_LEFT
    for name, color in BAR_COLORS.items():
        parts.append(f'<rect x="{lx}" y="5" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{lx + 14}" y="14">{name}</text>')
        lx += 90
    if with_overlap:
        parts.append(f'<rect x="{lx}" y="4" width="2" height="12" fill="#000"/>')
        parts.append(f'<text x="{lx + 6}" y="14">F1 (overlap)</text>')
    return parts


def _label_bars(label: str, p: PRF, overlap: PRF | None, y0: int) -> list[str]:
    """Return one label's name and its three bars from ``y0`` down, with the overlap F1 tick."""
    left, width, bar_h = BAR_LEFT, BAR_WIDTH, BAR_HEIGHT
    support = p.tp + p.fn
    parts = [
        f'<text x="{left - 6}" y="{y0 + 1.5 * bar_h + 4:.1f}" text-anchor="end">'
        f"{escape(label)} ({support})</text>"
    ]
    for k, (name, value) in enumerate((("precision", p.precision), ("recall", p.recall), ("f1", p.f1))):
        y = y0 + k * bar_h
        w = width * value
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 1}" fill="{BAR_COLORS[name]}">'
            f"<title>{escape(label)} {name} {value:.3f}</title></rect>"
        )
        parts.append(f'<text x="{left + w + 3:.1f}" y="{y + bar_h - 1}" font-size="9">{value:.2f}</text>')
    if overlap is not None:
        x = left + width * overlap.f1
        y = y0 + 2 * bar_h
        parts.append(
            f'<rect x="{x - 1:.1f}" y="{y - 1}" width="2" height="{bar_h + 1}" fill="#000">'
            f"<title>{escape(label)} F1 (overlap) {overlap.f1:.3f}</title></rect>"
        )
    return parts


def _labels(ev: Evaluation) -> str:
    rows = []
    strict, overlap = ev.entities["strict"].per_label, ev.entities["overlap"].per_label
    for label in sorted(strict, key=lambda k: (-(strict[k].tp + strict[k].fn), k)):
        rows.append(
            f"<tr><td>{escape(label)}</td>{_prf_cells(strict[label])}"
            f"<td class=num>{_f(overlap.get(label, PRF()).f1)}</td></tr>"
        )
    rel_rows = []
    rstrict, roverlap = ev.relations["strict"].per_label, ev.relations["overlap"].per_label
    for label in sorted(rstrict, key=lambda k: (-(rstrict[k].tp + rstrict[k].fn), k)):
        rel_rows.append(
            f"<tr><td>{escape(label)}</td>{_prf_cells(rstrict[label])}"
            f"<td class=num>{_f(roverlap.get(label, PRF()).f1)}</td></tr>"
        )
    head = (
        "<thead><tr><th>{}</th><th>gold</th><th>predicted</th><th>correct</th><th>P</th><th>R</th>"
        "<th>F1</th><th>F1 (overlap)</th></tr></thead>"
    )
    out = ['<section id="labels"><h2>Per label</h2>']
    out.append('<figure id="label-plot">')
    out.append(label_bars_svg(strict, overlap, title="Entity scores per label (strict)"))
    out.append(
        "<figcaption>Entities: precision, recall and F1 per label, strict match; gold count in "
        "brackets; the black tick is F1 with overlapping boundaries accepted.</figcaption></figure>"
    )
    out.append(f"<table>{head.format('entity label')}<tbody>{''.join(rows)}</tbody></table>")
    if rstrict:
        out.append('<figure id="relation-plot">')
        out.append(label_bars_svg(rstrict, roverlap, title="Relation scores per type (strict)"))
        out.append("<figcaption>Relations: both endpoints and the type must match.</figcaption></figure>")
        out.append(f"<table>{head.format('relation type')}<tbody>{''.join(rel_rows)}</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _effort(ev: Evaluation) -> str:
    se, re_ = ev.span_effort, ev.relation_effort
    n_pred = se.kept + se.relabelled + se.shifted + se.deleted

    def pct(n: int, d: int) -> str:
        return f"{100 * n / d:.1f}%" if d else "–"

    span_rows = "".join(
        f'<tr><td><span style="background:{STATUS_COLORS[s]}">&nbsp;&nbsp;&nbsp;</span> {name}</td>'
        f"<td class=num>{n}</td><td class=num>{pct(n, n_pred) if s != ADDED else ''}</td></tr>"
        for s, name, n in (
            (KEPT, "kept", se.kept),
            (DELETED, "deleted", se.deleted),
            (ADDED, "added", se.added),
            (RELABELLED, "relabelled", se.relabelled),
            (SHIFTED, "boundary-shifted", se.shifted),
        )
    )
    rel_rows = "".join(
        f"<tr><td>{name}</td><td class=num>{n}</td></tr>"
        for name, n in (
            ("kept", re_.kept),
            ("added", re_.added),
            ("removed", re_.removed),
            ("retyped", re_.retyped),
        )
    )
    relabels = ""
    if ev.relabels:
        items = "".join(
            f"<tr><td>{escape(a)}</td><td>{escape(b)}</td><td class=num>{n}</td></tr>"
            for (a, b), n in ev.relabels.most_common(20)
        )
        relabels = (
            "<h3>Most frequent relabellings</h3><table><thead><tr><th>predicted</th><th>gold</th>"
            f"<th>count</th></tr></thead><tbody>{items}</tbody></table>"
        )
    return (
        '<section id="effort"><h2>Correction effort</h2>'
        f"<p>The annotators touched {se.edits} spans and {re_.edits} relations.</p>"
        "<table><thead><tr><th>spans</th><th>count</th><th>of predicted</th></tr></thead>"
        f"<tbody>{span_rows}</tbody></table>"
        "<table><thead><tr><th>relations</th><th>count</th></tr></thead>"
        f"<tbody>{rel_rows}</tbody></table>{relabels}</section>"
    )


def _provenance(ev: Evaluation) -> str:
    rows = "".join(
        f"<tr><td>{escape(src)}</td><td class=num>{c.produced}</td><td class=num>{c.kept}</td>"
        f"<td class=num>{c.relabelled}</td><td class=num>{c.shifted}</td><td class=num>{c.deleted}</td>"
        f"<td class=num>{_f(c.precision)}</td></tr>"
        for src, c in sorted(ev.span_provenance.items())
    )
    rows += (
        f"<tr><td><em>missed by every source</em></td><td></td><td></td><td></td><td></td><td></td>"
        f"<td class=num>{ev.span_effort.added} added</td></tr>"
    )
    rel = ""
    if ev.relation_provenance or ev.relation_effort.added:
        rrows = "".join(
            f"<tr><td>{escape(src)}</td><td class=num>{c.produced}</td><td class=num>{c.kept}</td>"
            f"<td class=num>{c.relabelled}</td><td class=num>{c.deleted}</td>"
            f"<td class=num>{_f(c.precision)}</td></tr>"
            for src, c in sorted(ev.relation_provenance.items())
        )
        rrows += (
            f"<tr><td><em>missed by every rule</em></td><td></td><td></td><td></td><td></td>"
            f"<td class=num>{ev.relation_effort.added} added</td></tr>"
        )
        rel = (
            "<table><thead><tr><th>relation source</th><th>produced</th><th>kept</th><th>retyped</th>"
            f"<th>removed</th><th>kept share</th></tr></thead><tbody>{rrows}</tbody></table>"
        )
    return (
        '<section id="provenance"><h2>Provenance</h2>'
        "<p>What happened to the output of each source (the model, a pattern file, a relation rule).</p>"
        "<table><thead><tr><th>span source</th><th>produced</th><th>kept</th><th>relabelled</th>"
        "<th>boundary-shifted</th><th>deleted</th><th>kept share</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{rel}</section>"
    )


class _Tokenizer:
    """Char offsets -> token indices with a blank pipeline (loaded once per report)."""

    def __init__(self, lang: str) -> None:
        import spacy

        try:
            self.nlp = spacy.blank(lang)
        except Exception:  # an unknown language code: English tokenisation is a fine fallback for display
            self.nlp = spacy.blank("en")

    def render(self, text: str, spans: list[tuple[int, int, str]], colors: dict[str, str]) -> str:
        from spacy import displacy

        doc = self.nlp.make_doc(text)
        out = []
        for start, end, label in spans:
            sp = doc.char_span(start, end, alignment_mode="expand")
            if sp is None or len(sp) == 0:
                continue
            out.append({"start_token": sp.start, "end_token": sp.end, "label": label})
        data = {"text": text, "tokens": [t.text for t in doc], "spans": out}
        return str(displacy.render(data, style="span", manual=True, page=False, options={"colors": colors}))


def _doc_label(label: str, status: str) -> str:
    # displaCy looks colours up by the upper-cased label and does not escape labels itself.
    return escape(label if status == KEPT else f"{label} ({status})")


def _document(d: DocResult, tok: _Tokenizer) -> str:
    colors: dict[str, str] = {}

    def spans(items: list[Any], statuses: list[str]) -> list[tuple[int, int, str]]:
        out = []
        for s, st in zip(items, statuses, strict=True):
            lab = _doc_label(s.label, st)
            colors[lab.upper()] = STATUS_COLORS[st]
            out.append((s.start, s.end, lab))
        return out

    pred_html = tok.render(d.text, spans(d.pred, d.pred_status), colors)
    gold_html = tok.render(d.text, spans(d.gold, d.gold_status), colors)
    s, o = d.entities["strict"].micro, d.entities["overlap"].micro
    title = d.meta.get("title")
    head = escape(str(d.doc_id)) + (f" — {escape(str(title))}" if title else "")
    rel = _relations_table(d)
    return (
        f'<details class="doc" id="doc-{escape(str(d.doc_id))}"><summary>{head} '
        f'<span class="muted">F1 {_f(s.f1)} strict, {_f(o.f1)} overlap; '
        f"{d.span_effort.edits} span edits, {d.relation_effort.edits} relation edits</span></summary>"
        f'<div class="pair"><div><h4>pre-annotation</h4>{pred_html}</div>'
        f"<div><h4>gold</h4>{gold_html}</div></div>{rel}</details>"
    )


def _relations_table(d: DocResult) -> str:
    if not d.pred_relations and not d.gold_relations:
        return ""
    pspans = {s.id: s for s in d.pred}
    gspans = {s.id: s for s in d.gold}
    rows = []
    for side, rels, statuses, by_id in (
        ("pre-annotation", d.pred_relations, d.pred_relation_status, pspans),
        ("gold", d.gold_relations, d.gold_relation_status, gspans),
    ):
        for r, st in zip(rels, statuses, strict=True):
            if side == "gold" and st != ADDED:
                continue  # kept and retyped ones are already listed from the pre-annotation side
            h, t = by_id[r.head], by_id[r.tail]
            color = STATUS_COLORS.get(
                st, STATUS_COLORS[DELETED] if st == "removed" else STATUS_COLORS[RELABELLED]
            )
            rows.append(
                f'<tr><td style="background:{color}">{escape(st)}</td>'
                f"<td>{escape(d.text[h.start : h.end])}</td><td>{escape(r.label)}</td>"
                f"<td>{escape(d.text[t.start : t.end])}</td><td>{escape(r.source or '')}</td></tr>"
            )
    return (
        "<table><thead><tr><th>relation</th><th>head</th><th>type</th><th>tail</th><th>source</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _legend() -> str:
    items = "".join(
        f'<span style="background:{STATUS_COLORS[s]}">{escape(STATUS_TEXT[s])}</span>'
        for s in (KEPT, RELABELLED, SHIFTED, DELETED, ADDED)
    )
    return f'<p class="legend">{items}</p>'


def render_report(
    ev: Evaluation, *, title: str = "annotate quality report", max_docs: int = 100, lang: str = "en"
) -> str:
    """Return the whole report as one HTML string.

    Documents are shown worst first (lowest strict entity F1), at most ``max_docs`` of them.
    """
    tok = _Tokenizer(lang)
    docs = sorted(ev.docs, key=lambda d: (d.entities["strict"].micro.f1, d.doc_id))
    shown = docs[:max_docs]
    doc_html = "".join(_document(d, tok) for d in shown)
    more = ""
    if len(docs) > len(shown):
        more = f'<p class="muted">{len(docs) - len(shown)} more documents not shown.</p>'
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class=muted>Generated by annotate on {when}.</p>"
        + _summary(ev)
        + _labels(ev)
        + _effort(ev)
        + _provenance(ev)
        + '<section id="documents"><h2>Documents</h2>'
        + "<p>Pre-annotation (left) next to the corrected gold (right), worst documents first.</p>"
        + _legend()
        + doc_html
        + more
        + "</section></body></html>\n"
    )


# The curve plot's geometry in pixels: the left margin (the y axis), the plot's width and
# height, and the top margin (for the legend).
CURVE_LEFT, CURVE_WIDTH, CURVE_HEIGHT, CURVE_TOP = 50, 480, 240, 30

# One step of a training curve: (share of the training split, training documents, P, R, F).
CurveRow = tuple[float, int, float, float, float]


def curve_svg(rows: list[CurveRow], *, title: str = "dev scores by training documents") -> str:
    """Return an inline SVG line plot of dev precision, recall and F1 against the training share."""
    total_w, total_h = CURVE_LEFT + CURVE_WIDTH + 40, CURVE_TOP + CURVE_HEIGHT + 45
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
        f'viewBox="0 0 {total_w} {total_h}" role="img" aria-label="{escape(title)}" '
        f'font-family="sans-serif" font-size="11"><title>{escape(title)}</title>'
    ]
    parts += _curve_axes(rows)
    parts += _bar_legend(False)
    for k, name in enumerate(("precision", "recall", "f1")):
        points = [(_curve_x(r[0]), _curve_y(r[2 + k]), r[2 + k], r[1]) for r in rows]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{BAR_COLORS[name]}" stroke-width="2"/>')
        for x, y, value, docs in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{BAR_COLORS[name]}">'
                f"<title>{name} {value:.3f} with {docs} documents</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _curve_x(fraction: float) -> float:
    return CURVE_LEFT + CURVE_WIDTH * fraction


def _curve_y(value: float) -> float:
    return CURVE_TOP + CURVE_HEIGHT * (1 - value)


def _curve_axes(rows: list[CurveRow]) -> list[str]:
    """Return the grid at 0, .25, .5, .75 and 1, the y labels, and an x label per step."""
    parts = []
    for k in range(5):
        y = _curve_y(k / 4)
        parts.append(
            f'<line x1="{CURVE_LEFT}" y1="{y:.1f}" x2="{CURVE_LEFT + CURVE_WIDTH}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(f'<text x="{CURVE_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{k / 4:.2f}</text>')
    bottom = CURVE_TOP + CURVE_HEIGHT
    for fraction, docs, *_ in rows:
        x = _curve_x(fraction)
        parts.append(f'<line x1="{x:.1f}" y1="{CURVE_TOP}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{fraction:.0%} ({docs} docs)</text>'
        )
    parts.append(
        f'<text x="{CURVE_LEFT + CURVE_WIDTH / 2:.1f}" y="{bottom + 36}" text-anchor="middle">'
        "share of the training split</text>"
    )
    return parts


def render_curve_report(rows: list[CurveRow], verdict: str, *, title: str = "annotate training curve") -> str:
    """Return the training curve as one HTML page: the verdict, the plot, and the table."""
    body = []
    prev: float | None = None
    for fraction, docs, p, r, f in rows:
        delta = "" if prev is None else f"{f - prev:+.3f}"
        body.append(
            f"<tr><td>{fraction:.0%}</td><td class=num>{docs}</td><td class=num>{_f(p)}</td>"
            f"<td class=num>{_f(r)}</td><td class=num>{_f(f)}</td><td class=num>{delta}</td></tr>"
        )
        prev = f
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<section id="curve"><h2>Entity scores on the dev split</h2><p>{escape(verdict)}</p>'
        + curve_svg(rows)
        + "<table><thead><tr><th>share</th><th>training documents</th><th>P</th><th>R</th>"
        "<th>F1</th><th>ΔF1</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></section></body></html>\n"
    )
