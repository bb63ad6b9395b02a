"""The checks of one record: a fast schema pre-check, then the semantic checks Doccano does not make.

Each ``check_*`` function appends its findings to ``out`` in the order the record holds the
problems, so a file's findings read top to bottom. :class:`RecordRules` holds what they read of
the recipe; :class:`annotate.records.validate.Validator` runs them in order.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from annotate.recipe import RelationType
from annotate.records.findings import CHECKS, Finding
from annotate.records.model import HASH_PREFIX
from annotate.records.spans import TokenAligner, edge_fix

GOLD_KEYS = ("example_id", "annotator", "confirmed")

#: A well-formed span of a record: (index in ``entities``, id, start, end, label).
Span = tuple[int, int | None, int, int, str]


@dataclass(frozen=True)
class RecordRules:
    """What the record checks read of the recipe, and the file their findings name."""

    path: str | None = None
    allow_overlapping: bool = False
    allow_self_loops: bool = False
    labels: frozenset[str] | None = None
    relation_types: dict[str, RelationType] | None = None
    aligner: TokenAligner | None = None

    def finding(
        self, code: str, message: str, line: int | None, pointer: str | None, fix: Any = None
    ) -> Finding:
        """Return a finding of ``code`` at its registered level, in this file."""
        return Finding(code, CHECKS[code].level, message, self.path, line, pointer, fix)


# --------------------------------------------------------------------------- helpers


def _ptr(*parts: str | int) -> str:
    """Return a JSON pointer (RFC 6901) of ``parts``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _as_int(v: Any) -> int | None:
    """Return ``v`` as an int if it is an integral JSON number (not a bool), else None."""
    if type(v) is int:
        return v
    if type(v) is float and v.is_integer():
        return int(v)
    return None


def _short(s: str, n: int = 40) -> str:
    s = s if len(s) <= n else s[: n - 1] + "…"
    return json.dumps(s, ensure_ascii=False)


def _derived_id(text: str) -> str:
    """The doc_id that ``Record.from_dict`` gives a record without one (lone surrogates allowed)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# --------------------------------------------------------------------------- the fast schema check


_HEX64 = re.compile(r"[0-9a-f]{64}")


def fast_schema_ok(obj: dict[str, Any], kind: str) -> bool:
    """Return True only if ``obj`` certainly matches the schema of ``kind``.

    jsonschema runs at a few hundred records a second on news-sized records; this plain
    check accepts the common well-formed record in microseconds. When it says False, the
    real schema decides and reports. It must never accept what the schema rejects (a
    property test pins that).
    """
    if not _fast_doc_ok(obj):
        return False
    if kind == "article":
        return True
    ents = obj.get("entities")
    rels = obj.get("relations")
    if type(ents) is not list or type(rels) is not list:
        return False
    if not (_fast_entities_ok(ents) and _fast_relations_ok(rels)):
        return False
    return kind != "gold" or _fast_gold_ok(obj)


def _fast_doc_ok(obj: dict[str, Any]) -> bool:
    """Return True if text, doc_id, doc_hash and meta certainly match the schema."""
    if type(obj.get("text")) is not str:
        return False
    doc_id = obj.get("doc_id", "x")
    if not ((type(doc_id) is str and doc_id) or type(doc_id) is int):
        return False
    if "doc_hash" in obj:
        h = obj["doc_hash"]
        if type(h) is not str or len(h) != 71 or not h.startswith(HASH_PREFIX) or not _HEX64.fullmatch(h, 7):
            return False
    return not ("meta" in obj and type(obj["meta"]) is not dict)


def _fast_entities_ok(ents: list[Any]) -> bool:
    """Return True if every entity certainly matches the schema."""
    for e in ents:
        if type(e) is not dict:
            return False
        s = e.get("start_offset")
        t = e.get("end_offset")
        lab = e.get("label")
        if type(e.get("id")) is not int or type(s) is not int or type(t) is not int or s < 0 or t < 0:
            return False
        if type(lab) is not str or not lab:
            return False
        if len(e) > 4 and not _fast_optional_ok(e, with_text=True):
            return False
    return True


def _fast_relations_ok(rels: list[Any]) -> bool:
    """Return True if every relation certainly matches the schema."""
    for r in rels:
        if type(r) is not dict:
            return False
        if (
            type(r.get("id")) is not int
            or type(r.get("from_id")) is not int
            or type(r.get("to_id")) is not int
        ):
            return False
        ty = r.get("type")
        if type(ty) is not str or not ty:
            return False
        if len(r) > 4 and not _fast_optional_ok(r, with_text=False):
            return False
    return True


def _fast_gold_ok(obj: dict[str, Any]) -> bool:
    """Return True if the keys only gold records have certainly match the schema."""
    if "doc_id" not in obj or "doc_hash" not in obj:
        return False
    if not any(k in obj for k in GOLD_KEYS):
        return False
    if "example_id" in obj and type(obj["example_id"]) is not int:
        return False
    if "annotator" in obj and not (obj["annotator"] is None or type(obj["annotator"]) is str):
        return False
    if "confirmed" in obj and type(obj["confirmed"]) is not bool:
        return False
    return not ("comments" in obj and type(obj["comments"]) is not list)


def _fast_optional_ok(d: dict[str, Any], *, with_text: bool) -> bool:
    if "source" in d and (type(d["source"]) is not str or not d["source"]):
        return False
    if "score" in d and type(d["score"]) not in (int, float):
        return False
    return not (with_text and "text" in d and type(d["text"]) is not str)


# --------------------------------------------------------------------------- the document


def check_doc_id(
    rules: RecordRules,
    obj: dict[str, Any],
    kind: str,
    seen: dict[str, int | None],
    line: int | None,
    out: list[Finding],
) -> None:
    """E107 when the record's doc_id (or, without one, its text) was seen before; else remember it."""
    doc_id = obj.get("doc_id")
    text = obj.get("text")
    if isinstance(doc_id, (str, int)) and not isinstance(doc_id, bool):
        key = str(doc_id)
        annotator = obj.get("annotator")
        by = ""
        if kind == "gold" and isinstance(annotator, str):
            # Gold pulled per annotator holds one record a (document, annotator).
            key, by = f"{key}\x00{annotator}", f" for annotator {_short(annotator)}"
        if key in seen:
            first = seen[key]
            where = f" (first on line {first})" if first is not None else ""
            out.append(
                rules.finding("E107", f"duplicate doc_id {_short(str(doc_id))}{by}{where}", line, "/doc_id")
            )
        else:
            seen[key] = line
    elif doc_id is None and isinstance(text, str):
        # Without a doc_id the reader derives one from the text hash: equal texts collide.
        key = _derived_id(text)
        if key in seen:
            first = seen[key]
            where = f" (line {first})" if first is not None else ""
            msg = f"no doc_id, and the same text as an earlier record{where}: both get doc_id {key}"
            out.append(rules.finding("E107", msg, line, "/text"))
        else:
            seen[key] = line


def check_meta(rules: RecordRules, obj: dict[str, Any], line: int | None, out: list[Finding]) -> None:
    """W142 when a task's meta has an ``id`` key (Doccano would take it as the example id)."""
    meta = obj.get("meta")
    if isinstance(meta, dict) and "id" in meta:
        msg = "a meta key named id overrides Doccano's example id; rename it"
        out.append(rules.finding("W142", msg, line, "/meta/id"))


def check_text(
    rules: RecordRules, text: str, obj: dict[str, Any], line: int | None, out: list[Finding]
) -> None:
    """E104 when the text cannot be written as UTF-8; E132 when doc_hash is not its sha256."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as e:
        # A lone surrogate (from a "\ud800" escape) cannot be written back as UTF-8.
        out.append(
            rules.finding(
                "E104",
                f"text holds {text[e.start]!r} at offset {e.start}, which is not "
                "valid Unicode and cannot be written as UTF-8",
                line,
                "/text",
            )
        )
        raw = text.encode("utf-8", "surrogatepass")
    h = obj.get("doc_hash")
    if isinstance(h, str) and h.startswith(HASH_PREFIX):
        actual = HASH_PREFIX + hashlib.sha256(raw).hexdigest()
        if h != actual:
            msg = f"doc_hash does not match the text (it is {actual})"
            out.append(rules.finding("E132", msg, line, "/doc_hash", {"doc_hash": actual}))


# --------------------------------------------------------------------------- the spans


def check_entities(
    rules: RecordRules, text: str, ents: list[Any], line: int | None, out: list[Finding]
) -> tuple[list[Span], dict[int, int], dict[int, str]]:
    """Check each entity; return the well-formed spans, the index of each span id and its label.

    Entities the schema reported as malformed are skipped here. The loop runs once a span of
    every record, so the common, clean path makes no call of its own; findings are built apart.
    """
    n = len(text)
    labels, aligner = rules.labels, rules.aligner
    spans: list[Span] = []
    ids: dict[int, int] = {}
    labels_by_id: dict[int, str] = {}
    for i, e in enumerate(ents):
        if not isinstance(e, dict):
            continue
        sid = e.get("id")
        if type(sid) is not int:
            sid = _as_int(sid)
        if sid is not None:
            if sid in ids:
                out.append(_duplicate_id_finding(rules, i, sid, ids[sid], line))
            else:
                ids[sid] = i
        s = e.get("start_offset")
        if type(s) is not int:
            s = _as_int(s)
        t = e.get("end_offset")
        if type(t) is not int:
            t = _as_int(t)
        label = e.get("label")
        if s is None or t is None or type(label) is not str:
            continue
        if sid is not None and sid not in labels_by_id:
            labels_by_id[sid] = label
        if not (0 <= s < t <= n):
            out.append(_offsets_finding(rules, i, s, t, n, line))
            continue
        spans.append((i, sid, s, t, label))
        if labels is not None and label not in labels:
            out.append(_label_finding(rules, i, label, line))
        rec_text = e.get("text")
        if isinstance(rec_text, str) and rec_text != text[s:t]:
            out.append(_text_finding(rules, i, rec_text, text[s:t], line))
        if not (text[s].isalnum() and text[t - 1].isalnum()):
            _check_edges(rules, text, i, s, t, line, out)
        if aligner is not None:
            al = aligner.alignment(text, s, t)
            if al is not None:
                out.append(_token_finding(rules, aligner.lang, text, i, s, t, al, line))
    return spans, ids, labels_by_id


def _duplicate_id_finding(rules: RecordRules, i: int, sid: int, first: int, line: int | None) -> Finding:
    """E121 for entity ``i`` whose id ``sid`` is also the id of entity ``first``."""
    msg = f"entity id {sid} is also the id of /entities/{first}"
    return rules.finding("E121", msg, line, _ptr("entities", i, "id"))


def _label_finding(rules: RecordRules, i: int, label: str, line: int | None) -> Finding:
    """E126 for a span label the recipe does not have."""
    return rules.finding(
        "E126", f"label {_short(label)} is not in the recipe", line, _ptr("entities", i, "label")
    )


def _text_finding(rules: RecordRules, i: int, rec_text: str, surface: str, line: int | None) -> Finding:
    """E133 for a span whose recorded text is not the text slice; the fix is the slice."""
    msg = f"recorded text {_short(rec_text)} differs from the text slice {_short(surface)}"
    return rules.finding("E133", msg, line, _ptr("entities", i, "text"), {"text": surface})


def _offsets_finding(rules: RecordRules, i: int, s: int, t: int, n: int, line: int | None) -> Finding:
    """E120 for a span that is not ``0 <= start < end <= len(text)``, at the offset at fault."""
    if s < 0 or s >= n:
        p, why = "start_offset", f"start_offset {s} is outside the text (length {n})"
    elif t > n:
        p, why = "end_offset", f"end_offset {t} is past the end of the text (length {n})"
    else:
        p, why = "end_offset", f"end_offset {t} is not after start_offset {s}"
    return rules.finding("E120", why, line, _ptr("entities", i, p))


def _check_edges(
    rules: RecordRules, text: str, i: int, s: int, t: int, line: int | None, out: list[Finding]
) -> None:
    """W140 when the span starts or ends with whitespace or punctuation; the fix trims or removes it."""
    fixed = edge_fix(text, s, t)
    if fixed is None:
        return
    surface = text[s:t]
    a, b = fixed
    if a < b:
        msg = (
            f"span {_short(surface)} has whitespace or punctuation at its edge; "
            f"use [{a}, {b}) {_short(text[a:b])}"
        )
        fix: dict[str, Any] = {"start_offset": a, "end_offset": b}
    else:
        msg = f"span {_short(surface)} is only whitespace or punctuation; remove it"
        fix = {"remove": True}
    out.append(rules.finding("W140", msg, line, _ptr("entities", i), fix))


def _token_finding(
    rules: RecordRules,
    lang: str,
    text: str,
    i: int,
    s: int,
    t: int,
    al: tuple[tuple[int, int], tuple[int, int] | None],
    line: int | None,
) -> Finding:
    """W141 for a span off the tokenizer's tokens: the fix expands to ``al[0]`` or contracts to ``al[1]``."""
    (xs, xe), contract = al
    msg = (
        f"span [{s}, {t}) {_short(text[s:t])} does not align with the {lang} "
        f"tokens (spaCy's char_span would drop it); "
        f"expand to [{xs}, {xe}) {_short(text[xs:xe])}"
    )
    msg += (
        f" or contract to [{contract[0]}, {contract[1]}) {_short(text[contract[0] : contract[1]])}"
        if contract
        else "; no aligned span inside it"
    )
    fix = {"expand": [xs, xe], "contract": list(contract) if contract else None}
    return rules.finding("W141", msg, line, _ptr("entities", i), fix)


def check_overlaps(
    rules: RecordRules, spans: list[Span], text: str, line: int | None, out: list[Finding]
) -> None:
    """E131 for a span with the same offsets and label as another; E130 for overlaps (unless allowed).

    Each is reported at the later of the two spans in the file, naming the earlier.
    """
    if len(spans) < 2:
        return
    order = sorted(spans, key=lambda sp: (sp[2], sp[3], sp[0]))
    found: list[tuple[int, Finding]] = []
    active: list[Span] = []
    for sp in order:
        i, _, s, t, label = sp
        active = [a for a in active if a[3] > s]
        for a in active:
            first, second = (a, sp) if a[0] < i else (sp, a)
            fs, fe = first[2], first[3]
            desc = f"/entities/{first[0]} [{fs}, {fe}) {_short(text[fs:fe])} ({first[4]})"
            where = _ptr("entities", second[0])
            if a[2] == s and a[3] == t and a[4] == label:
                found.append(
                    (
                        second[0],
                        rules.finding(
                            "E131", f"same offsets and label as {desc}", line, where, {"remove": True}
                        ),
                    )
                )
            elif not rules.allow_overlapping:
                found.append((second[0], rules.finding("E130", f"overlaps {desc}", line, where)))
        active.append(sp)
    found.sort(key=lambda x: x[0])
    out.extend(fd for _, fd in found)


# --------------------------------------------------------------------------- the relations


def check_relations(
    rules: RecordRules,
    rels: list[Any],
    labels_by_id: dict[int, str],
    ids: dict[int, int],
    line: int | None,
    out: list[Finding],
) -> None:
    """Check each relation: its id, its endpoints, its type, duplicates and the allowed label pairs."""
    seen_ids: dict[int, int] = {}
    seen: dict[tuple[int, int, str], int] = {}
    for k, r in enumerate(rels):
        if not isinstance(r, dict):
            continue
        _relation_id(rules, r, k, seen_ids, line, out)
        h = _as_int(r.get("from_id"))
        t = _as_int(r.get("to_id"))
        ty = r.get("type")
        if h is None or t is None or not isinstance(ty, str):
            continue
        missing = _check_endpoints(rules, k, h, t, ids, line, out)
        if h == t and not rules.allow_self_loops:
            msg = f"relation {_short(ty)} goes from span {h} to itself"
            out.append(rules.finding("E123", msg, line, _ptr("relations", k)))
        rt = _relation_type(rules, ty, k, line, out)
        _check_duplicate(rules, k, (h, t, ty), rt, seen, line, out)
        if rt is not None and not missing and h in labels_by_id and t in labels_by_id:
            _check_allowed(rules, rt, k, labels_by_id[h], labels_by_id[t], line, out)


def _relation_id(
    rules: RecordRules,
    r: dict[str, Any],
    k: int,
    seen_ids: dict[int, int],
    line: int | None,
    out: list[Finding],
) -> None:
    """E125 when an earlier relation has this relation's id; else remember it."""
    rid = _as_int(r.get("id"))
    if rid is None:
        return
    if rid in seen_ids:
        msg = f"relation id {rid} is also the id of /relations/{seen_ids[rid]}"
        out.append(rules.finding("E125", msg, line, _ptr("relations", k, "id")))
    else:
        seen_ids[rid] = k


def _check_endpoints(
    rules: RecordRules, k: int, h: int, t: int, ids: dict[int, int], line: int | None, out: list[Finding]
) -> bool:
    """E122 for each endpoint that is not a span id; return True if one is missing."""
    missing = False
    for end_key, sid in (("from_id", h), ("to_id", t)):
        if sid not in ids:
            msg = f"{end_key} {sid} is not the id of a span of this record"
            out.append(rules.finding("E122", msg, line, _ptr("relations", k, end_key)))
            missing = True
    return missing


def _relation_type(
    rules: RecordRules, ty: str, k: int, line: int | None, out: list[Finding]
) -> RelationType | None:
    """Return the recipe's relation type ``ty`` (None without a recipe); E127 when it has none."""
    if rules.relation_types is None:
        return None
    rt = rules.relation_types.get(ty)
    if rt is None:
        msg = f"relation type {_short(ty)} is not in the recipe"
        out.append(rules.finding("E127", msg, line, _ptr("relations", k, "type")))
    return rt


def _check_duplicate(
    rules: RecordRules,
    k: int,
    key: tuple[int, int, str],
    rt: RelationType | None,
    seen: dict[tuple[int, int, str], int],
    line: int | None,
    out: list[Finding],
) -> None:
    """E124 when an earlier relation has the same (head, tail, type); undirected types ignore the order."""
    h, t, ty = key
    if rt is not None and not rt.directed:
        key = (min(h, t), max(h, t), ty)
    if key in seen:
        out.append(
            rules.finding(
                "E124",
                f"same relation as /relations/{seen[key]}",
                line,
                _ptr("relations", k),
                {"remove": True},
            )
        )
    else:
        seen[key] = k


def _check_allowed(
    rules: RecordRules, rt: RelationType, k: int, hl: str, tl: str, line: int | None, out: list[Finding]
) -> None:
    """E128 when the recipe does not allow ``rt`` from label ``hl`` to label ``tl``."""
    if not rt.allows(hl, tl):
        pairs = ", ".join(f"{a}->{b}" for a, b in rt.allowed)
        msg = f"{rt.name} is not allowed from {hl} to {tl} (allowed: {pairs})"
        out.append(rules.finding("E128", msg, line, _ptr("relations", k)))
