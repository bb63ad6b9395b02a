"""Label Studio's JSON export (a list of tasks) as records, one a (task, annotator).

Each annotation of a task is one annotator's record (``completed_by``); a cancelled one
(``was_cancelled``) is skipped and counted. ``labels`` results are spans (one per label when
a region has several), ``relation`` results relations (``direction`` ``left`` swaps them,
``bi`` is kept from→to and said). ``--predictions`` reads ``predictions`` instead, as
pre-annotations (tasks, with ``model:<model_version>`` as the source).

Offsets: Label Studio stores code points now, but older exports counted UTF-16 units, so a
span after an emoji is off. Each span's ``value.text`` is compared with the text at its
offsets; a span that matches once read as UTF-16 is repaired and counted; one that matches
neither is an error. Nothing is guessed silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from annotate.convert.builder import BAD_INPUT, RecordBuilder
from annotate.convert.ledger import Ledger, where
from annotate.convert.options import ConvertOptions
from annotate.errors import DataError
from annotate.records.model import Record

NAME = "label-studio"
SPAN_TYPES = ("labels",)
#: The type given to a relation drawn without a label (Label Studio allows it; ours need one).
UNLABELLED = "RELATION"


def read(options: ConvertOptions, ledger: Ledger) -> Iterator[Record]:
    """Yield the records of every task of every input, in order."""
    from annotate.convert.doccano import iter_lines

    for path in options.inputs:
        # A JSON export is a list of tasks; a JSONL file (one task a line) is read too.
        for line, task in iter_lines(path):
            yield from task_records(task, str(path), line, options.predictions, ledger)


def task_text(task: dict[str, Any], path: str, line: int) -> str:
    """Return the task's text: ``data.text``, else its one string value."""
    data = task.get("data")
    if not isinstance(data, dict):
        raise DataError("a Label Studio task needs data", path=path, line=line, code=BAD_INPUT)
    if isinstance(data.get("text"), str):
        return str(data["text"])
    strings = [v for v in data.values() if isinstance(v, str)]
    if len(strings) != 1:
        raise DataError(
            "cannot tell which key of data holds the text (no data.text)",
            path=path,
            line=line,
            code=BAD_INPUT,
        )
    return strings[0]


def task_records(task: Any, path: str, line: int, predictions: bool, ledger: Ledger) -> Iterator[Record]:
    """Yield one record per annotation (or, with ``predictions``, the first prediction)."""
    if not isinstance(task, dict):
        raise DataError("a Label Studio task must be an object", path=path, line=line, code=BAD_INPUT)
    text = task_text(task, path, line)
    doc_id = f"label-studio:{task.get('id', line)}"
    here = where(path, line)
    key = "predictions" if predictions else "annotations"
    items = task.get(key) or []
    other = "annotations" if predictions else "predictions"
    hint = "read without --predictions" if predictions else "read with --predictions"
    for _ in task.get(other) or []:
        ledger.skip(other[:-1], f"{other}_not_read", here, f"{doc_id}: {other} are {hint}")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise DataError(f"{key}[{n}] is not an object", path=path, line=line, code=BAD_INPUT)
        if item.get("was_cancelled"):
            ledger.skip("annotation", "was_cancelled", here, f"{doc_id} annotation {item.get('id')}")
            continue
        if predictions and n > 0:
            ledger.skip(
                "prediction", "not_the_first_prediction", here, f"{doc_id}: model {item.get('model_version')}"
            )
            continue
        yield annotation_record(text, doc_id, item, task, path, line, predictions, ledger)


def annotator_of(item: dict[str, Any]) -> str | None:
    """Return who completed an annotation: an email or id (``completed_by`` is an id or an object)."""
    who = item.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return None if who is None else str(who)


def annotation_record(
    text: str,
    doc_id: str,
    item: dict[str, Any],
    task: dict[str, Any],
    path: str,
    line: int,
    predictions: bool,
    ledger: Ledger,
) -> Record:
    """Return the record of one annotation or prediction."""
    b = RecordBuilder(text, doc_id=doc_id, path=path, line=line, ledger=ledger)
    source = f"model:{item.get('model_version') or 'unknown'}" if predictions else None
    score = item.get("score") if predictions and isinstance(item.get("score"), (int, float)) else None
    results = item.get("result") or []
    utf16 = reads_as_utf16(text, results)
    relations = []
    for r in results:
        kind = r.get("type") if isinstance(r, dict) else None
        if kind in SPAN_TYPES:
            add_region(b, r, source, score, utf16, ledger)
        elif kind == "relation":
            relations.append(r)
        else:
            ledger.skip(
                "result",
                f"type_{kind}",
                where(path, line),
                f"{doc_id}: only labels and relation results are read",
            )
    for r in relations:
        add_relation(b, r, ledger)
    meta = {
        "label_studio": {
            k: v
            for k, v in (
                ("task_id", task.get("id")),
                (("prediction_id" if predictions else "annotation_id"), item.get("id")),
            )
            if v is not None
        }
    }
    return b.build(meta=meta, annotator=None if predictions else annotator_of(item))


def add_region(
    b: RecordBuilder, r: dict[str, Any], source: str | None, score: float | None, utf16: bool, ledger: Ledger
) -> None:
    """Add a ``labels`` region: one span per label, its offsets repaired from UTF-16 if need be."""
    value = r.get("value") or {}
    start, end = value.get("start"), value.get("end")
    surface = value.get("text")
    start, end = code_point_offsets(b, start, end, surface, utf16, ledger)
    labels = value.get("labels") or []
    if not labels:
        raise b.error(f"region {r.get('id')!r} has no label")
    for n, label in enumerate(labels):
        key = r.get("id") if n == 0 else (r.get("id"), n)
        b.span(start, end, label, key=key, surface=surface, source=source, score=r.get("score", score))
        if n > 0:
            ledger.repair(
                "span",
                "region_with_several_labels",
                where(b.path, b.line),
                f"region {r.get('id')!r}: one span per label; relations use the first",
            )


def reads_as_utf16(text: str, results: list[Any]) -> bool:
    """True when some region's text is found at its offsets only if they count UTF-16 units.

    Then the whole annotation was written by an older Label Studio, so every region is read
    so, also one whose offsets happen to fit both ways (a repeated substring).
    """
    for r in results:
        value = r.get("value") if isinstance(r, dict) and r.get("type") in SPAN_TYPES else None
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            continue
        start, end, surface = value.get("start"), value.get("end"), value["text"]
        if type(start) is not int or type(end) is not int or found_at(text, start, end, surface):
            continue
        fixed = utf16_to_code_points(text, start), utf16_to_code_points(text, end)
        if None not in fixed and found_at(text, fixed[0], fixed[1], surface):  # type: ignore[arg-type]
            return True
    return False


def found_at(text: str, start: int, end: int, surface: str) -> bool:
    """True when ``surface`` is ``text[start:end]`` with both offsets inside the text."""
    return 0 <= start < end <= len(text) and text[start:end] == surface


def code_point_offsets(
    b: RecordBuilder, start: Any, end: Any, surface: Any, utf16: bool, ledger: Ledger
) -> tuple[Any, Any]:
    """Return the offsets as code points: read as UTF-16 units in an annotation that is (and
    where ``surface`` is found there), else as given; a change is counted."""
    if not utf16 or not isinstance(surface, str) or type(start) is not int or type(end) is not int:
        return start, end
    fixed = utf16_to_code_points(b.text, start), utf16_to_code_points(b.text, end)
    if None in fixed or not found_at(b.text, fixed[0], fixed[1], surface):  # type: ignore[arg-type]
        return start, end  # the builder checks them as code points
    if fixed != (start, end):
        detail = f"{b.doc_id}: [{start}, {end}) in UTF-16 units is [{fixed[0]}, {fixed[1]}) {surface!r}"
        ledger.repair("span", "utf16_offsets", where(b.path, b.line), detail)
    return fixed  # type: ignore[return-value]


def utf16_to_code_points(text: str, units: int) -> int | None:
    """Return the code point index at ``units`` UTF-16 code units into ``text`` (None if inside a pair)."""
    pos = 0
    for i, ch in enumerate(text):
        if pos == units:
            return i
        pos += 2 if ord(ch) > 0xFFFF else 1
        if pos > units:
            return None
    return len(text) if pos == units else None


def add_relation(b: RecordBuilder, r: dict[str, Any], ledger: Ledger) -> None:
    """Add a ``relation`` result: one relation per label, ``left`` swapped, ``bi`` said."""
    head, tail = r.get("from_id"), r.get("to_id")
    direction = r.get("direction", "right")
    here = where(b.path, b.line)
    if direction == "left":
        head, tail = tail, head
    elif direction == "bi":
        ledger.repair("relation", "bidirectional_kept_from_to", here, f"{head} <-> {tail}")
    labels = r.get("labels") or []
    if not labels:
        labels = [UNLABELLED]
        detail = f"{head} -> {tail} typed {UNLABELLED} (--label-map renames it)"
        ledger.repair("relation", "relation_without_label", here, detail)
    for label in labels:
        b.relation(head, tail, label)
