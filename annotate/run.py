"""The main job: one call that runs the whole loop on a corpus folder.

    server -> pre-annotate -> push -> (a person corrects in Doccano) -> pull -> validate
    -> export (spaCy, CoNLL, brat) -> evaluate (HTML report)

Every step is the library function of its own module; this module only orders them, names
the output files and collects the reports. It never prints or prompts: messages, progress
bars and the wait for the person are the caller's callbacks (see :class:`Hooks`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.errors import UsageError
from annotate.fileio import atomic_write, check_writable

if TYPE_CHECKING:
    from annotate.settings import ConnectionSettings

Advance = Callable[[int], None]
# ``step(label, total)`` returns a context manager that yields ``advance(n)`` for a progress bar.
StepFactory = Callable[[str, "int | None"], AbstractContextManager[Advance]]

DEFAULT_CORPUS = Path("corpus")
DEFAULT_RECIPE = Path("recipes/news.toml")
DEFAULT_OUT = Path("out")
# Only plain-text documents: a corpus folder also holds its README (licences, sources).
CORPUS_GLOB = "**/*.txt"
EXPORT_FORMATS = ("spacy", "conll", "brat")


@dataclass(frozen=True)
class Outputs:
    """Where every file of a run goes, under one output folder."""

    out_dir: Path

    @property
    def tasks(self) -> Path:
        return self.out_dir / "tasks.jsonl"

    @property
    def gold(self) -> Path:
        return self.out_dir / "gold.jsonl"

    @property
    def validation(self) -> Path:
        return self.out_dir / "validation.json"

    @property
    def export_dir(self) -> Path:
        return self.out_dir / "export"

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"

    @property
    def evaluation(self) -> Path:
        return self.out_dir / "evaluation.json"

    def all(self) -> list[Path]:
        return [self.tasks, self.gold, self.validation, self.export_dir, self.report_html, self.evaluation]


@dataclass(frozen=True)
class Login:
    """How a person reaches the project. Never holds a password, only where to find it."""

    url: str
    project_url: str
    username: str
    # e.g. "in /home/me/.local/share/annotate/server/credentials.json" or "from $DOCCANO_PASSWORD".
    password_hint: str
    local_server: bool
    server_data_dir: Path | None = None


@dataclass
class Hooks:
    """What the caller supplies: messages, progress bars and the human step.

    ``ready`` is called once the tasks are in Doccano, with how to log in. ``wait`` is called
    next; it returns when the person is done correcting. ``None`` means go straight on
    (``--no-wait``, CI, no terminal).
    """

    say: Callable[[str], None] = lambda message: None
    step: StepFactory | None = None
    ready: Callable[[Login], None] = lambda login: None
    wait: Callable[[Login], None] | None = None

    def progress(self, label: str, total: int | None = None) -> AbstractContextManager[Advance]:
        if self.step is None:
            return _no_progress()
        return self.step(label, total)


def _ignore(n: int = 1) -> None:
    """An ``advance`` that draws nothing."""


@contextlib.contextmanager
def _no_progress() -> Iterator[Advance]:
    yield _ignore


@dataclass
class RunReport:
    """Everything a run did, step by step (a step not reached is None)."""

    outputs: Outputs
    login: Login | None = None
    server_started: bool = False
    preannotate: Any = None  # annotate.preannotate.Summary
    push: Any = None  # annotate.push.PushReport
    waited: bool = False
    pull: Any = None  # annotate.pull.PullReport
    validation: Any = None  # annotate.validate.ValidationReport
    export: Any = None  # annotate.export.ExportReport
    evaluation: Any = None  # annotate.evaluate.Evaluation
    seconds: dict[str, float] = field(default_factory=dict)


def default_project_name(corpus_dir: Path, recipe_name: str) -> str:
    """Return the project name used when none is given: ``<recipe>-<corpus folder>``."""
    folder = corpus_dir.resolve().name or "corpus"
    return f"{recipe_name}-{folder}"


def run(
    corpus_dir: str | Path = DEFAULT_CORPUS,
    *,
    recipe_path: str | Path = DEFAULT_RECIPE,
    project: str | None = None,
    out_dir: str | Path = DEFAULT_OUT,
    settings: ConnectionSettings | None = None,
    server_port: int | None = None,
    server_data_dir: Path | None = None,
    force: bool = False,
    hooks: Hooks | None = None,
) -> RunReport:
    """Run the whole loop on ``corpus_dir``; return what each step did.

    ``settings`` (an :class:`annotate.settings.ConnectionSettings`) points at an existing
    Doccano; without it the local server is started (or reused if it already runs). Every
    output lands in ``out_dir`` (see :class:`Outputs`); existing outputs are refused before
    any work unless ``force``. Raises the step's own AnnotateError when a step fails.
    """
    from annotate.doccano import connect
    from annotate.recipe import load_recipe

    hooks = hooks or Hooks()
    corpus = Path(corpus_dir)
    outputs = Outputs(Path(out_dir))
    report = RunReport(outputs=outputs)
    _check_inputs(corpus, outputs, force)
    recipe = load_recipe(recipe_path)
    project_name = project or default_project_name(corpus, recipe.name)

    with _timed(report, "server"):
        if settings is None:
            settings, report.login, report.server_started = _local_server(server_port, server_data_dir, hooks)
    with _timed(report, "preannotate"):
        report.preannotate = _preannotate(corpus, recipe, outputs.tasks, force, hooks)
    with connect(settings) as api:
        _in_doccano(api, settings, report, project_name, recipe, force, hooks)
    n_gold = report.pull.records
    with _timed(report, "validate"):
        report.validation = _validate(outputs.gold, outputs.validation, recipe, n_gold, force, hooks)
    with _timed(report, "export"):
        report.export = _export(outputs.gold, outputs.export_dir, recipe, n_gold, force, hooks)
    with _timed(report, "evaluate"):
        report.evaluation = _evaluate(outputs, n_gold, force, hooks)
    return report


def _check_inputs(corpus: Path, outputs: Outputs, force: bool) -> None:
    """Raise UsageError unless ``corpus`` holds documents and every output may be written."""
    if not corpus.is_dir():
        raise UsageError(
            f"{corpus} is not a folder of documents", hint="pass the corpus folder, e.g. corpus/"
        )
    if not any(corpus.glob(CORPUS_GLOB)):
        raise UsageError(f"{corpus} holds no .txt documents", hint="one plain-text document per .txt file")
    # Refuse before starting anything, so a half-run never replaces earlier results.
    for path in outputs.all():
        check_writable(path, force=force)


@contextlib.contextmanager
def _timed(report: RunReport, step: str) -> Iterator[None]:
    """Record in ``report.seconds`` how long the step in the block took, when it succeeds."""
    began = time.monotonic()
    yield
    report.seconds[step] = round(time.monotonic() - began, 3)


def _in_doccano(
    api: Any,
    settings: ConnectionSettings,
    report: RunReport,
    project: str,
    recipe: Any,
    force: bool,
    hooks: Hooks,
) -> None:
    """Push the tasks, let the person correct them (``hooks.wait``), and pull the gold."""
    outputs = report.outputs
    with _timed(report, "push"):
        report.push = _push(api, outputs.tasks, project, recipe, report.preannotate.docs, hooks)
    report.login = _login(settings, report.push.project_url, report.login)
    pushed = report.push
    hooks.say(
        f"pushed {pushed.pushed} new documents, {pushed.skipped_present} were already there"
        f" -> {pushed.project_url}"
    )

    hooks.ready(report.login)
    if hooks.wait is not None:
        hooks.wait(report.login)
        report.waited = True

    with _timed(report, "pull"):
        report.pull = _pull(api, report.push.project_id, outputs.gold, force, hooks)


# --- the steps ----------------------------------------------------------------------------------


def _local_server(
    port: int | None, data_dir: Path | None, hooks: Hooks
) -> tuple[ConnectionSettings, Login, bool]:
    """Start (or reuse) the local Doccano; return its admin settings and how to log in."""
    from annotate.doccano import server
    from annotate.settings import CREDENTIALS_FILE, ConnectionSettings

    hooks.say("starting the local Doccano server ...")
    info = server.start(port=port, data_dir=data_dir, report=hooks.say)
    hooks.say(f"Doccano {'was already running' if info.already_running else 'is running'} at {info.url}")
    settings = ConnectionSettings(info.url, info.username, info.password, password_source="credentials file")
    login = Login(
        url=info.url,
        project_url=info.url,
        username=info.username,
        password_hint=(
            f"in {info.data_dir / CREDENTIALS_FILE} (`annotate server status --show-password` prints it)"
        ),
        local_server=True,
        server_data_dir=info.data_dir,
    )
    return settings, login, not info.already_running


def _login(settings: ConnectionSettings, project_url: str, local: Login | None) -> Login:
    """Return how to log in to the project (the local server's admin, or the given user)."""
    if local is not None:
        return Login(
            url=local.url,
            project_url=project_url,
            username=local.username,
            password_hint=local.password_hint,
            local_server=True,
            server_data_dir=local.server_data_dir,
        )
    where = {
        "DOCCANO_PASSWORD": "the one in $DOCCANO_PASSWORD",
        "credentials file": "in the local server's credentials file",
        "prompt": "the one you just typed",
    }.get(settings.password_source, "your Doccano password")
    return Login(
        url=settings.url,
        project_url=project_url,
        username=settings.username,
        password_hint=where,
        local_server=False,
    )


def _preannotate(corpus: Path, recipe: Any, tasks: Path, force: bool, hooks: Hooks) -> Any:
    from annotate.formats.jsonl import write_records
    from annotate.nlp.preannotate import preannotate

    total = sum(1 for _ in corpus.glob(CORPUS_GLOB))
    with hooks.progress("pre-annotating", total) as advance:
        started = preannotate([str(corpus)], recipe, glob=CORPUS_GLOB, progress=advance)
        write_records(tasks, started.records, force=force)
    summary = started.summary
    hooks.say(
        f"pre-annotated {summary.docs} documents with {summary.pipeline}: "
        f"{sum(summary.entities.values())} entities, {sum(summary.relations.values())} relations "
        f"-> {tasks}"
    )
    for problem in summary.skipped:
        hooks.say(f"  skipped {problem.where}: {problem.reason} [{problem.code}]")
    return summary


def _push(api: Any, tasks: Path, project: str, recipe: Any, n_tasks: int, hooks: Hooks) -> Any:
    from annotate.sync.push import PushOptions, push

    options = PushOptions(create=True, sync_labels=True)
    with hooks.progress("pushing", n_tasks) as advance:
        return push(api, tasks, project=project, recipe=recipe, options=options, progress=advance)


def _pull(api: Any, project_id: int, gold: Path, force: bool, hooks: Hooks) -> Any:
    from annotate.sync.pull import pull

    with hooks.progress("pulling") as advance:
        report = pull(api, project=project_id, out=gold, force=force, progress=advance)
    hooks.say(
        f"pulled {report.records} records ({report.confirmed} confirmed) "
        f"from {report.project_name!r} -> {gold}"
    )
    return report


def _validate(gold: Path, out: Path, recipe: Any, n_gold: int, force: bool, hooks: Hooks) -> Any:
    from annotate.records.validate import validate_file

    with hooks.progress("validating", n_gold) as advance:
        report = validate_file(gold, kind="gold", recipe=recipe, progress=advance)
    with atomic_write(out, force=force) as f:
        json.dump(report.to_dict(), f, indent=2, ensure_ascii=False)
        f.write("\n")
    hooks.say(
        f"validated {report.n_records} gold records: {report.n_errors} errors, "
        f"{report.n_warnings} warnings -> {out}"
    )
    # Invalid gold must not become training data: stop here, with every finding in ``out``.
    report.raise_for_errors()
    return report


def _export(gold: Path, out_dir: Path, recipe: Any, n_gold: int, force: bool, hooks: Hooks) -> Any:
    from annotate.export import ExportOptions, export

    with hooks.progress("exporting", n_gold) as advance:
        # _validate has just checked this file and stops the job on any error.
        report = export(
            gold,
            out_dir,
            ExportOptions(to=EXPORT_FORMATS, recipe=recipe, force=force),
            validate=False,
            progress=advance,
        )
    splits = ", ".join(f"{name} {n}" for name, n in report.split_docs.items())
    hooks.say(f"exported {' + '.join(EXPORT_FORMATS)} ({splits}) -> {out_dir}")
    return report


def _evaluate(outputs: Outputs, n_gold: int, force: bool, hooks: Hooks) -> Any:
    from annotate.quality.evaluate import evaluate_files
    from annotate.quality.report_html import render_report

    with hooks.progress("evaluating", n_gold) as advance:
        ev = evaluate_files(outputs.tasks, outputs.gold, progress=advance)
    with atomic_write(outputs.report_html, force=force) as f:
        f.write(
            render_report(ev, title=f"pre-annotation quality: {outputs.tasks.name} vs {outputs.gold.name}")
        )
    with atomic_write(outputs.evaluation, force=force) as f:
        json.dump(ev.to_dict(), f, indent=2, ensure_ascii=False)
        f.write("\n")
    strict = ev.entities["strict"].micro
    effort = ev.span_effort
    hooks.say(
        f"evaluated {len(ev.docs)} documents: entity F1 {strict.f1:.3f} (strict); "
        f"spans {effort.kept} kept, {effort.deleted} deleted, {effort.added} added, "
        f"{effort.relabelled} relabelled -> {outputs.report_html}"
    )
    return ev
