"""`annotate export` on the command line: summary, refusals with exit codes, options reaching the library."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from annotate.cli import app
from annotate.formats.jsonl import write_records
from annotate.records.model import Record, Relation, Span

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "news.toml"
TEXT = "Vladimir Putin met Kim Jong-un in Moscow.\nThe UN said nothing."


def gold(tmp_path: Path) -> Path:
    def sp(i: int, s: str, label: str) -> Span:
        start = TEXT.index(s)
        return Span(i, start, start + len(s), label)

    # Six different texts (so that documents spread over splits), every other one confirmed.
    # "Putin" (PERSON) lies inside the longer "Vladimir Putin" (ORG): the overlap policy decides.
    recs = [
        Record(
            text=TEXT + " " * n,
            doc_id=f"d{n}",
            entities=[sp(0, "Vladimir Putin", "ORG"), sp(1, "Putin", "PERSON"), sp(2, "Moscow", "GPE")],
            relations=[Relation(0, 1, 2, "LOCATED_IN")],
            confirmed=n % 2 == 0,
            annotator="a",
            example_id=n,
        )
        for n in range(6)
    ]
    path = tmp_path / "gold.jsonl"
    write_records(path, recs)
    return path


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["export", *args], catch_exceptions=False)


def test_help_states_the_default_alignment() -> None:
    r = run("--help")
    assert r.exit_code == 0
    assert "strict|contract|expand" in r.stdout and "[default: expand]" in r.stdout


def test_export_writes_every_format_asked_and_prints_the_totals_on_stderr(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run(
        str(gold(tmp_path)),
        "--to",
        "spacy,conll",
        "--to",
        "brat",
        "--out",
        str(out),
        "--split",
        "train=0.5,dev=0.5",
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    assert "spacy: spans 18 in, 18 written, 0 reported" in r.stderr
    assert "conll: spans 18 in, 12 written, 6 reported; relations 6 in, 0 written, 6 reported" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["brat", "conll", "manifest.json", "spacy"]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["split"]["ratios"] == {"train": 0.5, "dev": 0.5}
    assert sum(s["docs"] for s in manifest["counts"]["splits"].values()) == 6


def test_existing_output_is_refused_without_force(tmp_path: Path) -> None:
    path = gold(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = run(str(path), "--to", "jsonl", "--out", str(out))
    assert r.exit_code == 2 and "[E220]" in r.stderr and "--force" in r.stderr
    assert (out / "keep.txt").read_text() == "mine"
    r = run(str(path), "--to", "jsonl", "--out", str(out), "--force")
    assert r.exit_code == 0 and not (out / "keep.txt").exists()


def test_bad_options_are_usage_errors_and_write_nothing(tmp_path: Path) -> None:
    path = gold(tmp_path)
    out = tmp_path / "out"
    for args, code in (
        (["--to", "spacy", "--split", "train=0.8,dev=0.1"], "[E270]"),
        (["--to", "csv"], "[E271]"),
        (["--to", "conll", "--overlap", "priority"], "[E272]"),
    ):
        r = run(str(path), "--out", str(out), *args)
        assert r.exit_code == 2 and code in r.stderr, r.stderr
        assert not out.exists()


def test_unreadable_input_is_refused_with_its_line_and_no_output(tmp_path: Path) -> None:
    path = gold(tmp_path)
    path.write_text(path.read_text("utf-8") + "{not json\n", encoding="utf-8")
    out = tmp_path / "out"
    r = run(str(path), "--to", "spacy", "--out", str(out))
    assert r.exit_code == 1 and "[E180]" in r.stderr and "gold.jsonl:7" in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_only_confirmed_and_recipe_priority_reach_the_export(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = gold(tmp_path)
    r = run(
        str(path), "--to", "conll", "--out", str(out), "--only-confirmed",
        "--recipe", str(RECIPE), "--overlap", "priority",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["counts"]["excluded_docs"] == 3 and manifest["recipe"].startswith("news@")
    # news.toml lists PERSON before ORG, so the shorter PERSON span wins
    lost = {o["label"] for o in manifest["not_represented"] if o["kind"] == "span"}
    assert lost == {"ORG"}
    r = run(str(path), "--to", "conll", "--out", str(out), "--force")
    assert r.exit_code == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert {o["label"] for o in manifest["not_represented"] if o["kind"] == "span"} == {"PERSON"}
    assert "-DOCSTART-" in (out / "conll" / "train.conll").read_text("utf-8")
