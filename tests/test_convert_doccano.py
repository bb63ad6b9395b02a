"""convert -> push -> pull -> export against the real Doccano (session fixture): nothing is lost."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pushpull_helpers import annotation_view, read

from annotate.convert.convert import convert
from annotate.convert.options import ConvertOptions
from annotate.doccano import DoccanoAPI
from annotate.export import ExportOptions, export
from annotate.formats.brat import read_brat_dir
from annotate.formats.jsonl import write_records
from annotate.recipe import EntityLabel, Recipe, RelationType
from annotate.records.doccano_forms import iter_conll
from annotate.records.model import Record
from annotate.sync.pull import pull
from annotate.sync.push import PushOptions, push

DATA = Path(__file__).parent / "data"
# One input per source, each giving one record a document (push wants unique doc ids).
SOURCES: list[tuple[str, Path, dict[str, Any]]] = [
    ("prodigy", DATA / "prodigy" / "annotations.jsonl", {}),
    ("label-studio", DATA / "label-studio" / "export.json", {"predictions": True}),
    ("brat", DATA / "brat", {}),
    ("conll", DATA / "conll" / "conll2003-iob1.txt", {}),
    ("doccano", DATA / "doccano" / "export-all.zip", {}),
]


def converted_tasks(tmp_path: Path) -> list[Record]:
    tasks: list[Record] = []
    for n, (source, path, kw) in enumerate(SOURCES):
        out = tmp_path / f"{source}.jsonl"
        convert(ConvertOptions(inputs=(path,), source=source, out=out, **kw))
        for rec in read(out):
            # push makes tasks: who annotated and Doccano's example id are not a task's
            rec.annotator = rec.example_id = rec.confirmed = rec.comments = None
            rec.doc_id = f"{n}-{rec.doc_id}"
            tasks.append(rec)
    return tasks


def recipe_for(tasks: list[Record], *, allow_overlapping: bool = True) -> Recipe:
    labels = sorted({s.label for r in tasks for s in r.entities})
    types = sorted({r.label for t in tasks for r in t.relations})
    return Recipe(
        name="converted",
        version="1",
        labels=tuple(EntityLabel(x) for x in labels),
        relation_types=tuple(RelationType(x) for x in types),
        allow_overlapping=allow_overlapping,
    )


def test_converted_records_survive_push_pull_and_export(
    doccano_api: DoccanoAPI, make_project: Any, tmp_path: Path
) -> None:
    tasks = converted_tasks(tmp_path)
    assert len(tasks) == 4 + 1 + 2 + 2 + 2
    tasks_path = tmp_path / "tasks.jsonl"
    write_records(tasks_path, tasks)
    proj = make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=True)
    report = push(
        doccano_api,
        tasks_path,
        project=proj["id"],
        recipe=recipe_for(tasks),
        options=PushOptions(sync_labels=True, ledger_dir=tmp_path),
    )
    assert report.pushed == len(tasks) and not report.refused
    gold_path = tmp_path / "gold.jsonl"
    pull(doccano_api, project=proj["id"], out=gold_path)
    gold = {g.doc_id: g for g in read(gold_path)}
    assert sorted(gold) == sorted(t.doc_id for t in tasks)
    for t in tasks:
        assert annotation_view(gold[t.doc_id]) == annotation_view(t)
    exported = export(gold_path, tmp_path / "exp", ExportOptions(to=["brat", "jsonl"], split={"train": 1.0}))
    assert exported.balanced
    assert not exported.tallies["brat"].omissions
    back = {r.doc_id: r for r in read_brat_dir(exported.path("brat", "train"))}
    for t in tasks:
        assert sorted(s.key for s in back[t.doc_id].entities) == sorted(s.key for s in t.entities)
        assert len(back[t.doc_id].relations) == len(t.relations)
    # Doccano's own export zip of the project converts back to the same annotations.
    zip_path = doccano_api.export_zip(proj["id"], tmp_path / "doccano-export.zip")
    out = tmp_path / "from-zip.jsonl"
    convert(ConvertOptions(inputs=(zip_path,), source="auto", out=out))
    from_zip = {r.doc_id: r for r in read(out)}
    assert sorted(from_zip) == sorted(gold)
    for doc_id, g in gold.items():
        assert annotation_view(from_zip[doc_id]) == annotation_view(g)


def test_doccanos_own_files_push_as_they_are_and_pull_back_the_same(
    doccano_api: DoccanoAPI, make_project: Any, tmp_path: Path
) -> None:
    examples = DATA / "doccano-examples"
    proj = make_project(use_relation=True, collaborative_annotation=True, allow_overlapping=False)
    files: dict[Path, list[Record]] = {}
    for name in (
        "import-relation_extraction.jsonl",
        "export-sequence_labeling.jsonl",
        "import-sequence_labeling.conll",
    ):
        tasks = tmp_path / f"tasks-{name}"
        shutil.copy(examples / name, tasks)
        if name.endswith(".conll"):
            files[tasks] = [Record.from_dict(obj) for _, obj, f in iter_conll(tasks, name) if f is None]
        else:
            files[tasks] = read(tasks)
    expected = [r for recs in files.values() for r in recs]
    recipe = recipe_for(expected, allow_overlapping=False)
    for tasks, recs in files.items():
        options = PushOptions(sync_labels=True, ledger_dir=tmp_path / f"ledger-{tasks.name}")
        report = push(doccano_api, tasks, project=proj["id"], recipe=recipe, options=options)
        assert report.pushed == len(recs) and not report.refused
    gold_path = tmp_path / "gold.jsonl"
    pull(doccano_api, project=proj["id"], out=gold_path)
    gold = {g.doc_id: g for g in read(gold_path)}
    assert len(gold) == len(expected) == 1 + 3 + 2
    for e in expected:
        assert annotation_view(gold[e.doc_id]) == annotation_view(e)
