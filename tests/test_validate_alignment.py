"""The token-alignment check finds the chunk around a span's edge by scanning locally; it
must agree with tokenizing the whole text, also where a chunk is long (text without spaces)."""

from __future__ import annotations

import random

import pytest

from annotate.records.validate import TokenAligner, _align

WORDS = ["Kenya.", "Reuters,", "U.S.", "(UN)", "can't", "Xi", "jinping", "—", "😀", "e\u0301"]


def _whole_text(aligner: TokenAligner, text: str, start: int, end: int) -> object:
    doc = aligner.tokenizer(text)
    return _align([t.idx for t in doc], [t.idx + len(t) for t in doc], start, end, 0, len(text))


@pytest.mark.parametrize("joiner", [" ", ""], ids=["single-spaces", "no-spaces"])
def test_alignment_of_local_chunks_agrees_with_the_whole_text(joiner: str) -> None:
    aligner = TokenAligner.for_lang("en")
    rng = random.Random(7)
    checked = 0
    for _ in range(60):
        # Without spaces the one chunk is hundreds of characters long: the backward search
        # has to widen its window several times.
        text = joiner.join(rng.choice(WORDS) for _ in range(rng.randint(2, 120)))
        for _ in range(10):
            start = rng.randrange(len(text))
            end = rng.randint(start + 1, min(len(text), start + 30))
            if text[start].isspace() or text[end - 1].isspace():
                continue
            assert aligner.alignment(text, start, end) == _whole_text(aligner, text, start, end), (
                text,
                start,
                end,
            )
            checked += 1
    assert checked > 300
