"""Alignment of character spans to spaCy tokens, the overlap choice, and the document splits."""

from __future__ import annotations

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from annotate.errors import UsageError
from annotate.export.splits import assign_splits, parse_split, rarest_label
from annotate.formats.alignment import Aligned, Refused, Token, TokenTable, align_span
from annotate.formats.overlaps import Placed, choose_non_overlapping

NLP = spacy.blank("en")


def tokens_of(text: str) -> list[Token]:
    return [Token(t.idx, t.idx + len(t.text), t.is_space) for t in NLP.make_doc(text)]


TEXT = "On Jan. 8, Coalition forces struck ISIL targets.\n\nBoris Johnson\nA spokesman"


def test_a_token_table_reads_as_the_list_of_tokens_it_was_made_from() -> None:
    toks = tokens_of(TEXT)
    table = TokenTable.of(toks)
    assert len(table) == len(toks)
    assert list(table) == toks
    assert table[3] == toks[3] and table[-1] == toks[-1]
    assert table[2:7] == toks[2:7] and table[5:] == toks[5:] and table[:0] == []
    assert TokenTable.of(table) is table
    for mode in ("strict", "contract", "expand"):
        start = TEXT.index("Boris")
        assert align_span(TEXT, table, start - 1, start + 6, mode) == align_span(
            TEXT, toks, start - 1, start + 6, mode
        )
    with pytest.raises(ValueError):
        TokenTable([0], [1, 2], [False])


def test_strict_accepts_token_boundaries_and_refuses_partial_words() -> None:
    toks = tokens_of(TEXT)
    start = TEXT.index("Coalition")
    assert align_span(TEXT, toks, start, start + len("Coalition forces"), "strict") == Aligned(4, 6, 11, 27)
    start = TEXT.index("Jan.")
    refused = align_span(TEXT, toks, start, start + 3, "strict")
    assert isinstance(refused, Refused) and refused.reason == "misaligned"


def test_expand_grows_a_partial_word_and_says_so() -> None:
    toks = tokens_of(TEXT)
    start = TEXT.index("Jan.")
    a = align_span(TEXT, toks, start, start + 3, "expand")
    assert isinstance(a, Aligned)
    assert TEXT[a.start : a.end] == "Jan." and a.change == "expanded_to_tokens"


def test_contract_drops_the_partial_word_and_refuses_when_nothing_is_left() -> None:
    toks = tokens_of(TEXT)
    start = TEXT.index("ck ISIL")  # "struck" cut in the middle
    a = align_span(TEXT, toks, start, start + len("ck ISIL"), "contract")
    assert isinstance(a, Aligned) and TEXT[a.start : a.end] == "ISIL" and a.change == "contracted_to_tokens"
    start = TEXT.index("Jan.")
    r = align_span(TEXT, toks, start, start + 3, "contract")
    assert isinstance(r, Refused) and r.reason == "no_whole_token"


def test_edge_whitespace_is_trimmed_not_grown_into_the_next_token() -> None:
    toks = tokens_of(TEXT)
    start = TEXT.index("Johnson")
    a = align_span(TEXT, toks, start, start + len("Johnson\n"), "expand")
    assert isinstance(a, Aligned) and TEXT[a.start : a.end] == "Johnson" and a.change == "trimmed_whitespace"
    r = align_span(TEXT, toks, start, start + len("Johnson\n"), "strict")
    assert isinstance(r, Refused)


def test_a_span_across_a_line_break_keeps_the_break_inside() -> None:
    toks = tokens_of(TEXT)
    start = TEXT.index("Johnson")
    a = align_span(TEXT, toks, start, start + len("Johnson\nA"), "strict")
    assert isinstance(a, Aligned) and a.change is None and TEXT[a.start : a.end] == "Johnson\nA"


def test_unusable_offsets_and_whitespace_only_spans_are_refused_with_reasons() -> None:
    toks = tokens_of(TEXT)
    for start, end in ((5, 5), (-1, 3), (0, len(TEXT) + 1), (7, 4)):
        r = align_span(TEXT, toks, start, end, "expand")
        assert isinstance(r, Refused) and r.reason == "invalid_offsets"
    r = align_span(TEXT, toks, 2, 3, "expand")
    assert isinstance(r, Refused) and r.reason == "whitespace_only"


ALPHABET = st.sampled_from(list("ab Z.,'\n\r\t") + ["\r\n", "😀", "e\u0301", "\u200e", "\xa0", "—"])


@settings(max_examples=200, deadline=None)
@given(st.lists(ALPHABET, min_size=1, max_size=30).map("".join), st.data())
def test_every_aligned_span_is_on_non_space_token_edges_and_never_lost_silently(
    text: str, data: st.DataObject
) -> None:
    toks = tokens_of(text)
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    for mode in ("strict", "contract", "expand"):
        a = align_span(text, toks, start, end, mode)  # type: ignore[arg-type]
        if isinstance(a, Refused):
            assert a.reason
            continue
        assert not toks[a.tok_start].is_space and not toks[a.tok_end - 1].is_space
        assert (a.start, a.end) == (toks[a.tok_start].start, toks[a.tok_end - 1].end)
        assert (a.change is None) == ((a.start, a.end) == (start, end))
        if mode == "contract":
            assert start <= a.start and a.end <= end
    if text[start:end].strip():
        # expand places every span that holds a visible character
        assert isinstance(align_span(text, toks, start, end, "expand"), Aligned)


def test_longest_first_keeps_the_longest_and_names_the_winner() -> None:
    spans = [Placed(0, 0, 2, "Person"), Placed(1, 1, 2, "Person"), Placed(2, 3, 4, "Location")]
    kept, omitted = choose_non_overlapping(spans, "longest")
    assert [p.span_id for p in kept] == [0, 2]
    assert [(p.span_id, w.span_id) for p, w in omitted] == [(1, 0)]


def test_label_priority_prefers_the_label_listed_first() -> None:
    spans = [Placed(0, 0, 3, "Organisation"), Placed(1, 2, 3, "Location")]
    kept, _ = choose_non_overlapping(spans, "priority", ["Location", "Organisation"])
    assert [p.span_id for p in kept] == [1]
    kept, _ = choose_non_overlapping(list(reversed(spans)), "longest", ["Location", "Organisation"])
    assert [p.span_id for p in kept] == [0]


def test_split_spec_is_parsed_and_bad_ones_are_usage_errors() -> None:
    assert parse_split("train=0.8,dev=0.1,test=0.1") == {"train": 0.8, "dev": 0.1, "test": 0.1}
    for bad in ("train=0.8,dev=0.1", "train=x", "train", "train=0.5,train=0.5", "../x=1", "a=1.5,b=-0.5"):
        try:
            parse_split(bad)
        except UsageError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_split_assignment_is_deterministic_and_stable_when_documents_are_added() -> None:
    ratios = {"train": 0.8, "dev": 0.1, "test": 0.1}
    keys = [f"doc{i}" for i in range(200)]
    first = assign_splits(keys, ratios, seed=3)
    assert first == assign_splits(list(reversed(keys)), ratios, seed=3)
    more = assign_splits(keys + [f"new{i}" for i in range(100)], ratios, seed=3)
    assert all(more[k] == first[k] for k in keys)
    assert first != assign_splits(keys, ratios, seed=4)
    counts = {name: list(first.values()).count(name) for name in ratios}
    assert 130 <= counts["train"] <= 190 and counts["dev"] > 5 and counts["test"] > 5


def test_stratified_split_gives_every_split_its_share_of_a_rare_label() -> None:
    ratios = {"train": 0.5, "dev": 0.25, "test": 0.25}
    keys = [f"d{i}" for i in range(40)]
    strata = ["Rare" if i < 8 else "Common" for i in range(40)]
    where = assign_splits(keys, ratios, seed=0, strata=strata)
    rare = [where[k] for k, s in zip(keys, strata, strict=True) if s == "Rare"]
    assert sorted(rare) == sorted(["train"] * 4 + ["dev"] * 2 + ["test"] * 2)
    assert rarest_label(["Common", "Rare"], {"Common": 30, "Rare": 2}) == "Rare"
    assert rarest_label([], {}) == ""
