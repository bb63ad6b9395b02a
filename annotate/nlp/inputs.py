"""Reading documents to pre-annotate: text files, directories, JSONL and stdin.

The text of a document is never modified: files are read as bytes and decoded as strict
UTF-8, with their newlines (LF or CRLF) as they are, so offsets index exactly what was read.

- A ``.txt``/``.md`` file (or any named file that is not ``.jsonl``) is one document; its
  ``doc_id`` is its path relative to the input root (the directory given, or the file name).
- A directory is searched recursively with a glob (default: ``.txt``, ``.md`` and ``.jsonl``
  files, except a corpus's own README, LICENSE and ATTRIBUTION files), in sorted order.
- A ``.jsonl`` file holds one document a line: the text under ``text_key``, the id under
  ``doc_id`` (else ``<file>:<line>``), every other key kept as meta.
- ``-`` reads stdin: JSONL when it starts with ``{``, else one text document ``stdin``.

A UTF-8 byte order mark at the start of a text file is *kept* (it is character 0 of the text,
and every offset counts it) and reported as a warning: stripping it would change the text.
Problems (undecodable bytes, empty documents, a line that is not a JSON object, no text,
a duplicate id) are yielded as :class:`Problem` so that the caller decides whether they are
fatal.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from annotate.records.model import text_hash

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl",)
DEFAULT_GLOB = "**/*"
# Files that describe a corpus rather than belong to it; the default glob passes them over.
_CORPUS_DOCS = ("readme", "license", "licence", "attribution", "changelog")
BOM = "\ufeff"
# Keys of an input JSONL line that are not meta: ours, or annotations we do not read.
_NOT_META = ("doc_id", "doc_hash", "entities", "relations", "meta")


@dataclass(frozen=True)
class InputDoc:
    """One document to pre-annotate."""

    text: str
    doc_id: str
    source: str  # the path it came from, as given (``-`` for stdin)
    line: int | None = None  # its line, for JSONL
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def doc_hash(self) -> str:
        return text_hash(self.text)


@dataclass(frozen=True)
class Problem:
    """A document that was not read, or read with a warning, and why."""

    source: str
    reason: str
    code: str
    line: int | None = None
    doc_id: str | None = None
    fatal_if_strict: bool = True

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


def _decode(data: bytes, source: str, line: int | None, doc_id: str | None) -> str | Problem:
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        return Problem(source, f"not UTF-8: {e.reason} at byte {e.start}", "E104", line, doc_id)


def _text_doc(data: bytes, source: str, doc_id: str) -> Iterator[InputDoc | Problem]:
    text = _decode(data, source, None, doc_id)
    if isinstance(text, Problem):
        yield text
        return
    if not text.strip():
        yield Problem(source, "empty document", "E111", None, doc_id)
        return
    if text.startswith(BOM):
        yield Problem(
            source,
            "starts with a UTF-8 byte order mark; it is kept as character 0 of the text",
            "W101",
            None,
            doc_id,
            fatal_if_strict=False,
        )
    yield InputDoc(text=text, doc_id=doc_id, source=source)


def _jsonl_docs(
    lines: Iterable[bytes], source: str, name: str, text_key: str
) -> Iterator[InputDoc | Problem]:
    # Lines of a binary file end at LF only: a CR inside a line is JSON whitespace, and a
    # bad line stays one problem. Read one line at a time, so memory does not grow with the file.
    for lineno, raw in enumerate(lines, start=1):
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if lineno == 1 and raw.startswith(BOM.encode("utf-8")):
            # The mark frames the file; it is not part of any document's text.
            raw = raw[3:]
            yield Problem(
                source, "starts with a UTF-8 byte order mark; ignored", "W101", 1, fatal_if_strict=False
            )
        if not raw.strip():
            continue
        line = _decode(raw, source, lineno, None)
        if isinstance(line, Problem):
            yield line
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield Problem(source, f"invalid JSON: {e.msg} (column {e.colno})", "E102", lineno)
            continue
        if not isinstance(obj, dict):
            yield Problem(source, "a line must be a JSON object", "E105", lineno)
            continue
        doc_id = str(obj["doc_id"]) if obj.get("doc_id") not in (None, "") else f"{name}:{lineno}"
        text = obj.get(text_key)
        if not isinstance(text, str):
            reason = f"no {text_key!r} key" if text is None else f"{text_key!r} is not a string"
            yield Problem(source, reason, "E112", lineno, doc_id)
            continue
        if not text.strip():
            yield Problem(source, "empty document", "E111", lineno, doc_id)
            continue
        meta = dict(obj.get("meta") or {}) if isinstance(obj.get("meta"), dict) else {}
        for k, v in obj.items():
            if k != text_key and k not in _NOT_META:
                meta.setdefault(k, v)
        yield InputDoc(text=text, doc_id=doc_id, source=source, line=lineno, meta=meta)


def _matches(rel: str, glob: str) -> bool:
    if glob == DEFAULT_GLOB:
        stem = rel.rsplit("/", 1)[-1].split(".", 1)[0].lower()
        return rel.endswith(TEXT_SUFFIXES + JSONL_SUFFIXES) and stem not in _CORPUS_DOCS
    # "**/" also matches files at the top of the directory.
    return fnmatch.fnmatch(rel, glob) or (glob.startswith("**/") and fnmatch.fnmatch(rel, glob[3:]))


def _file_docs(path: Path, source: str, name: str, text_key: str) -> Iterator[InputDoc | Problem]:
    try:
        f = open(path, "rb")
    except OSError as e:
        yield Problem(source, f"cannot read: {e.strerror}", "E101")
        return
    with f:
        if path.suffix.lower() in JSONL_SUFFIXES:
            yield from _jsonl_docs(f, source, name, text_key)
            return
        try:
            data = f.read()
        except OSError as e:
            yield Problem(source, f"cannot read: {e.strerror}", "E101")
            return
    yield from _text_doc(data, source, name)


def _stdin_docs(stdin: IO[bytes], text_key: str) -> Iterator[InputDoc | Problem]:
    # JSONL when the first non-blank byte is "{": look at the leading lines only, then stream.
    head: list[bytes] = []
    for raw in stdin:
        head.append(raw)
        if raw.lstrip(BOM.encode("utf-8") + b" \t\r\n"):
            break
    if head and head[-1].lstrip(BOM.encode("utf-8") + b" \t\r\n").startswith(b"{"):
        yield from _jsonl_docs(itertools.chain(head, stdin), "-", "stdin", text_key)
    else:
        yield from _text_doc(b"".join(head) + stdin.read(), "-", "stdin")


def read_documents(
    inputs: Sequence[str], *, text_key: str = "text", glob: str = DEFAULT_GLOB
) -> Iterator[InputDoc | Problem]:
    """Yield every document of ``inputs`` in a stable order, or a Problem where one is not
    read. A duplicate ``doc_id`` is a Problem naming where the id was first seen."""
    seen: dict[str, str] = {}
    for item in _read_all(inputs, text_key=text_key, glob=glob):
        if isinstance(item, InputDoc):
            first = seen.get(item.doc_id)
            where = f"{item.source}:{item.line}" if item.line is not None else item.source
            if first is not None:
                yield Problem(
                    item.source,
                    f"duplicate doc_id {item.doc_id!r} (first in {first})",
                    "E113",
                    item.line,
                    item.doc_id,
                )
                continue
            seen[item.doc_id] = where
        yield item


def _read_all(inputs: Sequence[str], *, text_key: str, glob: str) -> Iterator[InputDoc | Problem]:
    for arg in inputs:
        if arg == "-":
            yield from _stdin_docs(sys.stdin.buffer, text_key)
            continue
        path = Path(arg)
        if path.is_dir():
            files = sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file())
            matched = [(rel, p) for rel, p in files if _matches(rel, glob)]
            if not matched:
                yield Problem(
                    arg, f"no file matches {glob!r} in this directory", "E114", fatal_if_strict=True
                )
            for rel, p in matched:
                yield from _file_docs(p, str(Path(arg) / rel), rel, text_key)
        elif path.is_file():
            yield from _file_docs(path, arg, path.name, text_key)
        else:
            yield Problem(arg, "no such file or directory", "E101")
