"""Prodigy's JSONL (``db-out``) as records: ``ner_manual``, ``spans.manual`` and ``rel.manual`` answers.

Only ``answer: accept`` is gold; ``reject`` and ``ignore`` (and a line without an answer) are
skipped and counted. ``spans`` give the entities (character offsets; ``token_start``/``token_end``
are Prodigy's token indices); ``relations`` give ``head``/``child`` (token indices) with
``head_span``/``child_span`` and ``label``. A relation between tokens that are not a labelled
span (Prodigy allows it, e.g. dependencies) cannot be one of ours: it is kept in meta and counted.
``_input_hash``, ``_task_hash``, ``_session_id`` and ``_annotator_id`` are kept in meta, the
annotator (``_annotator_id``, else ``_session_id``) as the record's ``annotator``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from annotate.convert.builder import BAD_INPUT, RecordBuilder
from annotate.convert.ledger import Ledger, where
from annotate.convert.options import ConvertOptions
from annotate.errors import DataError
from annotate.fileio import iter_jsonl
from annotate.records.model import Record

NAME = "prodigy"
ACCEPT = "accept"
KEPT_KEYS = ("_input_hash", "_task_hash", "_session_id", "_annotator_id", "_view_id", "_timestamp")


def read(options: ConvertOptions, ledger: Ledger) -> Iterator[Record]:
    """Yield one record per accepted answer of every input, in order."""
    for path in options.inputs:
        for line, obj in iter_jsonl(path):
            rec = answer_record(obj, str(path), line, ledger)
            if rec is not None:
                yield rec


def answer_record(obj: Any, path: str, line: int, ledger: Ledger) -> Record | None:
    """Return the record of one accepted answer, or None (counted) for any other answer."""
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise DataError(
            "not a Prodigy task: an object with a text is needed", path=path, line=line, code=BAD_INPUT
        )
    answer = obj.get("answer")
    if answer != ACCEPT:
        reason = f"answer_{answer}" if isinstance(answer, str) else "no_answer"
        ledger.skip("answer", reason, where(path, line), "only accepted answers are gold")
        return None
    b = RecordBuilder(obj["text"], doc_id=doc_id_of(obj, path, line), path=path, line=line, ledger=ledger)
    spans = obj.get("spans") or []
    for i, s in enumerate(spans):
        if not isinstance(s, dict):
            raise b.error(f"spans[{i}] is not an object")
        b.span(s.get("start"), s.get("end"), s.get("label"), key=("span", i), surface=s.get("text"))
    unlabelled = add_relations(b, obj, spans, ledger)
    meta = prodigy_meta(obj, unlabelled)
    annotator = obj.get("_annotator_id") or obj.get("_session_id")
    return b.build(meta=meta, annotator=str(annotator) if annotator is not None else None)


def doc_id_of(obj: dict[str, Any], path: str, line: int) -> str:
    """``prodigy:<_input_hash>`` (the same input by several annotators), else the line's place."""
    h = obj.get("_input_hash")
    return f"prodigy:{h}" if h is not None else f"prodigy:{path}:{line}"


def add_relations(b: RecordBuilder, obj: dict[str, Any], spans: list[Any], ledger: Ledger) -> list[Any]:
    """Add the relations between labelled spans; return those between unlabelled tokens (counted)."""
    tokens = obj.get("tokens") or []
    unlabelled: list[Any] = []
    for i, r in enumerate(obj.get("relations") or []):
        if not isinstance(r, dict):
            raise b.error(f"relations[{i}] is not an object")
        head = endpoint(b, r, "head", spans, tokens)
        child = endpoint(b, r, "child", spans, tokens)
        if head is None or child is None:
            unlabelled.append(r)
            ledger.keep_in_meta(
                "relation",
                "relation_to_unlabelled_tokens",
                where(b.path, b.line),
                f"relations[{i}] {r.get('label')!r} is not between labelled spans",
            )
            continue
        b.relation(head, child, r.get("label"))
    return unlabelled


def endpoint(b: RecordBuilder, rel: dict[str, Any], end: str, spans: list[Any], tokens: list[Any]) -> Any:
    """Return the key of the span a relation's ``head`` or ``child`` is, or None for an unlabelled token."""
    given = rel.get(f"{end}_span")
    if isinstance(given, dict) and "start" in given:
        found = span_at(spans, given)
        if found is None and given.get("label"):
            raise b.error(
                f"relation {rel.get('label')!r} refers to a missing span {given.get('label')} "
                f"[{given.get('start')}, {given.get('end')})"
            )
        return found
    tok = rel.get(end)
    return span_of_token(spans, tokens, tok) if isinstance(tok, int) else None


def span_at(spans: list[Any], given: dict[str, Any]) -> Any:
    """Return the key of the span with ``given``'s offsets, its label first (spans may overlap)."""
    offsets = (given.get("start"), given.get("end"))
    same = [i for i, s in enumerate(spans) if (s.get("start"), s.get("end")) == offsets]
    labelled = [i for i in same if spans[i].get("label") == given.get("label")]
    return ("span", (labelled or same)[0]) if same else None


def span_of_token(spans: list[Any], tokens: list[Any], tok: int) -> Any:
    """Return the key of the first span holding token ``tok`` (by token indices, else by offsets)."""
    t = tokens[tok] if 0 <= tok < len(tokens) and isinstance(tokens[tok], dict) else None
    for i, s in enumerate(spans):
        if "token_start" in s and s["token_start"] <= tok <= s.get("token_end", -1):
            return ("span", i)
        if (
            t is not None
            and s.get("start", 0) <= t.get("start", -1)
            and t.get("end", 1 << 62) <= s.get("end", -1)
        ):
            return ("span", i)
    return None


def prodigy_meta(obj: dict[str, Any], unlabelled: list[Any]) -> dict[str, Any]:
    """Return the record's meta: the task's own meta, plus Prodigy's hashes and ids under ``prodigy``."""
    meta = dict(obj.get("meta") or {}) if isinstance(obj.get("meta"), dict) else {}
    kept = {k: obj[k] for k in KEPT_KEYS if k in obj}
    if unlabelled:
        kept["relations_between_unlabelled_tokens"] = unlabelled
    meta["prodigy"] = kept
    return meta
