"""Pure tests of the Doccano line conversion, the annotation fingerprint, export repair and the pull diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate.formats.doccano import (
    dumps_import_line,
    record_fingerprint,
    repair_export_rows,
    split_meta,
    to_import_line,
)
from annotate.formats.jsonl import read_records
from annotate.records.model import Record, Relation, Span
from annotate.sync.diff import diff_path_for, diff_records
from annotate.sync.fetch import choose_method

DATA = Path(__file__).parent / "data" / "pushpull"


def _records() -> list[Record]:
    return [rec for _, rec in read_records(DATA / "unicode-tasks.jsonl")]


def test_import_lines_all_have_the_same_keys_even_without_annotations_or_meta() -> None:
    recs = _records() + [Record(text="bare", doc_id="bare")]
    keys = {tuple(to_import_line(r)) for r in recs}
    assert keys == {("text", "doc_id", "doc_hash", "task_hash", "meta", "entities", "relations")}


def test_import_line_is_ascii_and_round_trips_the_exact_text() -> None:
    for rec in _records():
        line = dumps_import_line(rec)
        assert line.isascii()
        assert json.loads(line)["text"] == rec.text


def test_user_meta_is_nested_so_no_top_level_id_key_reaches_doccano() -> None:
    rec = _records()[0]
    assert rec.meta["id"] == "not-the-example-id"
    line = to_import_line(rec)
    assert "id" not in line
    assert line["meta"]["id"] == "not-the-example-id"


def test_fingerprint_ignores_ids_and_order_but_not_labels_or_offsets() -> None:
    a = Record(
        text="Ann met Bob",
        doc_id="d",
        entities=[Span(0, 0, 3, "PERSON"), Span(1, 8, 11, "PERSON")],
        relations=[Relation(0, 0, 1, "MET")],
    )
    b = Record(
        text="Ann met Bob",
        doc_id="d",
        entities=[Span(7, 8, 11, "PERSON"), Span(3, 0, 3, "PERSON")],
        relations=[Relation(5, 3, 7, "MET")],
    )
    assert record_fingerprint(a) == record_fingerprint(b)
    relabelled = a.with_annotations([Span(0, 0, 3, "ORG"), Span(1, 8, 11, "PERSON")], a.relations)
    reversed_rel = a.with_annotations(a.entities, [Relation(0, 1, 0, "MET")])
    moved = a.with_annotations([Span(0, 0, 2, "PERSON"), Span(1, 8, 11, "PERSON")], a.relations)
    assert len({record_fingerprint(r) for r in (a, relabelled, reversed_rel, moved)}) == 4


def test_export_repair_turns_gappy_floats_back_into_ints_and_drops_their_nulls() -> None:
    rows = [
        {"id": 1, "text": "a", "year": 2020.0, "score": 0.5, "entities": [], "relations": [], "Comments": []},
        {"id": 2, "text": "b", "year": None, "score": 1.0, "entities": [], "relations": [], "Comments": []},
    ]
    fixed = repair_export_rows(rows)
    assert fixed[0]["year"] == 2020 and isinstance(fixed[0]["year"], int)
    assert "year" not in fixed[1]
    # A key present on every row was never coerced: its floats stay floats.
    assert fixed[1]["score"] == 1.0 and isinstance(fixed[1]["score"], float)


def test_split_meta_unflattens_our_keys_and_merges_foreign_top_level_keys() -> None:
    doc_id, doc_hash, task_hash, meta = split_meta(
        {"doc_id": "x", "doc_hash": "sha256:1", "task_hash": "sha256:2", "meta": {"a": 1}, "title": "T"}
    )
    assert (doc_id, doc_hash, task_hash) == ("x", "sha256:1", "sha256:2")
    assert meta == {"a": 1, "title": "T"}


def test_auto_method_uses_rest_for_small_projects_export_for_large_and_rest_per_annotator() -> None:
    assert choose_method(10, per_annotator=False) == "rest"
    assert choose_method(5000, per_annotator=False) == "export"
    assert choose_method(5000, per_annotator=True) == "rest"
    assert choose_method(10, per_annotator=False, method="export") == "export"


def test_diff_file_sits_beside_the_output() -> None:
    assert diff_path_for("out/gold-2.jsonl") == Path("out/gold-2.diff.jsonl")


def _gold(doc_id: str, spans: list[Span], rels: list[Relation], confirmed: bool = False) -> Record:
    return Record(
        text="Ann met Bob in Rome",
        doc_id=doc_id,
        entities=spans,
        relations=rels,
        example_id=1,
        confirmed=confirmed,
    )


def test_diff_reports_added_removed_relabelled_spans_relations_and_confirmation() -> None:
    old = [
        _gold(
            "a",
            [Span(0, 0, 3, "PERSON"), Span(1, 8, 11, "PERSON"), Span(2, 15, 19, "GPE")],
            [Relation(0, 0, 1, "MET"), Relation(1, 0, 2, "LOCATED_IN")],
        ),
        _gold("gone", [], []),
        _gold("same", [Span(0, 0, 3, "PERSON")], []),
    ]
    new = [
        _gold(
            "a",
            [Span(0, 0, 3, "PERSON"), Span(1, 8, 11, "ORG"), Span(2, 4, 7, "PERSON")],
            [Relation(0, 0, 1, "KNOWS")],
            confirmed=True,
        ),
        _gold("new", [Span(0, 0, 3, "PERSON")], []),
        _gold("same", [Span(0, 0, 3, "PERSON")], []),
    ]
    changes = {c["doc_id"]: c for c in diff_records(old, new)}
    assert set(changes) == {"a", "gone", "new"}
    a = changes["a"]
    assert a["status"] == "changed"
    assert a["confirmed"] == {"old": False, "new": True}
    assert a["spans"] == {
        "added": [[4, 7, "PERSON"]],
        "removed": [[15, 19, "GPE"]],
        "relabelled": [[8, 11, "PERSON", "ORG"]],
    }
    assert a["relations"] == {
        "removed": [[[0, 3], [15, 19], "LOCATED_IN"]],
        "relabelled": [[[0, 3], [8, 11], "MET", "KNOWS"]],
    }
    assert changes["gone"]["status"] == "removed"
    assert changes["new"]["status"] == "added" and changes["new"]["spans"] == {"added": [[0, 3, "PERSON"]]}


@pytest.mark.parametrize("per_annotator", [False, True])
def test_diff_of_a_snapshot_with_itself_is_empty(per_annotator: bool) -> None:
    recs = [_gold("a", [Span(0, 0, 3, "PERSON")], [])]
    if per_annotator:
        recs[0].annotator = "ann"
    assert diff_records(recs, recs) == []


def test_label_plan_adds_missing_types_and_reports_shortcut_clashes_but_not_colours() -> None:
    from annotate.recipe import load_recipe
    from annotate.sync.project import label_plan

    recipe = load_recipe(DATA / "recipe.toml")
    existing = {
        "span": [
            {"text": "PERSON", "prefix_key": None, "suffix_key": "p", "background_color": "#000000"},
            {"text": "PRODUCT", "prefix_key": None, "suffix_key": "g", "background_color": "#111111"},
        ],
        "relation": [{"text": "MET", "prefix_key": None, "suffix_key": None, "background_color": "#9467bd"}],
    }
    to_add, conflicts, warnings = label_plan(existing, recipe)
    assert [b["text"] for b in to_add["span"]] == ["GPE", "ORG"]
    assert [b["text"] for b in to_add["relation"]] == ["LOCATED_IN"]
    assert conflicts == ["span type 'GPE': its shortcut is taken by 'PRODUCT'"]
    assert len(warnings) == 1 and "PERSON" in warnings[0]


@pytest.mark.parametrize(
    ("spec", "keys"), [("p", (None, "p")), ("ctrl+p", ("ctrl", "p")), ("ctrl shift 7", ("ctrl shift", "7"))]
)
def test_recipe_shortcuts_map_to_doccano_prefix_and_suffix_keys(
    spec: str, keys: tuple[str | None, str]
) -> None:
    from annotate.sync.project import shortcut

    assert shortcut(spec) == keys


def test_an_unsupported_shortcut_is_a_config_error() -> None:
    from annotate.errors import ConfigError
    from annotate.sync.project import shortcut

    with pytest.raises(ConfigError):
        shortcut("alt+p")


def test_push_options_refuse_an_empty_batch_and_scale_the_import_timeout_with_the_batch() -> None:
    from annotate.errors import ConfigError
    from annotate.sync.push import PushOptions

    with pytest.raises(ConfigError, match="--batch-size"):
        PushOptions(batch_size=0)
    with pytest.raises(ConfigError, match="--parallel-imports"):
        PushOptions(parallel_imports=0)
    assert PushOptions().import_timeout() == 200.0
    assert PushOptions(batch_size=10).import_timeout() == 120.0
    assert PushOptions(task_timeout=5.0).import_timeout() == 5.0


def test_an_export_row_becomes_a_gold_record_with_meta_unflattened_and_ids_renumbered() -> None:
    from annotate.formats.doccano import record_from_export_row

    task = _records()[0]
    line = to_import_line(task)
    row = {
        "id": 42,
        "text": task.text,
        **{k: line[k] for k in ("doc_id", "doc_hash", "task_hash", "meta")},
        "source": "flattened-by-someone",
        "entities": [
            {"id": 900 + i, "label": s.label, "start_offset": s.start, "end_offset": s.end}
            for i, s in enumerate(reversed(task.entities))
        ],
        "relations": [
            {
                "id": 7,
                "from_id": 900 + len(task.entities) - 1 - r.head,
                "to_id": 900 + len(task.entities) - 1 - r.tail,
                "type": r.label,
            }
            for r in task.relations
        ],
        "Comments": [{"id": 1, "comment": "check the name"}],
    }
    (rec,) = repair_export_rows([row])
    gold, stored = record_from_export_row(rec, confirmed=True)
    assert stored == task.doc_hash == gold.doc_hash
    assert (gold.doc_id, gold.example_id, gold.confirmed, gold.comments) == (
        "u1",
        42,
        True,
        [{"user": None, "text": "check the name", "created_at": None}],
    )
    assert [s.id for s in gold.entities] == list(range(len(task.entities)))
    assert sorted(s.key for s in gold.entities) == sorted(s.key for s in task.entities)
    got = sorted((h.key, t.key, r.label) for h, t, r in gold.relation_triples())
    assert got == sorted((h.key, t.key, r.label) for h, t, r in task.relation_triples())
    # The nested meta wins over a top-level key of the same name written by someone else.
    assert gold.meta == task.meta and gold.meta["source"] == "test"
