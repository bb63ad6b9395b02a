"""Validation: the JSON Schemas plus the semantic checks that Doccano does not make.

Every command that reads or writes records uses this module: push validates before it
uploads, pull before it renames its output into place, and the tests of export and
pre-annotation assert validity with it.

- ``Validator(kind, recipe)`` is built once per file; ``.check(obj, line)`` returns the
  findings of one record (schema first, then the semantic checks).
- ``validate_file(path)`` collects *every* finding of a file, file-level ones included
  (invalid JSON, not UTF-8, BOM, non-object, duplicate ``doc_id``), into a ValidationReport.
- ``validate_records(records, kind=...)`` does the same for records in memory.

Each finding has a stable code (see ``CHECKS``), a level (``error`` or ``warning``), the
physical line and a JSON pointer into the record.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from annotate.errors import ConfigError, DataError
from annotate.fileio import is_stdio, open_binary
from annotate.recipe import Recipe
from annotate.records.model import HASH_PREFIX, Record

ERROR = "error"
WARNING = "warning"
KINDS = ("task", "gold", "article", "recipe")
RECORD_KINDS = ("task", "gold", "article")
GOLD_KEYS = ("example_id", "annotator", "confirmed")


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    level: str
    description: str


_CHECK_LIST = [
    Check("E102", "invalid-json", ERROR, "a line is not valid JSON"),
    Check("E103", "bom", ERROR, "the file starts with a UTF-8 byte order mark"),
    Check("E104", "not-utf8", ERROR, "a line is not valid UTF-8"),
    Check("E105", "not-object", ERROR, "a record is not a JSON object"),
    Check("E107", "duplicate-doc-id", ERROR, "two records have the same doc_id"),
    Check("W108", "no-records", WARNING, "the file holds no record"),
    Check("E110", "schema", ERROR, "the record does not match the JSON Schema of its kind"),
    Check("E120", "offsets", ERROR, "a span is not 0 <= start < end <= len(text)"),
    Check("E121", "duplicate-entity-id", ERROR, "two spans of a record have the same id"),
    Check("E122", "missing-endpoint", ERROR, "a relation's from_id or to_id is not a span id"),
    Check("E123", "self-loop", ERROR, "a relation goes from a span to itself (the recipe does not allow it)"),
    Check("E124", "duplicate-relation", ERROR, "the same relation (head, tail, type) is there twice"),
    Check("E125", "duplicate-relation-id", ERROR, "two relations of a record have the same id"),
    Check("E126", "unknown-label", ERROR, "a span label is not in the recipe"),
    Check("E127", "unknown-relation-type", ERROR, "a relation type is not in the recipe"),
    Check(
        "E128",
        "relation-not-allowed",
        ERROR,
        "the recipe does not allow this relation type between these labels",
    ),
    Check("E130", "overlapping-spans", ERROR, "two spans overlap (the recipe does not allow it)"),
    Check("E131", "duplicate-span", ERROR, "two spans have the same offsets and label"),
    Check("E132", "doc-hash-mismatch", ERROR, "doc_hash is not the sha256 of the text"),
    Check("E133", "span-text-mismatch", ERROR, "a span's recorded text differs from the text slice"),
    Check("W140", "span-edge", WARNING, "whitespace or punctuation at a span's edge"),
    Check("W141", "token-misaligned", WARNING, "a span does not align with the recipe tokenizer's tokens"),
    Check("W142", "meta-id", WARNING, "a meta key named id would override Doccano's example id"),
    Check("E150", "recipe-syntax", ERROR, "the recipe is not valid TOML"),
    Check("E151", "recipe-invalid", ERROR, "the recipe is rejected by the recipe loader"),
]
CHECKS: dict[str, Check] = {c.code: c for c in _CHECK_LIST}


@dataclass(frozen=True)
class Finding:
    """One problem: ``file:line: /pointer: [CODE] message``; ``fix`` is a machine-readable remedy."""

    code: str
    level: str
    message: str
    path: str | None = None
    line: int | None = None
    pointer: str | None = None
    fix: dict[str, Any] | None = None

    @property
    def check(self) -> str:
        """The check's short name (``offsets``, ``overlapping-spans``, ...)."""
        c = CHECKS.get(self.code)
        return c.name if c else self.code

    def __str__(self) -> str:
        where = self.path or "<records>"
        if self.line is not None:
            where += f":{self.line}"
        if self.pointer is not None:
            where += f": {self.pointer or '/'}"
        return f"{where}: [{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "pointer": self.pointer,
            "code": self.code,
            "check": self.check,
            "level": self.level,
            "message": self.message,
            "fix": self.fix,
        }


class ValidationFailed(DataError):
    """A file or a set of records did not validate (exit 1). ``report`` has every finding."""

    code = "E119"

    def __init__(self, report: ValidationReport, *, strict: bool = False) -> None:
        self.report = report
        bad = [f for f in report.findings if f.level == ERROR or strict]
        first = "; ".join(str(f) for f in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        super().__init__(
            f"{report.path}: {report.n_errors} errors, {report.n_warnings} warnings: {first}{more}",
            hint=f"run `annotate validate {report.path}` for every finding",
        )


@dataclass
class ValidationReport:
    """The findings of one file (or record set), in input order."""

    path: str
    kind: str
    findings: list[Finding] = field(default_factory=list)
    n_records: int = 0
    # True when --max-errors stopped the validation before the end of the input.
    truncated: bool = False

    @property
    def counts(self) -> Counter[str]:
        """Findings by code."""
        return Counter(f.code for f in self.findings)

    @property
    def n_errors(self) -> int:
        return sum(1 for f in self.findings if f.level == ERROR)

    @property
    def n_warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == WARNING)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.n_errors == 0

    @property
    def ok_strict(self) -> bool:
        """True when there is no finding at all (``--strict``)."""
        return not self.findings

    def passed(self, *, strict: bool = False) -> bool:
        return self.ok_strict if strict else self.ok

    def raise_for_errors(self, *, strict: bool = False) -> None:
        """Raise ValidationFailed unless the report passed."""
        if not self.passed(strict=strict):
            raise ValidationFailed(self, strict=strict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "records": self.n_records,
            "errors": self.n_errors,
            "warnings": self.n_warnings,
            "truncated": self.truncated,
            "counts": dict(sorted(self.counts.items())),
            "findings": [f.to_dict() for f in self.findings],
        }


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


# Characters that may never start or end a span; brackets and quotes are allowed when balanced.
_OPENERS = {"(": ")", "[": "]", "{": "}", "“": "”", "‘": "’", "«": "»", "‹": "›"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_SYMMETRIC_QUOTES = {'"', "'", "`"}
# A trailing full stop is part of these words (Gen. Votel, Acme Inc.).
_ABBREVIATIONS = frozenset(
    "Inc Ltd Co Corp Jr Sr St Gen Col Lt Mr Mrs Ms Dr Prof Sgt Capt Maj Adm Gov Sen Rep Bros Mt No "
    "vs etc Ave Dept Univ Assn Brig Cmdr Cpl Pvt Rev Hon Esq Ft "
    "Jan Feb Mar Apr Aug Sep Sept Oct Nov Dec".split()
)


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _edge_ok_start(span: str) -> bool:
    ch = span[0]
    if ch.isspace():
        return False
    if not _is_punct(ch):
        return True
    if ch in _OPENERS:
        return _OPENERS[ch] in span[1:]
    if ch in _SYMMETRIC_QUOTES:
        return span.count(ch) % 2 == 0
    # Leading #, @, & and the like are part of names and handles; other punctuation is not.
    return ch in "#@&¿¡"


def _edge_ok_end(span: str) -> bool:
    ch = span[-1]
    if ch.isspace():
        return False
    if not _is_punct(ch):
        return True
    if ch in _CLOSERS:
        return _CLOSERS[ch] in span[:-1]
    if ch in _SYMMETRIC_QUOTES:
        return span.count(ch) % 2 == 0
    if ch == ".":
        body = span[:-1]
        word = re.split(r"[^\w.]", body)[-1] if body else ""
        # U.S. / a.m.: a dotted abbreviation; J.: an initial; Inc.: a known abbreviation.
        return "." in word or (len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS
    return ch == "%"  # 50%


def edge_fix(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Return the span with edge whitespace/punctuation stripped, or None if the edges are fine.

    The result may be empty (``start == end``) when the span is all whitespace or punctuation.
    """
    if text[start].isalnum() and text[end - 1].isalnum():
        return None  # the common case, decided without slicing
    s, e = start, end
    while s < e and not _edge_ok_start(text[s:e]):
        s += 1
    while s < e and not _edge_ok_end(text[s:e]):
        e -= 1
    # Stripping the end may have unbalanced a kept opener at the start, and vice versa.
    while s < e and not (_edge_ok_start(text[s:e]) and _edge_ok_end(text[s:e])):
        if not _edge_ok_start(text[s:e]):
            s += 1
        else:
            e -= 1
    return None if (s, e) == (start, end) else (s, e)


_NON_WS = re.compile(r"\S+")
_CHUNK_TAIL = re.compile(r"\S*\Z")  # the non-whitespace run that ends a window


class TokenAligner:
    """Token boundaries of a spaCy tokenizer, computed per whitespace-delimited chunk.

    spaCy splits text on whitespace first and tokenizes each chunk on its own, so the
    boundaries inside one chunk do not depend on the rest of the document. Tokenizing only
    the chunks at a span's edges (cached) is what makes the check cheap.
    """

    _instances: dict[str, TokenAligner] = {}

    def __init__(self, lang: str) -> None:
        try:
            import spacy

            self.tokenizer = spacy.blank(lang).tokenizer
        except (ImportError, OSError, ValueError) as e:  # unknown language code
            raise ConfigError(f"cannot build a spaCy tokenizer for language {lang!r}: {e}") from None
        self.lang = lang
        self._cache: dict[str, tuple[list[int], list[int]]] = {}

    @classmethod
    def for_lang(cls, lang: str) -> TokenAligner:
        """Return the shared aligner of ``lang`` (spaCy's blank pipeline is built once)."""
        if lang not in cls._instances:
            cls._instances[lang] = cls(lang)
        return cls._instances[lang]

    def _chunk_bounds(self, chunk: str) -> tuple[list[int], list[int]]:
        b = self._cache.get(chunk)
        if b is None:
            doc = self.tokenizer(chunk)
            b = ([t.idx for t in doc], [t.idx + len(t) for t in doc])
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[chunk] = b
        return b

    @staticmethod
    def _chunk_at(text: str, pos: int) -> tuple[int, int]:
        """Return (start, end) of the non-whitespace run holding ``text[pos]``.

        Scanning from ``pos`` to the nearest whitespace on either side costs the length of
        one word, where listing every chunk of the text costs the whole text.
        """
        m = _NON_WS.match(text, pos)
        end = m.end() if m is not None else pos + 1
        # Search backwards in growing windows (re has no reverse search): in a text without
        # spaces (Chinese, Japanese) the chunk is the whole text, and a char loop would crawl.
        width = 64
        while True:
            lo = max(0, pos - width)
            w = _CHUNK_TAIL.search(text, lo, pos)
            s = w.start() if w is not None else pos
            if s > lo or lo == 0 or text[lo - 1].isspace():
                return s, end
            width *= 4

    def _doc_bounds(self, text: str) -> tuple[list[int], list[int]]:
        doc = self.tokenizer(text)
        return [t.idx for t in doc], [t.idx + len(t) for t in doc]

    def alignment(
        self, text: str, start: int, end: int
    ) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
        """Return None if ``[start, end)`` is token-aligned, else ``(expand, contract)``.

        ``expand`` is the smallest aligned span holding it, ``contract`` the largest aligned
        span inside it (None when there is none).
        """
        n = len(text)
        if text[start].isspace() or text[end - 1].isspace():
            # Whitespace runs become tokens in spaCy; use the whole document there.
            starts, ends = self._doc_bounds(text)
            return _align(starts, ends, start, end, 0, n)
        if (start == 0 or text[start - 1].isspace()) and (end == n or text[end].isspace()):
            return None  # both edges at whitespace: always token boundaries
        # The chunk (maximal non-whitespace run) around each edge.
        cs, ce = self._chunk_at(text, start)
        es, ee = (cs, ce) if end <= ce else self._chunk_at(text, end - 1)
        s_starts, _ = self._chunk_bounds(text[cs:ce]) if start != cs else ([0], [])
        _, e_ends = self._chunk_bounds(text[es:ee]) if end != ee else ([], [ee - es])
        start_ok = (start - cs) in s_starts
        end_ok = (end - es) in e_ends
        if start_ok and end_ok:
            return None
        # Expand: nearest boundary outward. Contract: nearest boundary inward, or the next
        # (previous) chunk when the edge is in the chunk's last (first) token.
        if start_ok:
            xs = cts = start
        else:
            i = bisect_right(s_starts, start - cs) - 1
            xs = cs + s_starts[i]
            j = bisect_left(s_starts, start - cs)
            if j < len(s_starts):
                cts = cs + s_starts[j]
            else:
                # The start of the next chunk, or the end of the text.
                m = _NON_WS.search(text, ce)
                cts = m.start() if m is not None else n
        if end_ok:
            xe = cte = end
        else:
            j = bisect_left(e_ends, end - es)
            xe = es + e_ends[j] if j < len(e_ends) else ee
            i = bisect_right(e_ends, end - es) - 1
            if i >= 0:
                cte = es + e_ends[i]
            else:
                # The end of the previous chunk, or the start of the text.
                cte = es
                while cte > 0 and text[cte - 1].isspace():
                    cte -= 1
        contract = (cts, cte) if cts < cte else None
        return (xs, xe), contract


def _align(
    starts: list[int], ends: list[int], start: int, end: int, lo: int, hi: int
) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
    if start in starts and end in ends:
        return None
    i = bisect_right(starts, start) - 1
    xs = starts[i] if i >= 0 else lo
    j = bisect_left(starts, start)
    cts = starts[j] if j < len(starts) else hi
    j = bisect_left(ends, end)
    xe = ends[j] if j < len(ends) else hi
    i = bisect_right(ends, end) - 1
    cte = ends[i] if i >= 0 else lo
    return (xs, xe), ((cts, cte) if cts < cte else None)


# --------------------------------------------------------------------------- the validator


def detect_kind(obj: Any) -> str:
    """Return the record kind of a JSON object: gold, task or article (task if unclear)."""
    if isinstance(obj, dict):
        if any(k in obj for k in GOLD_KEYS):
            return "gold"
        # A Doccano sequence-labeling record ("label": [[start, end, label]]) is task-shaped
        # data in the wrong format: checking it as a task says so, as an article would not.
        if "entities" in obj or "relations" in obj or isinstance(obj.get("label"), list):
            return "task"
        if "text" in obj:
            return "article"
    return "task"


def _fast_schema_ok(obj: dict[str, Any], kind: str) -> bool:
    """Return True only if ``obj`` certainly matches the schema of ``kind``.

    jsonschema runs at a few hundred records a second on news-sized records; this plain
    check accepts the common well-formed record in microseconds. When it says False, the
    real schema decides and reports. It must never accept what the schema rejects (a
    property test pins that).
    """
    if type(obj.get("text")) is not str:
        return False
    doc_id = obj.get("doc_id", "x")
    if not ((type(doc_id) is str and doc_id) or type(doc_id) is int):
        return False
    if "doc_hash" in obj:
        h = obj["doc_hash"]
        if type(h) is not str or len(h) != 71 or not h.startswith(HASH_PREFIX) or not _HEX64.fullmatch(h, 7):
            return False
    if "meta" in obj and type(obj["meta"]) is not dict:
        return False
    if kind == "article":
        return True
    ents = obj.get("entities")
    rels = obj.get("relations")
    if type(ents) is not list or type(rels) is not list:
        return False
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
    if kind == "gold":
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
        if "comments" in obj and type(obj["comments"]) is not list:
            return False
    return True


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _fast_optional_ok(d: dict[str, Any], *, with_text: bool) -> bool:
    if "source" in d and (type(d["source"]) is not str or not d["source"]):
        return False
    if "score" in d and type(d["score"]) not in (int, float):
        return False
    return not (with_text and "text" in d and type(d["text"]) is not str)


class Validator:
    """Checks records of one kind against a recipe. Build once per file, then ``check`` each record.

    It remembers the doc_ids it has seen (to report duplicates); ``reset()`` forgets them.
    """

    def __init__(
        self, kind: str, recipe: Recipe | None = None, *, path: str | None = None, tokens: bool = True
    ) -> None:
        if kind not in RECORD_KINDS:
            raise ValueError(f"kind must be one of {RECORD_KINDS}, not {kind!r}")
        from annotate.records import schemas

        self.kind = kind
        self.recipe = recipe
        self.path = path
        self.schema = schemas.validator(kind)
        # No recipe means the recipe defaults: no overlaps, no self-loops (Doccano's relation
        # projects reject overlapping spans and drop them silently on import), any label.
        self.allow_overlapping = recipe.allow_overlapping if recipe else False
        self.allow_self_loops = recipe.allow_self_loops if recipe else False
        self.labels = frozenset(recipe.label_names) if recipe and recipe.labels else None
        self.relation_types = (
            {r.name: r for r in recipe.relation_types} if recipe and recipe.relation_types else None
        )
        # The token check needs spaCy (seconds to import); callers that act only on errors skip it.
        self.aligner = TokenAligner.for_lang(recipe.lang) if recipe and tokens else None
        self._seen: dict[str, int | None] = {}

    def reset(self) -> None:
        self._seen.clear()

    def _f(self, code: str, message: str, line: int | None, pointer: str | None, fix: Any = None) -> Finding:
        return Finding(code, CHECKS[code].level, message, self.path, line, pointer, fix)

    def check(self, obj: Any, line: int | None = None) -> list[Finding]:
        """Return the findings of one record (schema first, then semantic checks)."""
        if isinstance(obj, Record):
            obj = obj.to_dict()
        if not isinstance(obj, dict):
            return [self._f("E105", f"a record must be a JSON object, not {_json_type(obj)}", line, "")]
        out: list[Finding] = []
        if not _fast_schema_ok(obj, self.kind):
            for err in self.schema.iter_errors(obj):
                out.append(
                    self._f(
                        "E110",
                        err.message if len(err.message) < 200 else _schema_msg(err),
                        line,
                        _ptr(*err.absolute_path),
                    )
                )
        self._check_doc(obj, line, out)
        if self.kind != "article":
            self._check_annotations(obj, line, out)
        return out

    def _check_doc(self, obj: dict[str, Any], line: int | None, out: list[Finding]) -> None:
        text = obj.get("text")
        doc_id = obj.get("doc_id")
        if isinstance(doc_id, (str, int)) and not isinstance(doc_id, bool):
            key = str(doc_id)
            annotator = obj.get("annotator")
            by = ""
            if self.kind == "gold" and isinstance(annotator, str):
                # Gold pulled per annotator holds one record a (document, annotator).
                key, by = f"{key}\x00{annotator}", f" for annotator {_short(annotator)}"
            if key in self._seen:
                first = self._seen[key]
                where = f" (first on line {first})" if first is not None else ""
                out.append(
                    self._f("E107", f"duplicate doc_id {_short(str(doc_id))}{by}{where}", line, "/doc_id")
                )
            else:
                self._seen[key] = line
        elif doc_id is None and isinstance(text, str):
            # Without a doc_id the reader derives one from the text hash: equal texts collide.
            key = _derived_id(text)
            if key in self._seen:
                first = self._seen[key]
                where = f" (line {first})" if first is not None else ""
                out.append(
                    self._f(
                        "E107",
                        f"no doc_id, and the same text as an earlier record{where}: both get doc_id {key}",
                        line,
                        "/text",
                    )
                )
            else:
                self._seen[key] = line
        meta = obj.get("meta")
        if self.kind == "task" and isinstance(meta, dict) and "id" in meta:
            out.append(
                self._f(
                    "W142", "a meta key named id overrides Doccano's example id; rename it", line, "/meta/id"
                )
            )
        if not isinstance(text, str):
            return
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError as e:
            # A lone surrogate (from a "\ud800" escape) cannot be written back as UTF-8.
            out.append(
                self._f(
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
                out.append(
                    self._f(
                        "E132",
                        f"doc_hash does not match the text (it is {actual})",
                        line,
                        "/doc_hash",
                        {"doc_hash": actual},
                    )
                )

    def _check_annotations(self, obj: dict[str, Any], line: int | None, out: list[Finding]) -> None:
        text = obj.get("text")
        ents = obj.get("entities")
        if not isinstance(text, str) or not isinstance(ents, list):
            return
        n = len(text)
        f = self._f
        # Well-formed spans only (the schema reported the others): (index, id, start, end, label).
        spans: list[tuple[int, int | None, int, int, str]] = []
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
                    out.append(
                        f(
                            "E121",
                            f"entity id {sid} is also the id of /entities/{ids[sid]}",
                            line,
                            _ptr("entities", i, "id"),
                        )
                    )
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
                if s < 0 or s >= n:
                    p, why = "start_offset", f"start_offset {s} is outside the text (length {n})"
                elif t > n:
                    p, why = "end_offset", f"end_offset {t} is past the end of the text (length {n})"
                else:
                    p, why = "end_offset", f"end_offset {t} is not after start_offset {s}"
                out.append(f("E120", why, line, _ptr("entities", i, p)))
                continue
            spans.append((i, sid, s, t, label))
            if self.labels is not None and label not in self.labels:
                out.append(
                    f(
                        "E126",
                        f"label {_short(label)} is not in the recipe",
                        line,
                        _ptr("entities", i, "label"),
                    )
                )
            surface = text[s:t]
            rec_text = e.get("text")
            if isinstance(rec_text, str) and rec_text != surface:
                out.append(
                    f(
                        "E133",
                        f"recorded text {_short(rec_text)} differs from the text slice {_short(surface)}",
                        line,
                        _ptr("entities", i, "text"),
                        {"text": surface},
                    )
                )
            fixed = None if text[s].isalnum() and text[t - 1].isalnum() else edge_fix(text, s, t)
            if fixed is not None:
                a, b = fixed
                if a < b:
                    msg = (
                        f"span {_short(surface)} has whitespace or punctuation at its edge; "
                        f"use [{a}, {b}) {_short(text[a:b])}"
                    )
                    fix: dict[str, Any] | None = {"start_offset": a, "end_offset": b}
                else:
                    msg = f"span {_short(surface)} is only whitespace or punctuation; remove it"
                    fix = {"remove": True}
                out.append(f("W140", msg, line, _ptr("entities", i), fix))
            if self.aligner is not None:
                al = self.aligner.alignment(text, s, t)
                if al is not None:
                    (xs, xe), contract = al
                    msg = (
                        f"span [{s}, {t}) {_short(surface)} does not align with the {self.aligner.lang} "
                        f"tokens (spaCy's char_span would drop it); "
                        f"expand to [{xs}, {xe}) {_short(text[xs:xe])}"
                    )
                    msg += (
                        f" or contract to [{contract[0]}, {contract[1]}) "
                        f"{_short(text[contract[0] : contract[1]])}"
                        if contract
                        else "; no aligned span inside it"
                    )
                    out.append(
                        f(
                            "W141",
                            msg,
                            line,
                            _ptr("entities", i),
                            {"expand": [xs, xe], "contract": list(contract) if contract else None},
                        )
                    )
        self._check_overlaps(spans, text, line, out)
        rels = obj.get("relations")
        if isinstance(rels, list):
            self._check_relations(rels, labels_by_id, ids, line, out)

    def _check_overlaps(
        self,
        spans: list[tuple[int, int | None, int, int, str]],
        text: str,
        line: int | None,
        out: list[Finding],
    ) -> None:
        if len(spans) < 2:
            return
        order = sorted(spans, key=lambda sp: (sp[2], sp[3], sp[0]))
        found: list[tuple[int, Finding]] = []
        active: list[tuple[int, int | None, int, int, str]] = []
        for sp in order:
            i, _, s, t, label = sp
            active = [a for a in active if a[3] > s]
            for a in active:
                # Report at the later of the two in the file, naming the earlier.
                first, second = (a, sp) if a[0] < i else (sp, a)
                fs, fe = first[2], first[3]
                desc = f"/entities/{first[0]} [{fs}, {fe}) {_short(text[fs:fe])} ({first[4]})"
                if a[2] == s and a[3] == t and a[4] == label:
                    found.append(
                        (
                            second[0],
                            self._f(
                                "E131",
                                f"same offsets and label as {desc}",
                                line,
                                _ptr("entities", second[0]),
                                {"remove": True},
                            ),
                        )
                    )
                elif not self.allow_overlapping:
                    found.append(
                        (second[0], self._f("E130", f"overlaps {desc}", line, _ptr("entities", second[0])))
                    )
            active.append(sp)
        found.sort(key=lambda x: x[0])
        out.extend(fd for _, fd in found)

    def _check_relations(
        self,
        rels: list[Any],
        labels_by_id: dict[int, str],
        ids: dict[int, int],
        line: int | None,
        out: list[Finding],
    ) -> None:
        f = self._f
        seen_ids: dict[int, int] = {}
        seen: dict[tuple[int, int, str], int] = {}
        for k, r in enumerate(rels):
            if not isinstance(r, dict):
                continue
            rid = _as_int(r.get("id"))
            if rid is not None:
                if rid in seen_ids:
                    out.append(
                        f(
                            "E125",
                            f"relation id {rid} is also the id of /relations/{seen_ids[rid]}",
                            line,
                            _ptr("relations", k, "id"),
                        )
                    )
                else:
                    seen_ids[rid] = k
            h = _as_int(r.get("from_id"))
            t = _as_int(r.get("to_id"))
            ty = r.get("type")
            if h is None or t is None or not isinstance(ty, str):
                continue
            missing = False
            for end_key, sid in (("from_id", h), ("to_id", t)):
                if sid not in ids:
                    out.append(
                        f(
                            "E122",
                            f"{end_key} {sid} is not the id of a span of this record",
                            line,
                            _ptr("relations", k, end_key),
                        )
                    )
                    missing = True
            if h == t and not self.allow_self_loops:
                out.append(
                    f(
                        "E123",
                        f"relation {_short(ty)} goes from span {h} to itself",
                        line,
                        _ptr("relations", k),
                    )
                )
            rt = None
            if self.relation_types is not None:
                rt = self.relation_types.get(ty)
                if rt is None:
                    out.append(
                        f(
                            "E127",
                            f"relation type {_short(ty)} is not in the recipe",
                            line,
                            _ptr("relations", k, "type"),
                        )
                    )
            key = (h, t, ty)
            if rt is not None and not rt.directed:
                key = (min(h, t), max(h, t), ty)
            if key in seen:
                out.append(
                    f(
                        "E124",
                        f"same relation as /relations/{seen[key]}",
                        line,
                        _ptr("relations", k),
                        {"remove": True},
                    )
                )
            else:
                seen[key] = k
            if rt is not None and not missing and h in labels_by_id and t in labels_by_id:
                hl, tl = labels_by_id[h], labels_by_id[t]
                if not rt.allows(hl, tl):
                    pairs = ", ".join(f"{a}->{b}" for a, b in rt.allowed)
                    out.append(
                        f(
                            "E128",
                            f"{ty} is not allowed from {hl} to {tl} (allowed: {pairs})",
                            line,
                            _ptr("relations", k),
                        )
                    )


def _derived_id(text: str) -> str:
    """The doc_id that ``Record.from_dict`` gives a record without one (lone surrogates allowed)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return type(v).__name__


def _schema_msg(err: Any) -> str:
    """A short message for schema errors whose default message quotes a whole record."""
    if err.validator == "anyOf" and err.schema_path and "required" in json.dumps(err.schema.get("anyOf", "")):
        keys = [next(iter(s.get("required", [])), "?") for s in err.schema["anyOf"]]
        return f"needs at least one of {', '.join(keys)}"
    return f"fails the schema's {err.validator!r} rule"


# --------------------------------------------------------------------------- files


_BOM = b"\xef\xbb\xbf"


def _bom_finding(name: str) -> Finding:
    """E103 for a file that starts with a UTF-8 byte order mark (JSONL or whole-file JSON)."""
    return Finding(
        "E103",
        ERROR,
        "the file starts with a UTF-8 byte order mark; save it without",
        name,
        1,
        None,
        {"strip_bom": True},
    )


def _physical_lines(f: IO[bytes]) -> Iterator[bytes]:
    """Yield lines split as text mode with ``newline=''`` splits them (\\n, \\r\\n and \\r)."""
    for raw in f:
        if b"\r" in raw[:-2]:
            yield from raw.splitlines(keepends=True)
        else:
            yield raw


def iter_jsonl_lenient(path: str | os.PathLike[str], name: str) -> Iterator[tuple[int, Any, Finding | None]]:
    """Yield ``(line, value, None)`` per JSON line, or ``(line, None, finding)`` per broken line.

    Unlike ``fileio.iter_jsonl`` it never stops at a broken line: every one is reported.
    Blank lines are skipped but counted, so line numbers are physical.
    """
    f = open_binary(path)
    try:
        for lineno, raw in enumerate(_physical_lines(f), start=1):
            if lineno == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
                yield 1, None, _bom_finding(name)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield (
                    lineno,
                    None,
                    Finding(
                        "E104",
                        ERROR,
                        f"not UTF-8: {e.reason} at byte {e.start} of the line",
                        name,
                        lineno,
                        None,
                    ),
                )
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_constant=_reject_constant)
            except ValueError as e:  # JSONDecodeError, or NaN/Infinity
                yield lineno, None, Finding("E102", ERROR, _json_msg(e), name, lineno, None)
                continue
            except RecursionError:
                yield (
                    lineno,
                    None,
                    Finding("E102", ERROR, "invalid JSON: nested too deeply", name, lineno, None),
                )
                continue
            yield lineno, obj, None
    finally:
        if not is_stdio(path):
            f.close()


def _iter_json_document(path: str | os.PathLike[str], name: str) -> Iterator[tuple[int, Any, Finding | None]]:
    """Yield the record(s) of a whole-file ``.json`` document: one object, or an array of them."""
    with open_binary(path) as f:
        data = f.read()
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
        yield 1, None, _bom_finding(name)
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        yield line, None, Finding("E104", ERROR, f"not UTF-8: {e.reason}", name, line, None)
        return
    dec = json.JSONDecoder(parse_constant=_reject_constant)
    ws = re.compile(r"\s*")
    pos = ws.match(s, 0).end()  # type: ignore[union-attr]
    try:
        if s.startswith("[", pos):
            pos = ws.match(s, pos + 1).end()  # type: ignore[union-attr]
            if s.startswith("]", pos):
                return
            while True:
                line = s.count("\n", 0, pos) + 1
                obj, pos = dec.raw_decode(s, pos)
                yield line, obj, None
                pos = ws.match(s, pos).end()  # type: ignore[union-attr]
                if s.startswith(",", pos):
                    pos = ws.match(s, pos + 1).end()  # type: ignore[union-attr]
                    continue
                if s.startswith("]", pos):
                    pos += 1
                    break
                raise json.JSONDecodeError("expected ',' or ']'", s, pos)
        else:
            line = s.count("\n", 0, pos) + 1
            obj, pos = dec.raw_decode(s, pos)
            yield line, obj, None
        if s[pos:].strip():
            raise json.JSONDecodeError("extra data after the document", s, ws.match(s, pos).end())  # type: ignore[union-attr]
    except ValueError as e:  # JSONDecodeError, or NaN/Infinity
        line = e.lineno if isinstance(e, json.JSONDecodeError) else s.count("\n", 0, pos) + 1
        yield line, None, Finding("E102", ERROR, _json_msg(e), name, line, None)
    except RecursionError:
        yield 1, None, Finding("E102", ERROR, "invalid JSON: nested too deeply", name, 1, None)


def _json_msg(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"invalid JSON: {e.msg} (column {e.colno})"
    return f"invalid JSON: {e}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (other tools reject it)")


def guess_kind(path: str | os.PathLike[str]) -> str | None:
    """Return the kind implied by a file name (``.toml`` is a recipe), else None."""
    return "recipe" if not is_stdio(path) and str(path).endswith(".toml") else None


def validate_file(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    recipe: Recipe | None = None,
    max_errors: int | None = None,
    progress: Callable[[int], None] | None = None,
    tokens: bool = True,
) -> ValidationReport:
    """Validate a JSONL file (or a ``.json`` document, or a ``.toml`` recipe); return every finding.

    ``kind`` is detected from the first record when not given. ``max_errors`` stops after that
    many errors (the report is then ``truncated``). ``tokens=False`` skips the token-alignment
    warning (and spaCy). ``-`` reads stdin. Raises DataError (E101)
    only when the file cannot be opened; everything wrong inside it is a finding.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if (kind or guess_kind(path)) == "recipe":
        return validate_recipe_file(path)
    report = ValidationReport(path="<stdin>" if is_stdio(path) else str(path), kind=kind or "task")
    for _ in iter_validated(
        path, report, kind=kind, recipe=recipe, max_errors=max_errors, progress=progress, tokens=tokens
    ):
        pass
    return report


def iter_validated(
    path: str | os.PathLike[str],
    report: ValidationReport,
    *,
    kind: str | None = None,
    recipe: Recipe | None = None,
    max_errors: int | None = None,
    progress: Callable[[int], None] | None = None,
    tokens: bool = True,
) -> Iterator[tuple[int, Any]]:
    """Validate a JSONL file (or a ``.json`` document) record by record, adding every finding
    to ``report``; yield ``(line, value)`` for each record that parsed as JSON, once checked.

    This is :func:`validate_file` for a caller that also reads the records (export does, so
    the file is parsed once, not twice). The report is complete when the iteration ends.
    """
    name = report.path
    whole = not is_stdio(path) and str(path).endswith(".json")
    lines = _iter_json_document(path, name) if whole else iter_jsonl_lenient(path, name)
    validator: Validator | None = None
    n_err = 0
    for lineno, obj, finding in lines:
        if finding is not None:
            found = [finding]
        else:
            if validator is None:
                report.kind = kind or detect_kind(obj)
                validator = Validator(report.kind, recipe, path=name, tokens=tokens)
            report.n_records += 1
            found = validator.check(obj, lineno)
            if progress is not None:
                progress(1)
        for fd in found:
            report.findings.append(fd)
            if fd.level == ERROR:
                n_err += 1
                if max_errors is not None and n_err >= max_errors:
                    report.truncated = True
                    return
        if finding is None:
            yield lineno, obj
    if report.n_records == 0 and not report.findings:
        report.findings.append(Finding("W108", WARNING, "the file holds no record", name, None, None))


def validate_records(
    records: Iterable[Record | dict[str, Any]],
    *,
    kind: str,
    recipe: Recipe | None = None,
    path: str = "<records>",
    tokens: bool = True,
) -> ValidationReport:
    """Validate records in memory; ``line`` in each finding is the 1-based record number."""
    v = Validator(kind, recipe, path=path, tokens=tokens)
    report = ValidationReport(path=path, kind=kind)
    for i, rec in enumerate(records, start=1):
        report.n_records += 1
        report.findings.extend(v.check(rec, i))
    return report


def validate_recipe_file(path: str | os.PathLike[str]) -> ValidationReport:
    """Validate a recipe file: TOML syntax, the recipe schema, then the recipe loader's checks."""
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

    from annotate.records import schemas

    name = "<stdin>" if is_stdio(path) else str(path)
    report = ValidationReport(path=name, kind="recipe")
    f = open_binary(path)
    try:
        data = f.read()
    finally:
        if not is_stdio(path):
            f.close()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        report.findings.append(Finding("E104", ERROR, f"not UTF-8: {e.reason}", name, line, None))
        return report
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        report.findings.append(
            Finding("E150", ERROR, f"invalid TOML: {e}", name, int(m.group(1)) if m else None, None)
        )
        return report
    report.n_records = 1
    if "recipe" in schemas.names():
        for err in schemas.validator("recipe").iter_errors(doc):
            report.findings.append(Finding("E110", ERROR, err.message, name, None, _ptr(*err.absolute_path)))
    if not report.findings and not is_stdio(path):
        from annotate import recipe as recipe_mod

        load = getattr(recipe_mod, "load_recipe", None)
        if load is not None:
            try:
                load(Path(path))
            except ConfigError as e:
                report.findings.append(Finding("E151", ERROR, e.message, name, None, None))
    return report


def validate_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    kind: str | None = None,
    recipe: Recipe | None = None,
    max_errors: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ValidationReport]:
    """Validate several files; ``max_errors`` counts errors over all of them. Returns one report a file."""
    reports: list[ValidationReport] = []
    budget = max_errors
    for p in paths:
        if budget is not None and budget <= 0:
            break
        rep = validate_file(p, kind=kind, recipe=recipe, max_errors=budget, progress=progress)
        reports.append(rep)
        if budget is not None:
            budget -= rep.n_errors
    return reports


def render_text(reports: list[ValidationReport], *, strict: bool = False) -> str:
    """Return the findings, one ``file:line: /pointer: [CODE] message`` a line, then a summary table."""
    lines = [str(f) for rep in reports for f in rep.findings]
    counts: Counter[str] = Counter()
    for rep in reports:
        counts.update(rep.counts)
    n_rec = sum(r.n_records for r in reports)
    n_err = sum(r.n_errors for r in reports)
    n_warn = sum(r.n_warnings for r in reports)
    if lines:
        lines.append("")
    if counts:
        rows = [
            (
                code,
                CHECKS[code].name if code in CHECKS else code,
                CHECKS[code].level if code in CHECKS else "",
            )
            for code in sorted(counts)
        ]
        w_name = max(len("check"), *(len(r[1]) for r in rows))
        lines.append(f"{'code':<6} {'check':<{w_name}} {'level':<8} {'count':>7}")
        for code, name, level in rows:
            lines.append(f"{code:<6} {name:<{w_name}} {level:<8} {counts[code]:>7}")
        lines.append("")
    passed = all(r.passed(strict=strict) for r in reports)
    truncated = any(r.truncated for r in reports)
    verdict = "valid" if passed else "INVALID"
    files = ", ".join(f"{r.path} ({r.kind})" for r in reports)
    lines.append(
        f"{verdict}: {len(reports)} file(s), {n_rec} records, {n_err} errors, {n_warn} warnings"
        + (" (stopped early: --max-errors)" if truncated else "")
        + f" [{files}]"
    )
    return "\n".join(lines)


def render_json(reports: list[ValidationReport], *, strict: bool = False) -> str:
    """Return every report as one JSON document (``valid`` says whether all passed)."""
    return json.dumps(
        {
            "valid": all(r.passed(strict=strict) for r in reports),
            "strict": strict,
            "files": [r.to_dict() for r in reports],
        },
        ensure_ascii=False,
        indent=2,
    )
