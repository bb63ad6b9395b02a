"""Our IOB decoding against seqeval's tag schemes, the library Doccano's own CoNLL import uses.

seqeval (installed by scripts/setup.sh from requirements-compare.txt) decodes strict IOB1 and
IOB2; on every valid tag sequence our ranges must be its entities. Where tags are not valid
(an IOB2 ``I-`` without ``B-``) seqeval drops the entity and we keep it, counted: that is the
one difference, and it is pinned here too.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from seqeval.scheme import IOB1 as SEQEVAL_IOB1
from seqeval.scheme import IOB2 as SEQEVAL_IOB2
from seqeval.scheme import Tokens

from annotate.records.doccano_forms import iter_conll
from annotate.records.iob_tags import IOB1, IOB2, guess_scheme, tag_ranges

DATA = Path(__file__).parent / "data"

# A sentence as pieces: ("O", n) for n outside tokens, (label, n) for an entity of n tokens.
pieces = st.lists(
    st.tuples(st.sampled_from(["O", "PER", "LOC"]), st.integers(min_value=1, max_value=3)), max_size=8
)


def render(sentence: list[tuple[str, int]], scheme: str) -> list[str]:
    """Return the tags of a sentence in IOB1 or IOB2."""
    tags: list[str] = []
    prev = "O"
    for label, n in sentence:
        if label == "O":
            tags += ["O"] * n
        else:
            first = "B" if scheme == IOB2 or prev == label else "I"
            tags += [f"{first}-{label}"] + [f"I-{label}"] * (n - 1)
        prev = label
    return tags


def seqeval_ranges(tags: list[str], scheme: type) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.tag) for e in Tokens(tags, scheme).entities]


@given(pieces)
def test_iob2_ranges_are_seqevals_entities(sentence: list[tuple[str, int]]) -> None:
    tags = render(sentence, IOB2)
    ranges, notes = tag_ranges(tags, scheme=IOB2)
    assert ranges == seqeval_ranges(tags, SEQEVAL_IOB2) and notes == []


@given(pieces)
def test_iob1_ranges_are_seqevals_entities(sentence: list[tuple[str, int]]) -> None:
    tags = render(sentence, IOB1)
    ranges, notes = tag_ranges(tags, scheme=IOB1)
    assert ranges == seqeval_ranges(tags, SEQEVAL_IOB1) and notes == []
    if any(t.startswith("I-") and (i == 0 or tags[i - 1] == "O") for i, t in enumerate(tags)):
        assert guess_scheme(tags) == IOB1


def test_an_iob2_i_without_b_is_kept_and_said_where_seqeval_drops_it() -> None:
    tags = ["O", "I-PER", "I-PER", "O", "B-LOC"]
    ranges, notes = tag_ranges(tags, scheme=IOB2)
    assert ranges == [(1, 3, "PER"), (4, 5, "LOC")]
    assert [(n.index, n.kind) for n in notes] == [(1, "repaired")]
    assert seqeval_ranges(tags, SEQEVAL_IOB2) == [(4, 5, "LOC")]


def test_doccanos_conll_example_reads_as_seqeval_decodes_it() -> None:
    path = DATA / "doccano-examples" / "import-sequence_labeling.conll"
    sentences = [s.split("\n") for s in path.read_text("utf-8").strip().split("\n\n")]
    expected = []
    for lines in sentences:
        words, tags = zip(*(line.split("\t") for line in lines), strict=True)
        starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
        expected.append(
            [
                (starts[e.start], starts[e.end - 1] + len(words[e.end - 1]), e.tag)
                for e in Tokens(list(tags), SEQEVAL_IOB2).entities
            ]
        )
    got = [
        [(e["start_offset"], e["end_offset"], e["label"]) for e in obj["entities"]]
        for _, obj, finding in iter_conll(path, str(path))
        if finding is None
    ]
    assert got == expected == [[(0, 5, "LOC")], [(0, 11, "PER")]]
