"""Adjudication, pure: agreed documents to the gold with their provenance, the rest to conflicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from team_helpers import adjudicate_args

from annotate.errors import TeamError
from annotate.fileio import write_jsonl
from annotate.quality.adjudicate import adjudicate, adjudicate_file, agreed_task, resolve, write_adjudication
from annotate.records.model import Record, Relation, Span
from annotate.sync.review import comment_lines

TEXT = "Putin met Kim in Moscow."
PUTIN, KIM, MOSCOW = (0, 5, "PERSON"), (10, 13, "PERSON"), (17, 23, "GPE")


def rec(
    who: str, doc: str, spans: list[tuple[int, int, str]], rels: list[tuple[int, int, str]] = ()
) -> Record:
    return Record(
        text=TEXT,
        doc_id=doc,
        entities=[Span(i, s, e, lab) for i, (s, e, lab) in enumerate(spans)],
        relations=[Relation(i, h, t, lab) for i, (h, t, lab) in enumerate(rels)],
        annotator=who,
        confirmed=True,
    )


def one_agreed_one_disputed(path: Path) -> Path:
    """Write two annotators' records: d1 agreed, d2 disputed (only a marks Kim); return ``path``."""
    records = [
        rec("a", "d1", [PUTIN]),
        rec("b", "d1", [PUTIN]),
        rec("a", "d2", [PUTIN, KIM]),
        rec("b", "d2", [PUTIN]),
    ]
    write_jsonl(path, (r.to_dict() for r in records))
    return path


def team(*records: Record) -> dict[str, dict[str, Record]]:
    out: dict[str, dict[str, Record]] = {}
    for r in records:
        out.setdefault(str(r.annotator), {})[r.doc_id] = r
    return out


def test_identical_versions_agree_and_the_gold_records_them() -> None:
    a = rec("a", "d1", [PUTIN, KIM], [(0, 1, "TALKS_WITH")])
    b = rec("b", "d1", [KIM, PUTIN], [(1, 0, "TALKS_WITH")])  # same relation, spans listed the other way
    adj = adjudicate(team(a, b))
    assert adj.agreed == 1 and not adj.conflicts
    [gold] = adj.gold
    assert {s.key for s in gold.entities} == {PUTIN, KIM}
    assert {(h.key, t.key, r.label) for h, t, r in gold.relation_triples()} == {(PUTIN, KIM, "TALKS_WITH")}
    assert gold.meta["adjudication"] == {
        "strategy": "unanimous",
        "annotators": ["a", "b"],
        "agreed_by": ["a", "b"],
        "overruled": 0,
    }


def test_a_relation_the_other_way_round_is_a_different_relation() -> None:
    a = rec("a", "d1", [PUTIN, KIM], [(0, 1, "TALKS_WITH")])
    b = rec("b", "d1", [PUTIN, KIM], [(1, 0, "TALKS_WITH")])
    adj = adjudicate(team(a, b))
    assert adj.agreed == 0 and adj.spans_disputed == 0 and adj.relations_disputed == 2


def test_a_disagreement_is_a_conflict_holding_each_version_and_who_said_what() -> None:
    adj = adjudicate(team(rec("a", "d1", [PUTIN, KIM]), rec("b", "d1", [PUTIN, MOSCOW])))
    assert adj.agreed == 0 and adj.spans_disputed == 2 and adj.relations_disputed == 0
    [c] = adj.conflicts
    assert c["annotators"] == ["a", "b"] and set(c["versions"]) == {"a", "b"}
    assert c["agreed"]["entities"] == [
        {"start_offset": 0, "end_offset": 5, "label": "PERSON", "text": "Putin"}
    ]
    by = {(d["text"], tuple(d["by"]), tuple(d["not_by"])) for d in c["disputed"]["entities"]}
    assert by == {("Kim", ("a",), ("b",)), ("Moscow", ("b",), ("a",))}
    assert [s.key for s in agreed_task(c).entities] == [PUTIN]
    assert comment_lines(c) == [
        "disputed span PERSON 'Kim' [10, 13): a; not b",
        "disputed span GPE 'Moscow' [17, 23): b; not a",
    ]


def test_majority_keeps_what_more_than_half_hold_and_a_tie_stays_in_conflict() -> None:
    three = team(rec("a", "d1", [PUTIN, KIM]), rec("b", "d1", [PUTIN, KIM]), rec("c", "d1", [PUTIN, MOSCOW]))
    assert len(adjudicate(three, strategy="unanimous").conflicts) == 1
    adj = adjudicate(three, strategy="majority")
    assert adj.agreed == 1 and adj.overruled == 1
    assert {s.key for s in adj.gold[0].entities} == {PUTIN, KIM}
    assert adj.gold[0].meta["adjudication"]["agreed_by"] == ["a", "b"]
    two = team(rec("a", "d1", [PUTIN, KIM]), rec("b", "d1", [PUTIN]))
    tie = adjudicate(two, strategy="majority")
    assert tie.agreed == 0 and tie.spans_disputed == 1


def test_resolve_needs_the_conflicts_of_this_input_and_every_one_reviewed(tmp_path: Path) -> None:
    per = one_agreed_one_disputed(tmp_path / "per.jsonl")
    gold, conflicts = tmp_path / "gold.jsonl", tmp_path / "conflicts.jsonl"
    adj = adjudicate_file(per, strategy="unanimous", out=gold, conflicts=conflicts)
    write_adjudication(adj, out=gold, conflicts=conflicts)
    assert [json.loads(x)["doc_id"] for x in conflicts.read_text().splitlines()] == ["d2"]
    reviewed = tmp_path / "review.jsonl"
    final = tmp_path / "final.jsonl"
    review = Record(text=TEXT, doc_id="d2", entities=[Span(0, *KIM)], confirmed=True, example_id=7)
    write_jsonl(reviewed, [review.to_dict()])
    done = resolve(per, strategy="unanimous", conflicts=conflicts, resolved=reviewed, out=final)
    assert [(r.doc_id, [s.key for s in r.entities]) for r in done.gold] == [("d1", [PUTIN]), ("d2", [KIM])]
    # A conflicts file of another input is refused, as is a review of other documents.
    other = tmp_path / "other.jsonl"
    write_jsonl(other, [{"doc_id": "zzz", "doc_hash": "sha256:0"}])
    with pytest.raises(TeamError, match="is not the conflicts of") as info:
        resolve(per, strategy="unanimous", conflicts=other, resolved=reviewed, out=final)
    assert info.value.exit_code == 1
    unconfirmed = tmp_path / "unconfirmed.jsonl"
    write_jsonl(unconfirmed, [Record(text=TEXT, doc_id="d2", confirmed=False, example_id=7).to_dict()])
    with pytest.raises(TeamError, match="not confirmed"):
        resolve(per, strategy="unanimous", conflicts=conflicts, resolved=unconfirmed, out=final)
    assert not final.exists()


def test_a_document_fewer_annotators_did_stays_in_conflict_unless_asked() -> None:
    one = team(rec("a", "d1", [PUTIN]), rec("a", "d2", [PUTIN]), rec("b", "d2", [PUTIN]))
    adj = adjudicate(one)
    assert adj.agreed == 1 and adj.too_few == 1
    assert adj.conflicts[0]["doc_id"] == "d1" and "only 1 annotator" in adj.conflicts[0]["reason"]
    assert adjudicate(one, min_annotators=1).agreed == 2


def test_the_cli_prints_the_counts_and_refuses_a_conflicts_file_of_another_input(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from annotate.cli import app

    per = tmp_path / "per.jsonl"
    write_jsonl(per, (r.to_dict() for r in [rec("a", "d1", [PUTIN]), rec("b", "d1", [PUTIN, KIM])]))
    gold, conflicts = tmp_path / "gold.jsonl", tmp_path / "conflicts.jsonl"
    runner = CliRunner()
    done = runner.invoke(app, adjudicate_args(per, gold, conflicts))
    assert done.exit_code == 0, done.output
    assert "documents agreed 0, in conflict 1; spans disputed 1, relations disputed 0" in done.output
    again = runner.invoke(app, adjudicate_args(per, gold, conflicts))
    assert again.exit_code == 2 and "exists" in again.output
    other = tmp_path / "other-per.jsonl"
    write_jsonl(other, (r.to_dict() for r in [rec("a", "x1", [PUTIN]), rec("b", "x1", [KIM])]))
    final = tmp_path / "final.jsonl"
    wrong = runner.invoke(
        app,
        adjudicate_args(other, final, conflicts, "--resolved", str(gold)),
    )
    assert wrong.exit_code == 1 and "is not the conflicts of" in wrong.output
    assert not final.exists()


def test_the_cli_after_a_review_writes_only_the_gold_and_says_none_is_in_conflict(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from annotate.cli import app

    per = one_agreed_one_disputed(tmp_path / "per.jsonl")
    gold, conflicts = tmp_path / "gold.jsonl", tmp_path / "conflicts.jsonl"
    runner = CliRunner()
    first = runner.invoke(app, adjudicate_args(per, gold, conflicts))
    assert first.exit_code == 0, first.output
    written = conflicts.read_bytes()
    reviewed = tmp_path / "review.jsonl"
    write_jsonl(
        reviewed, [Record(text=TEXT, doc_id="d2", entities=[Span(0, *KIM)], confirmed=True).to_dict()]
    )
    final = tmp_path / "final.jsonl"
    args = adjudicate_args(per, final, conflicts, "--resolved", str(reviewed))
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert f"1 agreed and 1 reviewed documents -> {final}; none in conflict" in done.output
    assert [json.loads(x)["doc_id"] for x in final.read_text().splitlines()] == ["d1", "d2"]
    assert conflicts.read_bytes() == written
