"""Inputs of `annotate preannotate`: the text is never modified, ids are stable, bad documents
are reported with a reason (fatal only with --strict). Patterns only (--model blank:en), so
these run without a statistical model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.errors import DataError
from annotate.nlp.inputs import InputDoc, Problem, read_documents
from annotate.nlp.preannotate import preannotate
from annotate.recipe import load_recipe
from annotate.records.model import text_hash

ROOT = Path(__file__).resolve().parent.parent
NEWS = str(ROOT / "recipes" / "news.toml")
runner = CliRunner()


def run_cli(*args: str, input: bytes | str | None = None) -> tuple[int, list[dict], str]:
    """Run preannotate to stdout; return (exit code, records, stderr)."""
    result = runner.invoke(
        app, ["preannotate", *args, "--recipe", NEWS, "--model", "blank:en", "--out", "-"], input=input
    )
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, records, result.stderr


def spans(record: dict) -> list[tuple[str, str]]:
    t = record["text"]
    return [(t[e["start_offset"] : e["end_offset"]], e["label"]) for e in record["entities"]]


def test_emoji_offsets_index_the_exact_string(tmp_path: Path) -> None:
    text = "🇺🇦👩‍🔬 Zelensky met Macron 👋🏽 and NATO in Kyiv."
    (tmp_path / "e.txt").write_text(text, encoding="utf-8")
    code, [rec], _ = run_cli(str(tmp_path / "e.txt"))
    assert code == 0 and rec["text"] == text
    assert spans(rec) == [("Zelensky", "PERSON"), ("Macron", "PERSON"), ("NATO", "ORG")]
    assert rec["doc_hash"] == text_hash(text)


def test_crlf_is_kept_and_offsets_count_it(tmp_path: Path) -> None:
    raw = b"Putin spoke.\r\n\r\nNATO replied.\r\n"
    (tmp_path / "c.txt").write_bytes(raw)
    code, [rec], _ = run_cli(str(tmp_path / "c.txt"))
    assert code == 0 and rec["text"] == raw.decode("utf-8")
    assert [e["start_offset"] for e in rec["entities"]] == [0, raw.decode().index("NATO")]


def test_a_bom_is_kept_as_character_zero_and_reported(tmp_path: Path) -> None:
    raw = "\ufeffNATO met.".encode()
    (tmp_path / "b.txt").write_bytes(raw)
    code, [rec], err = run_cli(str(tmp_path / "b.txt"))
    assert code == 0
    assert rec["text"] == "\ufeffNATO met." and rec["entities"][0]["start_offset"] == 1
    assert rec["doc_hash"] == text_hash("\ufeffNATO met.")
    assert "byte order mark" in err and "W101" in err


def test_empty_and_undecodable_documents_are_skipped_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("NATO met.", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b"  \r\n\n")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 NATO".encode("latin-1"))
    code, records, err = run_cli(str(tmp_path))
    assert code == 0 and [r["doc_id"] for r in records] == ["a.txt"]
    assert "skipped 3 documents" in err
    assert "empty.txt: empty document [E111]" in err and "blank.txt: empty document" in err
    assert "latin1.txt: not UTF-8" in err and "E104" in err


def test_strict_fails_on_the_first_bad_document_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("NATO met.", encoding="utf-8")
    (tmp_path / "z.txt").write_bytes(b"\xff\xfe")
    out = tmp_path / "out" / "tasks.jsonl"
    result = runner.invoke(
        app,
        [
            "preannotate",
            str(tmp_path),
            "--recipe",
            NEWS,
            "--model",
            "blank:en",
            "--out",
            str(out),
            "--strict",
        ],
    )
    assert result.exit_code == 1
    assert "z.txt" in result.stderr and "not UTF-8" in result.stderr
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no temp file left behind


def test_jsonl_input_keeps_meta_uses_given_ids_and_text_key(tmp_path: Path) -> None:
    lines = [
        {"doc_id": "a1", "body": "NATO met.", "url": "http://x", "entities": [{"ignored": True}]},
        {"body": "Putin spoke."},
        {"doc_id": "a1", "body": "Duplicate."},
        {"doc_id": "n", "body": 3},
        "not an object",
    ]
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n", encoding="utf-8")
    code, records, err = run_cli(str(f), "--text-key", "body")
    assert code == 0
    assert [r["doc_id"] for r in records] == ["a1", "in.jsonl:2"]
    assert records[0]["meta"]["url"] == "http://x" and "entities" not in records[0]["meta"]
    assert records[0]["meta"]["source_path"] == str(f) and records[0]["meta"]["source_line"] == 1
    assert f"{f}:3: duplicate doc_id 'a1' (first in {f}:1)" in err
    assert f"{f}:4: 'body' is not a string" in err
    assert f"{f}:5: a line must be a JSON object" in err
    assert f"{f}:6: invalid JSON" in err


def test_directories_are_read_recursively_in_order_with_relative_ids(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("NATO b.", encoding="utf-8")
    (tmp_path / "sub" / "a.md").write_text("# NATO a", encoding="utf-8")
    (tmp_path / "sub" / "c.csv").write_text("NATO,c", encoding="utf-8")
    # A corpus's own README and LICENSE describe it; they are not documents of it.
    (tmp_path / "README.md").write_text("# About this corpus", encoding="utf-8")
    (tmp_path / "sub" / "LICENSE.txt").write_text("Public domain", encoding="utf-8")
    code, records, _ = run_cli(str(tmp_path))
    assert [r["doc_id"] for r in records] == ["b.txt", "sub/a.md"]
    # An explicit glob is taken at its word.
    code, records, _ = run_cli(str(tmp_path), "--glob", "**/*.md")
    assert [r["doc_id"] for r in records] == ["README.md", "sub/a.md"]


def test_stdin_text_and_stdin_jsonl() -> None:
    code, [rec], _ = run_cli("-", input=b"NATO met in Brussels.\r\n")
    assert code == 0 and rec["doc_id"] == "stdin" and rec["text"] == "NATO met in Brussels.\r\n"
    code, records, _ = run_cli("-", input='{"text": "NATO a"}\n{"text": "NATO b", "doc_id": 7}\n')
    assert [r["doc_id"] for r in records] == ["stdin:1", "7"]


def test_limit_stops_after_n_documents(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"{i}.txt").write_text(f"NATO {i}", encoding="utf-8")
    code, records, _ = run_cli(str(tmp_path), "--limit", "2")
    assert [r["doc_id"] for r in records] == ["0.txt", "1.txt"]


def test_an_existing_output_needs_force(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("NATO met.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("keep", encoding="utf-8")
    args = [
        "preannotate",
        str(tmp_path / "a.txt"),
        "--recipe",
        NEWS,
        "--model",
        "blank:en",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "E220" in result.stderr and out.read_text() == "keep"
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["doc_id"] == "a.txt"


def test_missing_input_is_refused_by_the_cli_and_reported_by_the_library_unless_strict(
    tmp_path: Path,
) -> None:
    code, records, err = run_cli(str(tmp_path / "nope.txt"))
    assert code == 2 and records == [] and "[E201]" in err and "nope.txt" in err
    lenient = preannotate([str(tmp_path / "nope.txt")], load_recipe(NEWS), model="blank:en")
    assert list(lenient.records) == []
    assert [p.reason for p in lenient.summary.skipped] == ["no such file or directory"]
    recipe = load_recipe(NEWS)
    run = preannotate([str(tmp_path / "nope.txt")], recipe, model="blank:en", strict=True)
    with pytest.raises(DataError):
        list(run.records)


def test_read_documents_yields_problems_in_order(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"x")
    (tmp_path / "b.txt").write_bytes(b"")
    items = list(read_documents([str(tmp_path)]))
    assert isinstance(items[0], InputDoc) and items[0].doc_id == "a.txt"
    assert isinstance(items[1], Problem) and items[1].code == "E111"


# --- property: offsets always index the exact text -------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NAMES = ["NATO", "Vladimir Putin", "Kremlin", "Kim Jong-un", "Russian"]
FILLERS = ["🇺🇦", "👩‍🔬", "e\u0301", "\r\n", "\n\n", "\u00a0", "\ufeff", " ", ", ", "x", "Ωmega", "\t"]


@pytest.fixture(scope="module")
def blank_pipeline():  # type: ignore[no-untyped-def]
    from annotate.nlp.pipelines import load

    recipe = load_recipe(NEWS)
    return recipe, load(recipe, model="blank:en")


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.sampled_from(NAMES + FILLERS), min_size=1, max_size=25))
def test_span_offsets_slice_the_unmodified_text(blank_pipeline, parts: list[str]) -> None:  # type: ignore[no-untyped-def]
    from annotate.nlp.preannotate import Summary, annotate_doc

    recipe, pipe = blank_pipeline
    text = " ".join(parts)
    item = InputDoc(text=text, doc_id="d", source="-")
    record = annotate_doc(pipe.nlp(text), item, recipe=recipe, pipe=pipe, rules=[], summary=Summary())
    assert record.text == text and record.doc_hash == text_hash(text)
    last_end = -1
    for span in record.entities:
        assert 0 <= span.start < span.end <= len(text)
        assert text[span.start : span.end] in NAMES + ["Putin", "Kim Jong-un"]
        assert span.start >= last_end  # sorted, not overlapping
        last_end = span.end
    # Every name is found, whatever surrounds it.
    assert [text[s.start : s.end] for s in record.entities] == [p for p in parts if p in NAMES]
