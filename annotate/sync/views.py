"""The server's annotations of one example, and the views a pull makes of them.

Without ``per_annotator`` an example gives one record: every user's spans, a span two annotators
marked alike counted once. With it, one record per annotator (and per user who confirmed it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# (server id, start, end, label, user id)
ServerSpan = tuple[Any, int, int, str, Any]
# (server id, from id, to id, type, user id)
ServerRelation = tuple[Any, Any, Any, str, Any]
# example id -> its spans and relations
Annotations = dict[int, tuple[list[ServerSpan], list[ServerRelation]]]


def merge(spans: list[ServerSpan], rels: list[ServerRelation]) -> tuple[list[Any], list[Any]]:
    """Return spans and relations with duplicates (same offsets and label) folded into one.

    Two annotators marking the same span give one span; their relations are remapped to it.
    """
    first: dict[tuple[int, int, str], Any] = {}
    alias: dict[Any, Any] = {}
    out_spans = []
    for sid, s, e, lab, _user in spans:
        key = (s, e, lab)
        if key in first:
            alias[sid] = first[key]
            continue
        first[key] = sid
        alias[sid] = sid
        out_spans.append((sid, s, e, lab))
    seen: set[tuple[Any, Any, str]] = set()
    out_rels = []
    for rid, f, t, typ, _user in rels:
        if f not in alias or t not in alias:
            continue
        key2 = (alias[f], alias[t], typ)
        if key2 in seen:
            continue
        seen.add(key2)
        out_rels.append((rid, alias[f], alias[t], typ))
    return out_spans, out_rels


def views(
    spans: list[ServerSpan],
    rels: list[ServerRelation],
    users: dict[Any, str],
    confirmed_by: set[Any] | None,
    per_annotator: bool,
) -> Iterable[tuple[str | None, tuple[list[Any], list[Any]], bool]]:
    """Yield ``(annotator, (spans, relations), confirmed)`` for each record of one example.

    ``confirmed_by`` holds the users who confirmed it (``None`` stands for "someone").
    """
    confirmed_by = confirmed_by or set()
    if not per_annotator:
        yield None, merge(spans, rels), bool(confirmed_by)
        return
    who = {s[4] for s in spans} | {r[4] for r in rels} | confirmed_by
    who.discard(None)
    if not who:
        yield None, ([], []), bool(confirmed_by)
        return
    for user in sorted(who, key=lambda u: users.get(u, str(u))):
        mine_spans = [s for s in spans if s[4] == user]
        mine_rels = [r for r in rels if r[4] == user]
        yield users.get(user, f"user:{user}"), merge(mine_spans, mine_rels), user in confirmed_by
