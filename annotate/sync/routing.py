"""Routing: which annotators get each document. Pure: document ids and holders in, a routing out.

Each document goes to exactly ``overlap`` annotators of the team. Documents are taken in file
order; each goes to the annotators who hold the fewest documents so far (every document the
team's projects hold counts), ties broken by ``sha256(doc_id, annotator)`` so that the choice
does not depend on the order of the names. Starting from nothing, loads then differ by at most
one. A document some annotators already hold (read back from the server, never recomputed)
keeps them: pushing more documents later moves none of the earlier ones, and a document held
by fewer than ``overlap`` (a push that stopped half-way, a larger overlap) gets the missing ones.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from annotate.errors import TeamError

Routing = dict[str, tuple[str, ...]]
"""doc_id -> the annotators who get it, sorted by name."""


def check_team(annotators: Sequence[str], overlap: int) -> list[str]:
    """Return the team's names, checked: at least one, none twice, ``1 <= overlap <= len``."""
    names = [a.strip() for a in annotators]
    if not names or any(not a for a in names):
        raise TeamError("--annotators needs at least one user name (comma separated, none empty)")
    twice = sorted(a for a, n in Counter(names).items() if n > 1)
    if twice:
        raise TeamError(f"annotator(s) named twice: {', '.join(twice)}")
    if not 1 <= overlap <= len(names):
        raise TeamError(
            f"--overlap {overlap} does not fit a team of {len(names)}",
            hint=f"each document goes to --overlap annotators: 1 to {len(names)} here",
        )
    return names


def tie_break(doc_id: str, annotator: str) -> str:
    """Return the stable tie-break key of giving ``doc_id`` to ``annotator``."""
    return hashlib.sha256(f"{doc_id}\x00{annotator}".encode()).hexdigest()


def route(
    doc_ids: Iterable[str],
    annotators: Sequence[str],
    overlap: int,
    held: Mapping[str, Iterable[str]] | None = None,
) -> Routing:
    """Return, for each of ``doc_ids``, the ``overlap`` annotators who get it.

    ``held`` maps a doc_id to the annotators whose projects already hold it (any doc_id, also
    ones not in ``doc_ids``: they count in the loads). Those keep it; the rest are chosen by
    least load, then :func:`tie_break`.
    """
    team = check_team(annotators, overlap)
    holders = {doc: set(names) for doc, names in (held or {}).items()}
    loads = Counter(a for names in holders.values() for a in names)
    out: Routing = {}
    for doc in doc_ids:
        have = holders.setdefault(doc, set())
        free = sorted((a for a in team if a not in have), key=lambda a: (loads[a], tie_break(doc, a)))
        for name in free[: max(0, overlap - len(have))]:
            have.add(name)
            loads[name] += 1
        out[doc] = tuple(sorted(have))
    return out


def loads_of(routing: Mapping[str, Iterable[str]]) -> Counter[str]:
    """Return how many documents each annotator gets."""
    return Counter(a for names in routing.values() for a in names)
