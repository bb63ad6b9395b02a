"""`annotate validate`: output format, exit codes, stdin, --strict, --format json, --recipe."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from annotate import recipe as recipe_mod
from annotate.cli import app
from annotate.records.model import text_hash

runner = CliRunner()
TEXT = "Vladimir Putin met Kim Jong-un."
LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<ptr>/\S*): \[(?P<code>[EW]\d{3})\] .+$")


def rec(doc_id: str, **changes: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "doc_id": doc_id,
        "doc_hash": text_hash(TEXT),
        "text": TEXT,
        "entities": [
            {"id": 0, "start_offset": 0, "end_offset": 14, "label": "PERSON"},
            {"id": 1, "start_offset": 19, "end_offset": 30, "label": "PERSON"},
        ],
        "relations": [{"id": 0, "from_id": 0, "to_id": 1, "type": "MET"}],
        "meta": {},
    }
    r.update(changes)
    return r


def write(path: Path, *recs: Any) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


def invoke(*args: str, input: str | bytes | None = None) -> Any:
    return runner.invoke(app, ["validate", *args], input=input, catch_exceptions=False)


def test_valid_file_exits_0_with_a_summary(tmp_path: Path) -> None:
    p = write(tmp_path / "ok.jsonl", rec("a"), rec("b"))
    result = invoke(str(p))
    assert result.exit_code == 0
    assert (
        result.stdout.strip().splitlines()[-1].startswith("valid: 1 file(s), 2 records, 0 errors, 0 warnings")
    )


def test_invalid_file_prints_file_line_pointer_code_then_a_table_and_exits_1(tmp_path: Path) -> None:
    bad = rec("b", relations=[{"id": 0, "from_id": 0, "to_id": 0, "type": "MET"}])
    bad["entities"][1]["end_offset"] = 99
    p = write(tmp_path / "bad.jsonl", rec("a"), bad)
    result = invoke(str(p))
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    findings = [m.groupdict() for m in map(LINE_RE.match, out) if m]
    assert [(f["file"], f["line"], f["ptr"], f["code"]) for f in findings] == [
        (str(p), "2", "/entities/1/end_offset", "E120"),
        (str(p), "2", "/relations/0", "E123"),
    ]
    table = [line.split() for line in out if re.match(r"^E\d{3} ", line)]
    assert [(row[0], row[1], row[2], row[3]) for row in table] == [
        ("E120", "offsets", "error", "1"),
        ("E123", "self-loop", "error", "1"),
    ]
    assert out[-1].startswith("INVALID: 1 file(s), 2 records, 2 errors")


def test_stdin_is_read_with_dash() -> None:
    data = json.dumps(rec("a")) + "\n" + "{oops\n"
    result = invoke("-", input=data)
    assert result.exit_code == 1
    assert "<stdin>:2: [E102] invalid JSON" in result.stdout


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    r = rec("a")
    r["entities"][1]["end_offset"] = 31  # "Kim Jong-un."
    p = write(tmp_path / "warn.jsonl", r)
    assert invoke(str(p)).exit_code == 0
    strict = invoke(str(p), "--strict")
    assert strict.exit_code == 1
    assert "[W140]" in strict.stdout


def test_json_format_is_machine_readable(tmp_path: Path) -> None:
    p = write(tmp_path / "bad.jsonl", rec("a"), rec("a"))
    result = invoke(str(p), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    (f,) = doc["files"][0]["findings"]
    assert f == {
        "path": str(p),
        "line": 2,
        "pointer": "/doc_id",
        "code": "E107",
        "check": "duplicate-doc-id",
        "level": "error",
        "message": f["message"],
        "fix": None,
    }
    assert doc["files"][0]["counts"] == {"E107": 1}


def test_max_errors_limits_the_output(tmp_path: Path) -> None:
    p = tmp_path / "many.jsonl"
    p.write_text("{x\n" * 20, encoding="utf-8")
    result = invoke(str(p), "--max-errors", "2")
    assert result.exit_code == 1
    assert result.stdout.count("[E102]") == 2
    assert "stopped early" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--kind", "nope", "x.jsonl"],
        ["--format", "xml", "x.jsonl"],
        ["missing.jsonl"],
        ["--max-errors", "0", "x.jsonl"],
    ],
)
def test_usage_errors_exit_2_without_traceback(
    tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x.jsonl", rec("a"))
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_binary_garbage_is_findings_not_a_traceback(tmp_path: Path) -> None:
    p = tmp_path / "junk.jsonl"
    p.write_bytes(bytes(range(256)) * 4 + b'\n\x00\x00\n{"text": "\\ud800"}\n')
    result = invoke(str(p))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "[E104]" in result.stdout


RECIPE_TOML = """
name = "news"
version = "1"
labels = [{ name = "PERSON" }, { name = "GPE" }]
relations = [{ name = "MET", allowed = [["PERSON", "PERSON"]] }]
"""


@pytest.mark.skipif(not hasattr(recipe_mod, "load_recipe"), reason="recipe loading not available")
def test_recipe_option_checks_labels_relation_types_and_tokens(tmp_path: Path) -> None:
    recipe = tmp_path / "news.toml"
    recipe.write_text(RECIPE_TOML, encoding="utf-8")
    bad = rec("a")
    bad["entities"][0]["label"] = "ORG"
    bad["entities"][1]["start_offset"] = 20  # "im Jong-un": not token-aligned
    p = write(tmp_path / "t.jsonl", bad)
    result = invoke(str(p), "--recipe", str(recipe))
    assert result.exit_code == 1
    got = [(m["ptr"], m["code"]) for m in map(LINE_RE.match, result.stdout.splitlines()) if m]
    assert got == [("/entities/0/label", "E126"), ("/entities/1", "W141"), ("/relations/0", "E128")]
    assert invoke(str(p)).exit_code == 0  # without the recipe, none of these apply


def test_recipe_files_are_validated_as_recipes(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(RECIPE_TOML, encoding="utf-8")
    assert invoke(str(good)).exit_code == 0
    syntax = tmp_path / "syntax.toml"
    syntax.write_text('name = "x"\nversion = \n', encoding="utf-8")
    result = invoke(str(syntax))
    assert result.exit_code == 1 and f"{syntax}:2: [E150]" in result.stdout
    schema = tmp_path / "schema.toml"
    schema.write_text(RECIPE_TOML.replace('{ name = "GPE" }', '{ name = "gpe lower" }'), encoding="utf-8")
    result = invoke(str(schema))
    assert result.exit_code == 1 and ": /labels/1/name: [E110]" in result.stdout
