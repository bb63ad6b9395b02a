"""The baselines: what a user would do without ``annotate``, each as plainly and fairly as possible.

- raw ``nlp.pipe`` over the texts (a subprocess, like ours, so both pay interpreter start-up and model load);
- the raw Doccano import task alone (upload, ingest, wait; status polled every 50 ms, so the baseline
  pays no polling delay that ours might not);
- one doccano-client call per example, span and relation (what ``doccano predict`` does, extended to
  relations), the way its ``SpanAnnotator`` does it;
- the raw Doccano export task alone (schedule, wait, download the zip).

These call doccano-client directly on purpose: they are the user's alternative, not project code.
doccano-client is the extra ``annotate[doccano-client]``, which does not share the tool's environment
(it needs pydantic 1): the bench runs this module as a script in ``.venv-doccano-client``
(``python -m bench.baselines ACTION ARGS_JSON``, see :mod:`bench.client_baselines`), which times the
call itself, so the baseline pays no interpreter start-up or login.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from doccano_client import DoccanoClient
from doccano_client.repositories.data_download import DataDownloadRepository
from doccano_client.repositories.data_upload import DataUploadRepository
from doccano_client.repositories.task_status import TaskStatusRepository

POLL = 0.05


def client_for(url: str, username: str, password: str) -> DoccanoClient:
    c = DoccanoClient(url)
    c.login(username, password)
    return c


def _wait(client: DoccanoClient, task_id: str, timeout: float = 600.0) -> Any:
    status_repo = TaskStatusRepository(client._base_repository)
    deadline = time.monotonic() + timeout
    while True:
        status = status_repo.get(task_id)
        if status.ready:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"Doccano task {task_id} not done after {timeout:.0f} s")
        time.sleep(POLL)


def new_project(client: DoccanoClient, name: str, span_labels: list[str], relation_types: list[str]) -> int:
    """Create a collaborative relation project with its label types (setup, never timed)."""
    p = client.create_project(
        name=name,
        project_type="SequenceLabeling",
        description="bench",
        collaborative_annotation=True,
        use_relation=True,
    )
    for label in span_labels:
        client.create_label_type(p.id, "span", label)
    for rel in relation_types:
        client.create_label_type(p.id, "relation", rel)
    return int(p.id)


def raw_import(client: DoccanoClient, project_id: int, path: Path) -> int:
    """Upload one Doccano relation JSONL file through the import task; return the example count."""
    repo = DataUploadRepository(client._base_repository)
    upload_id = repo.upload(str(path))
    task_id = repo.ingest(
        project_id, [upload_id], "RelationExtraction", "JSONL", column_data="text", column_label="label"
    )
    status = _wait(client, task_id)
    if status.error:
        raise RuntimeError(f"import task failed: {status.error}")
    return int(client.count_examples(project_id))


def raw_export(client: DoccanoClient, project_id: int, out_dir: Path) -> int:
    """Run the export task and download its zip; return the number of exported lines."""
    repo = DataDownloadRepository(client._base_repository)
    option = repo.find_option_by_name(project_id, "JSONL")
    task_id = repo.schedule_download(project_id, option, only_approved=False)
    _wait(client, task_id)
    path = repo.download(project_id, task_id, str(out_dir))
    with zipfile.ZipFile(path) as z:
        return sum(z.read(name).count(b"\n") for name in z.namelist())


def one_call_per_span(client: DoccanoClient, project_id: int, tasks: list[dict[str, Any]]) -> int:
    """Create each example, then each span, then each relation with its own call; return the call count.

    This is ``doccano predict``'s ``SpanAnnotator`` (label types listed once, then
    ``create_span`` per entity), plus ``create_example`` and ``create_relation`` that a user
    also needs to get our tasks in.
    """
    span_ids = {t.text: t.id for t in client.list_label_types(project_id, type="span")}
    rel_ids = {t.text: t.id for t in client.list_label_types(project_id, type="relation")}
    calls = 2
    for task in tasks:
        example = client.create_example(
            project_id, task["text"], meta={"doc_id": task["doc_id"], "doc_hash": task["doc_hash"]}
        )
        calls += 1
        server_span: dict[int, int] = {}
        for e in task["entities"]:
            span = client.create_span(
                project_id,
                example.id,
                start_offset=e["start_offset"],
                end_offset=e["end_offset"],
                label=span_ids[e["label"]],
            )
            server_span[e["id"]] = span.id
            calls += 1
        for r in task["relations"]:
            client.create_relation(
                project_id,
                example.id,
                from_id=server_span[r["from_id"]],
                to_id=server_span[r["to_id"]],
                label=rel_ids[r["type"]],
            )
            calls += 1
    return calls


def main(argv: list[str]) -> None:
    """``python -m bench.baselines ACTION ARGS_JSON``: log in from DOCCANO_*, run one baseline, time it.

    Prints ``{"seconds": …, "result": …}``; ``seconds`` covers the baseline's own work only.
    """
    action, args = argv[0], json.loads(argv[1])
    client = client_for(
        os.environ["DOCCANO_URL"], os.environ["DOCCANO_USERNAME"], os.environ["DOCCANO_PASSWORD"]
    )
    if action == "new_project":
        fn = lambda: new_project(client, args["name"], args["spans"], args["relations"])  # noqa: E731
    elif action == "one_call_per_span":
        tasks = [json.loads(line) for line in open(args["tasks"], encoding="utf-8")]
        fn = lambda: one_call_per_span(client, args["project"], tasks)  # noqa: E731
    elif action == "raw_import":
        fn = lambda: raw_import(client, args["project"], Path(args["path"]))  # noqa: E731
    elif action == "raw_export":
        fn = lambda: raw_export(client, args["project"], Path(args["out_dir"]))  # noqa: E731
    else:
        raise SystemExit(f"unknown baseline {action}")
    t0 = time.perf_counter()
    result = fn()
    print(json.dumps({"seconds": time.perf_counter() - t0, "result": result}))


if __name__ == "__main__":
    main(sys.argv[1:])
