"""Texts longer than the pipeline's max_length: pre-annotated in pieces, offsets exact.

The pieces are cut at paragraph breaks, then sentence ends, then spaces; they cover the text
exactly. A document within the limit comes out as before, byte for byte.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from annotate.cli import app
from annotate.nlp.pieces import cut, join
from annotate.nlp.uncertainty import join_uncertainty

ROOT = Path(__file__).resolve().parent.parent
NEWS = str(ROOT / "recipes" / "news.toml")
runner = CliRunner()

PARAGRAPH = (
    "The Russian president Vladimir Putin met Xi Jinping in Moscow on Monday. "
    "NATO said Zelensky would visit Kyiv. Macron spoke in Paris.\n\n"
)


def _preannotate(tmp_path: Path, name: str, texts: list[str], *args: str) -> list[dict]:
    """Pre-annotate ``texts`` (one input file for every run of a test) into ``name``.jsonl."""
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"doc_id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
        encoding="utf-8",
    )
    out = tmp_path / f"{name}.jsonl"
    result = runner.invoke(app, ["preannotate", str(src), "--recipe", NEWS, "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _spans(record: dict) -> list[tuple[int, int, str, str]]:
    t = record["text"]
    return [
        (e["start_offset"], e["end_offset"], e["label"], t[e["start_offset"] : e["end_offset"]])
        for e in record["entities"]
    ]


# -- cutting -------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(list("ab .!?\n\r\t…é🇺🇦") + ["\n\n", ". ", "\r\n\r\n"]), max_size=200).map(
        "".join
    ),
    st.integers(min_value=1, max_value=60),
)
def test_pieces_cover_the_text_exactly_and_none_is_over_the_limit(text: str, limit: int) -> None:
    bounds = cut(text, limit)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(0 < end - start <= limit for start, end in bounds) or text == ""
    assert "".join(text[s:e] for s, e in bounds) == text


def test_a_text_within_the_limit_is_one_piece() -> None:
    assert cut("NATO met.", 9) == [(0, 9)]
    assert cut("", 5) == [(0, 0)]


def test_pieces_end_at_paragraphs_then_sentences_then_spaces() -> None:
    text = "One. Two.\n\nThree four. Five six seven."
    assert cut(text, 16) == [(0, 11), (11, 23), (23, len(text))]  # a paragraph, then sentences
    assert cut("aaaa bbbb cccc", 10) == [(0, 10), (10, 14)]  # no sentence end: at a space
    assert cut("abcdefghij", 4) == [(0, 4), (4, 8), (8, 10)]  # one long word: at the limit


def test_joined_pieces_shift_offsets_and_relation_indices() -> None:
    parts = [
        {"spans": [(0, 4, "ORG", "p")], "relations": [], "dropped": {"X": 1}},
        {
            "spans": [(1, 3, "GPE", "p"), (5, 9, "PER", "m")],
            "relations": [(1, 0, "in", "r")],
            "dropped": {"X": 2},
        },
    ]
    joined = join(parts, [(0, 10), (10, 30)])
    assert joined["spans"] == [(0, 4, "ORG", "p"), (11, 13, "GPE", "p"), (15, 19, "PER", "m")]
    assert joined["relations"] == [(2, 1, "in", "r")]
    assert joined["dropped"] == {"X": 3}


def test_joined_uncertainty_is_per_token_of_the_whole_text() -> None:
    a = {"score": 0.5, "method": "m", "tokens": 10, "decisions": 2, "expected_errors": 5.0, "least_sure": 0.2}
    b = {"score": 0.0, "method": "m", "tokens": 30, "decisions": 1, "expected_errors": 0.0, "least_sure": 0.9}
    j = join_uncertainty([a, b])
    assert j == {
        "score": 0.125,
        "method": "m",
        "tokens": 40,
        "decisions": 3,
        "expected_errors": 5.0,
        "least_sure": 0.2,
    }


# -- pre-annotating in pieces ---------------------------------------------------------------------------


def test_a_long_text_in_pieces_has_the_spans_of_the_whole_text_at_exact_offsets(tmp_path: Path) -> None:
    text = PARAGRAPH * 12
    [whole] = _preannotate(tmp_path, "whole", [text])
    [pieced] = _preannotate(tmp_path, "pieced", [text], "--max-length", "500")
    assert pieced["meta"]["pieces"] == len(cut(text, 500)) > 1
    assert "pieces" not in whole["meta"]
    assert pieced["text"] == text
    assert _spans(pieced) == _spans(whole)
    names = {s[3] for s in _spans(pieced)}
    assert {"NATO", "Kyiv", "Paris", "Moscow"} <= names


def test_relations_stay_within_a_piece(tmp_path: Path) -> None:
    text = PARAGRAPH * 12
    [pieced] = _preannotate(tmp_path, "pieced", [text], "--max-length", "300")
    bounds = cut(text, 300)
    piece_of = {}
    for e in pieced["entities"]:
        piece_of[e["id"]] = next(i for i, (s, end) in enumerate(bounds) if s <= e["start_offset"] < end)
        start, end = bounds[piece_of[e["id"]]]
        assert e["end_offset"] <= end
    assert pieced["relations"], "the news recipe's rules should find relations in this text"
    for r in pieced["relations"]:
        assert piece_of[r["from_id"]] == piece_of[r["to_id"]]


def test_pieces_with_forked_workers_and_uncertainty_give_the_same_records(tmp_path: Path) -> None:
    texts = [PARAGRAPH * 6, "NATO met in Kyiv.", PARAGRAPH * 3]
    one = _preannotate(tmp_path, "one", texts, "--max-length", "400", "--order", "uncertainty")
    two = _preannotate(
        tmp_path, "two", texts, "--max-length", "400", "--order", "uncertainty", "--n-process", "2"
    )
    assert one == two
    pieces = {r["doc_id"]: r["meta"].get("pieces") for r in one}
    assert pieces == {"d0": len(cut(texts[0], 400)), "d1": None, "d2": len(cut(texts[2], 400))}
    assert pieces["d0"] > pieces["d2"] > 1
    assert all(isinstance(r["meta"]["uncertainty"]["score"], float) for r in one)


def test_texts_within_the_limit_come_out_byte_identical(tmp_path: Path) -> None:
    texts = [PARAGRAPH, "NATO met in Kyiv.", PARAGRAPH * 2]
    default = _preannotate(tmp_path, "default", texts)
    raised = _preannotate(tmp_path, "raised", texts, "--max-length", "5000000")
    assert (tmp_path / "default.jsonl").read_bytes() == (tmp_path / "raised.jsonl").read_bytes()
    assert all("pieces" not in r["meta"] for r in default + raised)


def test_a_line_over_a_million_characters_is_pre_annotated_not_a_traceback(tmp_path: Path) -> None:
    """The issue's 50 MB line, at the size that already broke spaCy's default (1,000,000)."""
    sentence = "NATO met Zelensky in Kyiv on Monday. "
    text = sentence * (1_200_000 // len(sentence))
    src = tmp_path / "big.jsonl"
    src.write_text(json.dumps({"doc_id": "big", "text": text}) + "\n", encoding="utf-8")
    out = tmp_path / "big-tasks.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "annotate",
            "preannotate",
            str(src),
            "--recipe",
            NEWS,
            "--model",
            "blank:en",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "ANNOTATE_NO_PROGRESS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "pre-annotated in pieces" in proc.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["meta"]["pieces"] == 2 and record["text"] == text
    # Every sentence is annotated as the sentence alone is, at its own offsets.
    [alone] = _preannotate(tmp_path, "alone", [sentence], "--model", "blank:en")
    one = {(e["start_offset"], e["end_offset"], e["label"]) for e in alone["entities"]}
    n = len(text) // len(sentence)
    assert one and len(record["entities"]) == n * len(one)
    assert len({(e["start_offset"], e["end_offset"]) for e in record["entities"]}) == n * len(one)
    for e in record["entities"]:
        k, start = divmod(e["start_offset"], len(sentence))
        assert (start, e["end_offset"] - k * len(sentence), e["label"]) in one
