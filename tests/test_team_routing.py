"""Routing with overlap, pure: exactly ``overlap`` annotators a document, balanced, stable."""

from __future__ import annotations

import pytest

from annotate.errors import TeamError
from annotate.sync.routing import loads_of, route
from annotate.sync.team import description, marker, member_name, read_marker

TEAM = ["alice", "bob", "carol"]


def test_each_document_goes_to_exactly_overlap_distinct_annotators_and_loads_differ_by_at_most_one() -> None:
    docs = [f"d{i}" for i in range(47)]
    routing = route(docs, TEAM, 2)
    assert set(routing) == set(docs)
    assert all(len(set(names)) == 2 and set(names) <= set(TEAM) for names in routing.values())
    loads = loads_of(routing)
    assert sum(loads.values()) == 94
    assert max(loads.values()) - min(loads.values()) <= 1


def test_routing_is_deterministic_and_independent_of_the_order_of_names() -> None:
    docs = [f"d{i}" for i in range(30)]
    assert route(docs, TEAM, 2) == route(docs, list(reversed(TEAM)), 2)


def test_documents_already_held_keep_their_annotators_and_new_ones_rebalance() -> None:
    first = route([f"d{i}" for i in range(10)], TEAM, 2)
    # Held as the server says (here: the earlier routing, with one document given to all three).
    held = {doc: set(names) for doc, names in first.items()}
    held["d0"] = set(TEAM)
    later = route([f"d{i}" for i in range(20)], TEAM, 2, held)
    assert all(later[d] == tuple(sorted(held[d])) for d in held)
    loads = loads_of(later)
    assert max(loads.values()) - min(loads.values()) <= 1


def test_a_document_held_by_fewer_than_overlap_is_topped_up() -> None:
    routing = route(["d1"], TEAM, 2, {"d1": {"carol"}})
    assert "carol" in routing["d1"] and len(routing["d1"]) == 2


def test_a_new_annotator_gets_the_new_documents_until_the_loads_even_out() -> None:
    held = {doc: set(names) for doc, names in route([f"d{i}" for i in range(12)], TEAM, 1).items()}
    later = route([f"n{i}" for i in range(4)], [*TEAM, "dave"], 1, held)
    assert all(later[f"n{i}"] == ("dave",) for i in range(4))


@pytest.mark.parametrize(
    ("team", "overlap", "says"),
    [(TEAM, 4, "does not fit"), (TEAM, 0, "does not fit"), (["a", "a"], 1, "twice"), ([], 1, "at least one")],
)
def test_a_wrong_team_or_overlap_is_refused(team: list[str], overlap: int, says: str) -> None:
    with pytest.raises(TeamError, match=says) as info:
        route(["d1"], team, overlap)
    assert info.value.exit_code == 1


def test_the_marker_line_ties_a_project_to_its_team_and_annotator() -> None:
    text = description("news · 2024", "ann é", "the recipe")
    assert read_marker({"description": text}) == ("news · 2024", "ann é")
    assert marker("news · 2024", "ann é") in text.splitlines()
    assert read_marker({"description": "a project of someone else"}) is None
    assert member_name("T", "a") == "T · a"
