"""`annotate convert` on the command line: bad input per format, no output on error, round trips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.export import ExportOptions, export
from annotate.formats.jsonl import read_records, write_records
from annotate.records.model import Record

DATA = Path(__file__).parent / "data"
runner = CliRunner()


def convert(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["convert", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def keyed(rec: Record) -> tuple[str, list[tuple[str, str]], list[tuple[str, str, str, str, str]]]:
    by_id = rec.span_by_id()
    spans = sorted((rec.text[s.start : s.end], s.label) for s in rec.entities)
    rels = sorted(
        (rec.text[h.start : h.end], h.label, r.label, rec.text[t.start : t.end], t.label)
        for h, t, r in ((by_id[r.head], by_id[r.tail], r) for r in rec.relations)
    )
    return rec.text, spans, rels


def test_convert_prints_the_summary_and_writes_valid_records(tmp_path: Path) -> None:
    out = tmp_path / "gold.jsonl"
    code, output = convert(str(DATA / "doccano" / "export-per-user.zip"), "--out", str(out))
    assert code == 0, output
    assert "source: doccano (detected:" in output
    assert "converted: 3 records by 2 annotators, 6 spans, 1 relations" in output
    v = runner.invoke(app, ["validate", str(out)])
    assert v.exit_code == 0, v.output


def test_an_existing_output_is_kept_without_force(tmp_path: Path) -> None:
    out = tmp_path / "gold.jsonl"
    out.write_text("mine\n", "utf-8")
    code, output = convert(str(DATA / "prodigy" / "annotations.jsonl"), "--out", str(out))
    assert code == 2 and "--force" in output
    assert out.read_text("utf-8") == "mine\n"
    code, _ = convert(str(DATA / "prodigy" / "annotations.jsonl"), "--out", str(out), "--force")
    assert code == 0 and out.read_text("utf-8") != "mine\n"


def bad_case(tmp_path: Path, name: str) -> tuple[list[str], str]:
    """Write one bad input; return the convert arguments and the expected ``file:line`` of the error."""
    if name == "truncated-prodigy":
        lines = (DATA / "prodigy" / "annotations.jsonl").read_text("utf-8").splitlines()
        p = tmp_path / "p.jsonl"
        p.write_text(lines[0] + "\n" + lines[1][:40] + "\n", "utf-8")
        return [str(p), "--from", "prodigy"], f"{p}:2"
    if name == "truncated-label-studio":
        p = tmp_path / "ls.json"
        p.write_text((DATA / "label-studio" / "export.json").read_text("utf-8")[:300], "utf-8")
        return [str(p), "--from", "label-studio"], f"{p}:"
    if name == "span-outside-doccano":
        p = tmp_path / "d.jsonl"
        p.write_text(
            '{"text": "abc", "label": [[0, 2, "X"]]}\n{"text": "abc", "label": [[1, 9, "X"]]}\n', "utf-8"
        )
        return [str(p), "--from", "doccano"], f"{p}:2"
    if name == "span-outside-prodigy":
        p = tmp_path / "p.jsonl"
        p.write_text(
            json.dumps({"text": "abc", "answer": "accept", "spans": [{"start": 2, "end": 7, "label": "X"}]})
            + "\n"
        )
        return [str(p)], f"{p}:1"
    if name == "missing-span-brat":
        shutil.copy(DATA / "brat" / "cafe.txt", tmp_path / "cafe.txt")
        (tmp_path / "cafe.ann").write_text("T1\tPlace 0 4\tCafé\nR1\tNear Arg1:T1 Arg2:T9\n", "utf-8")
        return [str(tmp_path), "--from", "brat"], f"{tmp_path / 'cafe.ann'}:2"
    if name == "missing-span-label-studio":
        p = tmp_path / "ls.json"
        task = {
            "id": 1,
            "data": {"text": "Ana met Bob"},
            "annotations": [
                {
                    "completed_by": 1,
                    "result": [
                        {
                            "id": "a",
                            "type": "labels",
                            "value": {"start": 0, "end": 3, "text": "Ana", "labels": ["P"]},
                        },
                        {"type": "relation", "from_id": "a", "to_id": "zz", "labels": ["MET"]},
                    ],
                }
            ],
        }
        p.write_text(json.dumps([task], indent=1), "utf-8")
        return [str(p)], f"{p}:2"
    if name == "missing-span-prodigy":
        p = tmp_path / "p.jsonl"
        rel = {"head": 0, "child": 2, "label": "MET", "child_span": {"start": 8, "end": 11, "label": "P"}}
        obj = {
            "text": "Ana met Bob",
            "answer": "accept",
            "spans": [{"start": 0, "end": 3, "label": "P"}],
            "relations": [rel],
        }
        p.write_text(json.dumps(obj) + "\n", "utf-8")
        return [str(p), "--from", "prodigy"], f"{p}:1"
    if name == "bad-doc-ids-brat":
        shutil.copy(DATA / "brat" / "cafe.txt", tmp_path / "cafe.txt")
        (tmp_path / "cafe.ann").write_text("T1\tPlace 0 4\tCafé\n", "utf-8")
        (tmp_path / "doc_ids.json").write_text('{"cafe": "d1",\n "x": }\n', "utf-8")
        return [str(tmp_path), "--from", "brat"], f"{tmp_path / 'doc_ids.json'}:2"
    if name == "ann-without-txt":
        (tmp_path / "lonely.ann").write_text("T1\tX 0 1\ta\n", "utf-8")
        return [str(tmp_path / "lonely.ann"), "--from", "brat"], f"{tmp_path / 'lonely.ann'}"
    if name == "bad-tag-conll":
        p = tmp_path / "c.txt"
        p.write_text("Ana B-PER\nmet O\nBob X-PER\n", "utf-8")
        return [str(p), "--from", "conll"], f"{p}:3"
    if name == "bad-zip-doccano":
        p = tmp_path / "export.zip"
        p.write_bytes(b"PK\x03\x04 not really")
        return [str(p)], f"{p}"
    raise AssertionError(name)


BAD = [
    "truncated-prodigy",
    "truncated-label-studio",
    "span-outside-doccano",
    "span-outside-prodigy",
    "missing-span-brat",
    "missing-span-label-studio",
    "missing-span-prodigy",
    "bad-doc-ids-brat",
    "ann-without-txt",
    "bad-tag-conll",
    "bad-zip-doccano",
]


@pytest.mark.parametrize("name", BAD)
def test_bad_input_names_file_and_line_exits_1_and_writes_nothing(tmp_path: Path, name: str) -> None:
    args, where = bad_case(tmp_path, name)
    out = tmp_path / "out" / "gold.jsonl"
    code, output = convert(*args, "--out", str(out), "--report", str(tmp_path / "out" / "report.json"))
    assert code == 1, output
    assert output.startswith("error: [E1") and where in output
    assert not out.exists() and not (tmp_path / "out" / "report.json").exists()
    assert not list(tmp_path.glob("out/.*"))  # no temp file left behind


def test_unknown_from_is_a_usage_error_listing_the_sources(tmp_path: Path) -> None:
    out = tmp_path / "gold.jsonl"
    code, output = convert(
        str(DATA / "prodigy" / "annotations.jsonl"), "--from", "inception", "--out", str(out)
    )
    assert code == 2 and "unknown --from 'inception'" in output and "label-studio" in output
    assert not out.exists()


# --------------------------------------------------------------------------- round trips


def converted(tmp_path: Path, *inputs: Path, source: str = "auto") -> list[Record]:
    from annotate.convert.convert import convert as run
    from annotate.convert.options import ConvertOptions

    out = tmp_path / f"converted-{len(list(tmp_path.glob('converted-*')))}.jsonl"
    run(ConvertOptions(inputs=inputs, source=source, out=out))
    return [r for _, r in read_records(out)]


def test_our_brat_export_converts_back_to_the_same_records(tmp_path: Path) -> None:
    # Messy gold: emoji, CRLF, overlaps, a span across a line break, relations.
    gold = converted(tmp_path, DATA / "label-studio" / "export.json")
    text = "Intro\r\nThe Foreign\r\nOffice 😀 said: café."
    gold.append(Record(text=text, doc_id="line-break", annotator="x", confirmed=True))
    s = text.index("Foreign")
    from annotate.records.model import Span

    gold[-1].entities = [
        Span(0, s, s + len("Foreign\r\nOffice"), "ORG"),
        Span(1, text.index("café"), len(text) - 1, "FAC"),
    ]
    src = tmp_path / "gold.jsonl"
    write_records(src, gold)
    export(src, tmp_path / "exp", ExportOptions(to=["brat"], split={"train": 1.0}))
    back = converted(tmp_path, tmp_path / "exp" / "brat", source="brat")
    # brat holds no annotator: two annotators' records of one document come back as two
    # documents of that doc id, the second one suffixed (and counted) by convert.
    assert sorted(keyed(r) for r in back) == sorted(keyed(g) for g in gold)
    assert sorted(r.doc_id.split("#")[0] for r in back) == sorted(g.doc_id for g in gold)
    assert sum(len(r.entities) for r in back) == 12 and sum(len(r.relations) for r in back) == 4


def test_our_conll_export_converts_back_to_the_same_records(tmp_path: Path) -> None:
    # CoNLL holds tokens: records whose text is tokens joined by spaces come back exactly.
    gold = converted(tmp_path, DATA / "conll" / "conll2003-iob1.txt") + converted(
        tmp_path, DATA / "conll" / "two-column-iob2.conll"
    )
    for n, r in enumerate(gold):
        r.doc_id, r.annotator, r.confirmed = f"d{n}", "x", True
    src = tmp_path / "gold.jsonl"
    write_records(src, gold)
    report = export(src, tmp_path / "exp", ExportOptions(to=["conll"], split={"train": 1.0}))
    back = converted(tmp_path, report.path("conll", "train"), source="conll")
    assert [keyed(r) for r in back] == [keyed(g) for g in gold]


def test_stdin_in_and_stdout_out_with_a_named_source() -> None:
    lines = (DATA / "prodigy" / "annotations.jsonl").read_text("utf-8")
    result = runner.invoke(app, ["convert", "-", "--from", "prodigy", "--out", "-"], input=lines)
    assert result.exit_code == 0, result.output
    recs = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["annotator"] for r in recs] == ["news-alice", "news-alice", "news-alice", "news-bob"]
    assert "converted: 4 records" in result.stderr
    auto = runner.invoke(app, ["convert", "-", "--out", "-"], input=lines)
    assert auto.exit_code == 2 and "--from" in auto.output
