"""The published schemas: valid Draft 2020-12, self-describing, resolvable offline, and matching our data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from annotate.cli import app
from annotate.errors import UsageError
from annotate.records import schemas
from annotate.records.model import Record, Relation, Span
from annotate.records.validate import validate_file, validate_records

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILES = sorted((ROOT / "schemas").glob("*.schema.json"))


def test_the_expected_schemas_are_published() -> None:
    assert {"article", "task", "gold", "defs"} <= set(schemas.names())


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_schema_passes_check_schema_and_describes_itself(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/" + path.name)
    assert schema["title"] and schema["description"]
    assert isinstance(schema["version"], str) and schema["version"]


def test_shared_definitions_are_referenced_not_copied() -> None:
    for name in ("task", "gold", "article"):
        text = schemas.schema_text(name)
        assert "start_offset" not in text  # the span lives in defs only
        assert "defs.schema.json#/$defs/" in text or "task.schema.json" in text


def test_refs_resolve_offline_through_the_registry() -> None:
    # A span error deep inside the task schema's $ref chain is found with its full path.
    bad = {
        "text": "a",
        "entities": [{"id": 0, "start_offset": -1, "end_offset": 1, "label": "X"}],
        "relations": [],
    }
    (err,) = schemas.validator("task").iter_errors(bad)
    assert list(err.absolute_path) == ["entities", 0, "start_offset"]
    (err,) = schemas.validator("gold").iter_errors(
        dict(bad, doc_id="d", doc_hash="sha256:" + "0" * 64, confirmed=True)
    )
    assert list(err.absolute_path) == ["entities", 0, "start_offset"]


def test_records_written_by_the_model_match_the_task_and_gold_schemas() -> None:
    r = Record(
        text="Putin met Kim.",
        doc_id="d",
        entities=[
            Span(0, 0, 5, "PERSON", source="model:x", score=0.5, text="Putin"),
            Span(1, 10, 13, "PERSON"),
        ],
        relations=[Relation(0, 0, 1, "MET", source="rule:svo", score=1.0)],
        meta={"recipe": "news@1"},
    )
    assert list(schemas.validator("task").iter_errors(r.to_dict())) == []
    gold = Record.from_dict(dict(r.to_dict(), example_id=4, annotator="ann", confirmed=True, comments=["ok"]))
    assert list(schemas.validator("gold").iter_errors(gold.to_dict())) == []


def test_the_bundled_corpus_validates_as_articles() -> None:
    docs = [
        {"doc_id": p.stem, "text": p.read_text(encoding="utf-8")}
        for p in sorted((ROOT / "corpus").glob("*.txt"))
    ]
    assert len(docs) > 40
    report = validate_records(docs, kind="article")
    assert report.findings == []


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").glob("*.toml")), ids=lambda p: p.name)
def test_bundled_recipes_validate(path: Path) -> None:
    report = validate_file(path)
    assert report.kind == "recipe"
    assert report.findings == []


def test_unknown_schema_name_is_a_usage_error_listing_the_names() -> None:
    with pytest.raises(UsageError) as e:
        schemas.load_schema("nope")
    assert "task" in (e.value.hint or "")


def test_schema_command_prints_the_schema_verbatim() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["schema", "task"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "schemas" / "task.schema.json").read_text(encoding="utf-8")
    assert json.loads(result.stdout)["title"] == "annotate task"
    listed = runner.invoke(app, ["schema"], catch_exceptions=False)
    assert listed.exit_code == 0 and "gold" in listed.stdout.split()
    bad = runner.invoke(app, ["schema", "nope"], catch_exceptions=False)
    assert bad.exit_code == 2 and "E200" in bad.stderr


def test_doccano_schema_describes_doccanos_own_example_lines() -> None:
    examples = ROOT / "tests" / "data" / "doccano-examples"
    v = schemas.validator("doccano")
    lines = [
        *(examples / "export-sequence_labeling.jsonl").read_text("utf-8").splitlines(),
        *(examples / "import-relation_extraction.jsonl").read_text("utf-8").splitlines(),
        (examples / "export-relation_extraction.json").read_text("utf-8"),
    ]
    for text in lines:
        assert list(v.iter_errors(json.loads(text))) == []
    assert list(v.iter_errors({"text": "a", "label": [[0, "x", "L"]]}))
    assert list(v.iter_errors({"text": "a", "entities": [], "relations": [{"from_id": 0}]}))
