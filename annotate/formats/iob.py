"""IOB2 tags and sentences for the one-tag-per-token formats (CoNLL, HF).

Whitespace tokens are left out (these formats have one visible token a line). Sentences end
at a line break or after ``.``, ``!``, ``?`` followed by a capital, digit or quote, but never
inside an entity, so no entity is cut in two.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotate.formats.prepared import PreparedDoc, Tally

_ENDERS = {".", "!", "?", "...", "…"}
_LINE_BREAKS = set("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


@dataclass(frozen=True)
class Sentence:
    tokens: list[str]
    tags: list[str]


def iob_sentences(prep: PreparedDoc) -> list[Sentence]:
    """Return the record's visible tokens cut into sentences, with IOB2 tags of the chosen spans."""
    text = prep.record.text
    tags: dict[int, str] = {}
    inside: set[int] = set()  # token indexes that continue an entity (a cut there is forbidden)
    for i in prep.chosen:
        a = prep.aligned(i)
        assert a is not None
        label = prep.record.entities[i].label
        first = True
        for k in range(a.tok_start, a.tok_end):
            if prep.tokens[k].is_space:
                continue
            tags[k] = f"B-{label}" if first else f"I-{label}"
            if not first:
                inside.add(k)
            first = False
    sentences: list[Sentence] = []
    cur_tokens: list[str] = []
    cur_tags: list[str] = []
    line_break = False
    prev = ""
    for k, t in enumerate(prep.tokens):
        word = text[t.start : t.end]
        if t.is_space:
            line_break = line_break or any(c in _LINE_BREAKS for c in word)
            continue
        ends = line_break or (
            prev in _ENDERS and (word[:1].isupper() or word[:1].isdigit() or word[:1] in "\"'“‘")
        )
        if cur_tokens and ends and k not in inside:
            sentences.append(Sentence(cur_tokens, cur_tags))
            cur_tokens, cur_tags = [], []
        cur_tokens.append(word)
        cur_tags.append(tags.get(k, "O"))
        line_break = False
        prev = word
    if cur_tokens:
        sentences.append(Sentence(cur_tokens, cur_tags))
    return sentences


def tally_token_format(tally: Tally, prep: PreparedDoc) -> None:
    """Count one record into ``tally`` for a format that keeps the chosen spans and no relations."""
    fmt = tally.format
    tally.add_doc(prep)
    tally.spans_written += len(prep.chosen)
    tally.omissions.extend(prep.token_span_omissions(fmt, overlaps_lost=True))
    tally.omissions.extend(prep.dangling_omissions(fmt))
    for j in sorted(prep.endpoints):
        tally.omissions.append(prep.relation_omission(fmt, j, "format_has_no_relations"))
