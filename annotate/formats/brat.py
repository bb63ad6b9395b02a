"""brat standoff: ``<doc>.txt`` with the exact text and ``<doc>.ann`` with T (span) and R (relation) lines.

brat keeps overlaps and relations, so nothing is lost except spans made only of line breaks.
What plain brat cannot say is written as an ``AnnotatorNotes`` line starting ``annotate:``,
which the reader here uses to give back the gold exactly:

- a span holding a line break is written as fragments (``0 5;6 9``), as brat requires; when the
  fragments do not give back the span (it starts or ends at a line break) the note holds the
  offsets;
- a label with whitespace is written with ``_`` and the note holds the original;
- ids are the gold ids (``T12``) unless they repeat or are negative; then the note holds them.

File names are the doc ids where they are safe as names; ``doc_ids.json`` maps each file
name back to its doc id.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.errors import DataError
from annotate.formats.prepared import PreparedDoc, Tally
from annotate.records.model import Record, Relation, Span

FORMAT = "brat"
#: The file of a split's folder that maps each file stem back to its doc id.
DOC_IDS = "doc_ids.json"
NOTE_PREFIX = "annotate:"
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BREAK_RUN = re.compile(f"[{re.escape(LINE_BREAKS)}]+")


def fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Return ``[start, end)`` cut at line breaks into non-empty pieces."""
    out: list[tuple[int, int]] = []
    pos = start
    for m in _BREAK_RUN.finditer(text, start, end):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < end:
        out.append((pos, end))
    return out


def brat_label(label: str) -> str:
    """Return ``label`` with whitespace replaced, as brat types cannot hold it."""
    return re.sub(r"\s", "_", label) or "_"


def next_stem(doc_id: str, n: int, used: set[str]) -> str:
    """Return the stem of the ``n``-th doc id (from 0) not in ``used``, and add it there."""
    stem = doc_id if _SAFE_NAME.match(doc_id) and not doc_id.endswith(".") else f"doc{n:05d}"
    while stem.lower() in used:  # case-insensitive file systems
        stem = f"{stem}_{n}"
    used.add(stem.lower())
    return stem


def ann_lines(prep: PreparedDoc, tally: Tally) -> list[str]:
    """Return the .ann lines for one record, counting it into ``tally``."""
    tally.add_doc(prep)
    tally.omissions.extend(prep.invalid_span_omissions(FORMAT))
    tally.omissions.extend(prep.dangling_omissions(FORMAT))
    lines: list[str] = []
    notes: list[tuple[str, str]] = []
    tid = _text_bound_lines(prep, tally, lines, notes)
    _relation_lines(prep, tally, tid, lines, notes)
    for k, (target, body) in enumerate(notes, start=1):
        lines.append(f"#{k}\tAnnotatorNotes {target}\t{body}")
    return lines


def _own_ids(ids: Sequence[int]) -> bool:
    """Return whether ``ids`` can name brat annotations: unique and not negative."""
    return len(set(ids)) == len(ids) and all(x >= 0 for x in ids)


def _note(target: str, note: dict[str, Any]) -> tuple[str, str]:
    return target, NOTE_PREFIX + json.dumps(note, ensure_ascii=False)


def _text_bound_lines(
    prep: PreparedDoc, tally: Tally, lines: list[str], notes: list[tuple[str, str]]
) -> dict[int, str]:
    """Append a ``T`` line for each valid span (and a note for what brat cannot hold);
    return the brat id of each span written, by its index."""
    text = prep.record.text
    spans = prep.record.entities
    valid = [i for i in range(len(spans)) if i not in prep.invalid]
    own_span_ids = _own_ids([spans[i].id for i in valid])
    tid: dict[int, str] = {}
    for n, i in enumerate(valid, start=1):
        s = spans[i]
        frags = fragments(text, s.start, s.end)
        if not frags:
            tally.omissions.append(
                prep.span_omission(FORMAT, i, "line_breaks_only", "brat spans cannot be empty")
            )
            continue
        t = f"T{s.id}" if own_span_ids else f"T{n}"
        tid[i] = t
        label = brat_label(s.label)
        offsets = ";".join(f"{a} {b}" for a, b in frags)
        surface = " ".join(text[a:b] for a, b in frags)
        lines.append(f"{t}\t{label} {offsets}\t{surface}")
        tally.spans_written += 1
        note: dict[str, Any] = {}
        if (frags[0][0], frags[-1][1]) != (s.start, s.end):
            note["span"] = [s.start, s.end]
        if label != s.label:
            note["label"] = s.label
        if not own_span_ids:
            note["id"] = s.id
        if note:
            notes.append(_note(t, note))
    return tid


def _relation_lines(
    prep: PreparedDoc, tally: Tally, tid: dict[int, str], lines: list[str], notes: list[tuple[str, str]]
) -> None:
    """Append an ``R`` line for each relation whose endpoints are written (and a note)."""
    relations = prep.record.relations
    own_rel_ids = _own_ids([r.id for j, r in enumerate(relations) if j in prep.endpoints])
    for n, (j, r) in enumerate(enumerate(relations), start=1):
        if j not in prep.endpoints:
            continue
        h, t = prep.endpoints[j]
        if h not in tid or t not in tid:
            tally.omissions.append(prep.relation_omission(FORMAT, j, "endpoint_not_written"))
            continue
        rid = f"R{r.id}" if own_rel_ids else f"R{n}"
        label = brat_label(r.label)
        lines.append(f"{rid}\t{label} Arg1:{tid[h]} Arg2:{tid[t]}")
        tally.relations_written += 1
        note: dict[str, Any] = {}
        if label != r.label:
            note["label"] = r.label
        if not own_rel_ids:
            note["id"] = r.id
        if note:
            notes.append(_note(rid, note))


def annotation_conf(labels: Sequence[str], relation_labels: Sequence[str]) -> str:
    """Return an ``annotation.conf`` declaring the labels and allowing any overlap."""
    ents = "\n".join(sorted({brat_label(x) for x in labels}))
    rels = "\n".join(
        f"{x}\tArg1:<ENTITY>, Arg2:<ENTITY>" for x in sorted({brat_label(x) for x in relation_labels})
    )
    overlap = "<OVERLAP>\tArg1:<ENTITY>, Arg2:<ENTITY>, <OVL-TYPE>:<ANY>"
    return f"[entities]\n{ents}\n\n[relations]\n{rels}\n{overlap}\n\n[events]\n\n[attributes]\n"


class BratWriter:
    """Write ``<split>/<doc>.txt|.ann`` as documents come, with ``annotation.conf`` and, at
    ``finish()``, each split's ``doc_ids.json``."""

    def __init__(
        self, out_dir: Path, splits: Sequence[str], labels: Sequence[str], relation_labels: Sequence[str]
    ) -> None:
        self.out_dir = out_dir
        self.splits = list(splits)
        self.tallies = {split: Tally(FORMAT) for split in self.splits}
        self._used: dict[str, set[str]] = {split: set() for split in self.splits}
        self._mapping: dict[str, dict[str, str]] = {split: {} for split in self.splits}
        # A partial writer (see partial()) keeps its documents here instead of writing them.
        self._held: list[tuple[str, str, str, list[str]]] | None = None
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "annotation.conf").write_text(annotation_conf(labels, relation_labels), encoding="utf-8")
        for split in self.splits:
            (out_dir / split).mkdir()

    def __enter__(self) -> BratWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add(self, prep: PreparedDoc, split: str, doc: object = None) -> None:
        lines = ann_lines(prep, self.tallies[split])
        if self._held is not None:
            self._held.append((split, prep.doc_id, prep.record.text, lines))
        else:
            self._write(split, prep.doc_id, prep.record.text, lines)

    def _write(self, split: str, doc_id: str, text: str, lines: list[str]) -> None:
        # File names are given here, in document order, so that they do not depend on workers.
        mapping = self._mapping[split]
        stem = next_stem(doc_id, len(mapping), self._used[split])
        mapping[stem] = doc_id
        split_dir = self.out_dir / split
        with open(split_dir / f"{stem}.txt", "w", encoding="utf-8", newline="") as f:
            f.write(text)
        with open(split_dir / f"{stem}.ann", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(line + "\n" for line in lines)

    def partial(self) -> BratWriter:
        """Return a copy that keeps each document's .ann lines in memory, with tallies of its own
        (for a worker process; see ``SplitFiles.partial``)."""
        part = copy.copy(self)
        part.tallies = {split: Tally(FORMAT) for split in self.splits}
        part._held = []
        return part

    def take(self) -> tuple[list[tuple[str, str, str, list[str]]], dict[str, Tally]]:
        """Return a partial writer's documents and tallies."""
        assert self._held is not None, "take() is for a partial writer"
        return self._held, self.tallies

    def absorb(self, part: tuple[list[tuple[str, str, str, list[str]]], dict[str, Tally]]) -> None:
        """Write a partial writer's documents, after those written so far."""
        held, tallies = part
        for split, doc_id, text, lines in held:
            self._write(split, doc_id, text, lines)
        for split, tally in tallies.items():
            self.tallies[split].absorb(tally)

    def finish(self) -> Tally:
        for split in self.splits:
            (self.out_dir / split / DOC_IDS).write_text(
                json.dumps(self._mapping[split], indent=2, ensure_ascii=False) + "\n", "utf-8"
            )
            self.tallies[split].files[split] = f"{split}/"
        return Tally.merge(FORMAT, [self.tallies[s] for s in self.splits])


def read_brat_dir(path: str | os.PathLike[str]) -> list[Record]:
    """Return the records of every ``.txt``/``.ann`` pair in a directory, in file-name order."""
    root = Path(path)
    mapping = read_doc_ids(root)
    return [
        read_brat(txt, txt.with_suffix(".ann"), doc_id=mapping.get(txt.stem, txt.stem))
        for txt in sorted(root.glob("*.txt"))
    ]


def read_doc_ids(folder: Path) -> dict[str, str]:
    """Return the doc id of each file stem that a folder's ``doc_ids.json`` names (none: ``{}``)."""
    mapping_path = folder / DOC_IDS
    if not mapping_path.is_file():
        return {}
    try:
        mapping = json.loads(mapping_path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = e.lineno if isinstance(e, json.JSONDecodeError) else None
        raise DataError(
            f"{DOC_IDS} is not valid JSON ({e})", path=str(mapping_path), line=line, code="E181"
        ) from None
    if not isinstance(mapping, dict):
        return {}
    return {str(stem): doc_id for stem, doc_id in mapping.items() if isinstance(doc_id, str)}


def read_document(txt_path: Path, ann_path: Path) -> tuple[str, AnnLines]:
    """Return one document's exact text and its ``.ann`` lines by kind (a missing ``.ann``: none)."""
    with open(txt_path, encoding="utf-8", newline="") as f:
        text = f.read()
    ann = parse_ann(ann_path.read_text("utf-8").split("\n") if ann_path.exists() else [], str(ann_path))
    return text, ann


@dataclass
class AnnLines:
    """The lines of one ``.ann`` file by kind: T (spans), R (relations), our notes, and the rest.

    ``spans`` maps ``T<n>`` to ``(label, fragments, surface, line)``; ``relations`` maps
    ``R<n>`` to ``(label, arg1, arg2, line)``; ``notes`` maps a T/R id to what an ``annotate:``
    note says about it; ``other`` holds every other non-blank line (events, attributes,
    normalizations, equivalences, other notes) as ``(line, text)``.
    """

    spans: dict[str, tuple[str, list[tuple[int, int]], str, int]] = field(default_factory=dict)
    relations: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    other: list[tuple[int, str]] = field(default_factory=list)


def parse_ann(lines: Sequence[str], name: str) -> AnnLines:
    """Return the lines of an ``.ann`` file by kind; a malformed T or R line is a DataError (E181)."""
    out = AnnLines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        key = parts[0]
        try:
            if key.startswith("T"):
                label, _, offsets = parts[1].partition(" ")
                frags = [_fragment(frag) for frag in offsets.split(";")]
                out.spans[key] = (label, frags, parts[2] if len(parts) > 2 else "", lineno)
            elif key.startswith("R"):
                label, arg1, arg2 = parts[1].split(" ")
                out.relations[key] = (label, arg1.split(":", 1)[1], arg2.split(":", 1)[1], lineno)
            elif _is_our_note(parts):
                out.notes[parts[1].split(" ", 1)[1]] = json.loads(parts[2][len(NOTE_PREFIX) :])
            else:
                out.other.append((lineno, line))
        except (IndexError, ValueError) as e:
            raise DataError(f"malformed brat line ({e})", path=name, line=lineno, code="E181") from None
    return out


def _fragment(frag: str) -> tuple[int, int]:
    start, end = frag.split()
    return int(start), int(end)


def _is_our_note(parts: list[str]) -> bool:
    return (
        parts[0].startswith("#")
        and len(parts) > 2
        and parts[1].startswith("AnnotatorNotes ")
        and parts[2].startswith(NOTE_PREFIX)
    )


def read_brat(txt_path: Path, ann_path: Path, *, doc_id: str) -> Record:
    """Return the Record of one brat document: T lines as spans, R lines as relations.

    A discontinuous span becomes the range from its first to its last fragment; that is only
    accepted when the gaps are line breaks (as this writer makes them).
    """
    text, ann = read_document(txt_path, ann_path)
    name = str(ann_path)
    spans: dict[str, Span] = {}
    for key, (label, frags, _surface, lineno) in ann.spans.items():
        if not line_break_gaps(text, frags):
            raise DataError(
                f"{key} is discontinuous across text; only line-break gaps are supported",
                path=name,
                line=lineno,
                code="E181",
            )
        spans[key] = Span(id=_span_id(key, name, lineno), start=frags[0][0], end=frags[-1][1], label=label)
    notes = ann.notes
    entities = []
    for key, s in spans.items():
        note = notes.get(key, {})
        start, end = note.get("span", (s.start, s.end))
        entities.append(Span(id=note.get("id", s.id), start=start, end=end, label=note.get("label", s.label)))
    relations = []
    for key, (label, arg1, arg2, _lineno) in ann.relations.items():
        if arg1 not in spans or arg2 not in spans:
            raise DataError(f"{key} refers to a missing span", path=name, code="E181")
        note = notes.get(key, {})
        head = notes.get(arg1, {}).get("id", spans[arg1].id)
        tail = notes.get(arg2, {}).get("id", spans[arg2].id)
        relations.append(
            Relation(id=note.get("id", _int_id(key)), head=head, tail=tail, label=note.get("label", label))
        )
    return Record(text=text, doc_id=doc_id, entities=entities, relations=relations)


def line_break_gaps(text: str, frags: Sequence[tuple[int, int]]) -> bool:
    """True when every gap between fragments is line breaks only (how this writer cuts a span)."""
    return all(not text[b:a].strip(LINE_BREAKS) for (_, b), (a, _) in zip(frags, frags[1:], strict=False))


def _int_id(key: str) -> int:
    return int(key[1:])


def _span_id(key: str, name: str, lineno: int) -> int:
    """Return the number of a ``T<n>`` id; a T line with another id is malformed (E181)."""
    try:
        return _int_id(key)
    except ValueError as e:
        raise DataError(f"malformed brat line ({e})", path=name, line=lineno, code="E181") from None
