"""The benchmark's corpus generator: deterministic, realistic, and its tasks are valid."""

from __future__ import annotations

import json
from pathlib import Path

from annotate.records.validate import validate_file
from bench import corpus


def test_generator_is_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    corpus.write_tasks(a, 25)
    corpus.write_tasks(b, 25)
    corpus.write_tasks(c, 25, seed=14)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_articles_are_news_length_with_a_headline_and_entities_at_their_offsets() -> None:
    arts = list(corpus.generate(40))
    assert len({a.text for a in arts}) == 40
    for a in arts:
        assert 200 <= a.words <= 700
        headline, _, body = a.text.partition("\n\n")
        assert headline and not headline.endswith(".") and body
        for start, end, label in a.entities:
            surface = a.text[start:end]
            assert surface == surface.strip() and surface
            assert label in corpus.LABEL_OF.values()
        assert len(a.relations) >= 2


def test_tasks_have_about_ten_entities_two_relations_and_validate(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    corpus.write_tasks(path, 60)
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    assert all(len(r["entities"]) == 10 and len(r["relations"]) == 2 for r in records)
    report = validate_file(path, kind="task")
    assert report.n_records == 60
    assert report.n_errors == 0, [str(f) for f in report.findings[:5]]


def test_doccano_import_lines_share_one_key_set_and_are_ascii(tmp_path: Path) -> None:
    path = tmp_path / "import.jsonl"
    corpus.write_doccano_import(path, 30)
    raw = path.read_bytes()
    assert raw.isascii()
    keys = {tuple(sorted(json.loads(line))) for line in raw.decode().splitlines()}
    assert keys == {("doc_hash", "doc_id", "entities", "relations", "text")}
