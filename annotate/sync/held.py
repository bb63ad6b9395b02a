"""What a project holds: its examples by ``doc_id``, its label names, what an example carries now."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from annotate.formats.doccano import DOC_HASH, DOC_ID, TASK_HASH, fingerprint
from annotate.records.model import text_hash


@dataclass
class Held:
    """One example the project holds for a doc_id."""

    example_id: int
    doc_hash: str | None
    task_hash: str | None
    confirmed: bool
    comments: int


def index(examples: Iterable[dict[str, Any]]) -> dict[str, list[Held]]:
    """Return the project's examples by doc_id, oldest first (examples without one are ignored)."""
    out: dict[str, list[Held]] = defaultdict(list)
    for ex in examples:
        meta = ex.get("meta") or {}
        doc_id = meta.get(DOC_ID)
        if doc_id is None:
            continue
        out[str(doc_id)].append(
            Held(
                example_id=int(ex["id"]),
                # An example imported by another tool may have a doc_id but no doc_hash.
                doc_hash=meta.get(DOC_HASH) or text_hash(ex.get("text") or ""),
                task_hash=meta.get(TASK_HASH),
                confirmed=bool(ex.get("is_confirmed")),
                comments=int(ex.get("comment_count") or 0),
            )
        )
    for held in out.values():
        held.sort(key=lambda h: h.example_id)
    return out


class LabelNames:
    """Label-type id -> name maps of a project, fetched once, when first needed."""

    def __init__(self, api: Any, project_id: int) -> None:
        self._api = api
        self._pid = project_id
        self._maps: dict[str, dict[Any, str]] = {}

    def _map(self, kind: str) -> dict[Any, str]:
        if kind not in self._maps:
            self._maps[kind] = {t["id"]: t["text"] for t in self._api.list_label_types(self._pid, kind)}
        return self._maps[kind]

    @property
    def span(self) -> dict[Any, str]:
        return self._map("span")

    @property
    def rel(self) -> dict[Any, str]:
        return self._map("relation")


def server_keys(
    api: Any, pid: int, example_id: int, labels: LabelNames
) -> tuple[list[Any], list[Any], set[Any]]:
    """Return an example's span keys, relation triples (by span keys) and the users who made them."""
    spans = api.list_spans(pid, example_id)
    rels = api.list_relations(pid, example_id)
    key = {
        s["id"]: (s["start_offset"], s["end_offset"], labels.span.get(s["label"], str(s["label"])))
        for s in spans
    }
    triples = [
        (key[r["from_id"]], key[r["to_id"]], labels.rel.get(r["type"], str(r["type"])))
        for r in rels
        if r["from_id"] in key and r["to_id"] in key
    ]
    return list(key.values()), triples, {a.get("user") for a in spans + rels}


def server_fingerprint(api: Any, project_id: int, example_id: int, labels: LabelNames) -> str:
    """Return the fingerprint of what an example holds now (every user's spans and relations)."""
    spans, triples, _ = server_keys(api, project_id, example_id, labels)
    return fingerprint(spans, triples)


def untouched(api: Any, project_id: int, held: Held, labels: LabelNames) -> bool:
    """True when nobody confirmed, commented or changed the annotations of this example."""
    if held.confirmed or held.comments:
        return False
    if held.task_hash is None:
        return False
    return server_fingerprint(api, project_id, held.example_id, labels) == held.task_hash
