"""The benchmark rows. Each run times ours and its baseline back to back, so both see the same load."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import client_baselines, corpus, ours
from bench.harness import Row, log, median, run_proc, timed
from bench.pipeline import NLP_PIPE_SCRIPT
from bench.server import Server

# Labels of the generated tasks; the baselines' projects get them up front (setup, not timed).
SPAN_LABELS = ["PERSON", "GPE", "NORP", "ORG", "DATE", "CARDINAL", "PERCENT", "MONEY", "EVENT"]
RELATION_TYPES = ["LEADER_OF", "MEMBER_OF", "MEETS_WITH"]


@dataclass
class Config:
    workdir: Path
    recipe: Path
    model: str | None
    runs: int
    mem_runs: int  # peak RSS barely varies, and the big corpus is slow: fewer runs allowed
    docs: int  # push / pull / validate size
    pre_docs: int  # pre-annotation size
    cluster_docs: int  # the bigger size of the dask 2-workers-against-1 row
    sample: int  # docs for the one-call-per-span baseline, extrapolated
    mem_small: int
    mem_big: int
    mem_model: str  # model for the pre-annotation memory row
    batch_size: int
    validate_docs: int
    quick: bool


class Corpus:
    """The generated input files, written once per size."""

    def __init__(self, cfg: Config) -> None:
        self.dir = cfg.workdir / "corpus"
        self.dir.mkdir(parents=True, exist_ok=True)

    def articles(self, n: int) -> Path:
        p = self.dir / f"articles-{n}.jsonl"
        if not p.exists():
            corpus.write_articles(p, n)
        return p

    def tasks(self, n: int) -> Path:
        p = self.dir / f"tasks-{n}.jsonl"
        if not p.exists():
            corpus.write_tasks(p, n)
        return p

    def doccano_import(self, n: int) -> Path:
        p = self.dir / f"doccano-import-{n}.jsonl"
        if not p.exists():
            corpus.write_doccano_import(p, n)
        return p

    def gold(self, n: int) -> Path:
        """Tasks as pulled gold (confirmed by an annotator), the input of export."""
        p = self.dir / f"gold-{n}.jsonl"
        if not p.exists():
            with p.open("w", encoding="utf-8") as f:
                for i, a in enumerate(corpus.generate(n), start=1):
                    rec = corpus.to_task(a)
                    rec.example_id, rec.annotator, rec.confirmed, rec.comments = i, "admin", True, []
                    f.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
        return p


def alternate(i: int, baseline: Callable[[], Any], ours_: Callable[[], Any]) -> tuple[Any, Any]:
    """Run both sides of run ``i``, the baseline first in even runs and ours first in odd ones;
    return ``(baseline result, ours result)``. On a shared machine the speed drifts, and
    whichever side always went second would carry the drift alone."""
    if i % 2:
        o = ours_()
        return baseline(), o
    b = baseline()
    return b, ours_()


def _try(fn: Callable[[], Any], row: Row) -> Any:
    """Return ``fn()``, or None with the error recorded on ``row``."""
    try:
        return fn()
    except Exception as e:
        row.error = f"{type(e).__name__}: {str(e)[:300]}"
        return None


def _guard(row: Row, fn: Callable[[Row], None]) -> Row:
    try:
        fn(row)
    except Exception as e:  # a row that cannot run says why; the others still run
        row.error = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}"
        log(f"row '{row.name}' failed: {row.error}")
        if os.environ.get("BENCH_DEBUG"):
            traceback.print_exc()
    return row


# -- pre-annotation ----------------------------------------------------------------------------------


def preannotate_rows(cfg: Config, c: Corpus) -> list[Row]:
    n = cfg.pre_docs
    r1 = Row(
        f"pre-annotation ({n} docs)",
        "`annotate preannotate` (CLI, 1 process)",
        "raw `nlp.pipe` over the texts, same pipeline (script)",
        "≤ 1.10×",
    )
    r2 = Row(
        f"pre-annotation, 2 processes ({n} docs)",
        "`annotate preannotate --n-process 2`",
        "the same, `--n-process 1`",
        "≥ 1.7× faster",
        unit="× faster",
    )
    articles = c.articles(n)
    words = sum(len(json.loads(line)["text"].split()) for line in articles.open(encoding="utf-8"))
    out = cfg.workdir / "pre-out.jsonl"
    base_cmd = [
        sys.executable,
        "-c",
        NLP_PIPE_SCRIPT,
        str(articles),
        str(cfg.batch_size),
        str(cfg.recipe),
        *([cfg.model] if cfg.model else []),
    ]

    def ours_cmd(n_process: int) -> list[str]:
        return ours.preannotate_cmd(articles, out, cfg, "--n-process", str(n_process))

    env = dict(os.environ, ANNOTATE_NO_PROGRESS="1")
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    speedups: list[float] = []
    two: list[float] = []

    def body(_: Row) -> None:
        for i in range(cfg.runs):
            o2: Any = None
            if i % 2:  # every other run goes the other way round (see alternate())
                o2 = _try(lambda: run_proc(ours_cmd(2), env=env), r2)
            b, o1 = alternate(i, lambda: run_proc(base_cmd, env=env), lambda: run_proc(ours_cmd(1), env=env))
            if not i % 2:
                o2 = _try(lambda: run_proc(ours_cmd(2), env=env), r2)
            r1.base_s.append(b.seconds)
            r1.ours_s.append(o1.seconds)
            ratios.append(o1.seconds / b.seconds)
            cpu_ratios.append(o1.cpu_seconds / b.cpu_seconds)
            if o2 is not None:
                two.append(o2.seconds)
                speedups.append(o1.seconds / o2.seconds)
            log(
                f"preannotate run {i + 1}: raw {b.seconds:.1f}s, ours {o1.seconds:.1f}s"
                + (f", ours x2 {two[-1]:.1f}s" if two else "")
            )
        r1.value = median(ratios)
        r1.passed = r1.value <= 1.10
        r1.note = (
            f"{words:,} words; batch size {cfg.batch_size}; both sides are fresh processes "
            f"(start-up and model load included); ours {words / median(r1.ours_s):,.0f} words/s; "
            f"by CPU time (user+system) ours/raw = {median(cpu_ratios):.2f}×."
        )

    _guard(r1, body)
    if r1.error and not r2.error:
        r2.error = "see the row above"
    if speedups and not r2.error:
        r2.ours_s, r2.base_s = two, list(r1.ours_s)
        r2.value = median(speedups)
        r2.passed = r2.value >= 1.7
        r2.note = f"CPU cores usable: {len(os.sched_getaffinity(0))}."
    return [r1, r2]


# -- push, re-push, pull ---------------------------------------------------------------------------


def server_rows(cfg: Config, c: Corpus, server: Server) -> list[Row]:
    n = cfg.docs
    r_call = Row(
        f"push {n:,} tasks (~10 ents, 2 rels)",
        "`annotate.push.push()` (library)",
        f"one doccano-client call per example/span/relation, timed on {cfg.sample} docs and scaled to {n:,}",
        "≥ 50× faster",
        unit="× faster",
    )
    r_imp = Row(
        f"push {n:,} tasks",
        "`annotate.push.push()` (library), validation and dedupe included",
        "the raw import task alone (upload, ingest, wait)",
        "≤ 1.25×",
    )
    r_re = Row(
        f"re-push unchanged {n:,}", "`annotate.push.push()` (library)", "–", "≤ 3 s, 0 uploads", unit="s"
    )
    r_pull = Row(
        f"pull + validate + export {n:,}",
        "`pull()` + `validate_file()` + `export(to=spacy)` (library)",
        "the raw export task alone (schedule, wait, download)",
        "≤ 1.5×",
    )
    tasks = c.tasks(n)
    imp = c.doccano_import(n)
    sample = [
        json.loads(line) for _, line in zip(range(cfg.sample), tasks.open(encoding="utf-8"), strict=False)
    ]
    sample_path = cfg.workdir / "one-call-sample.jsonl"
    sample_path.write_text("".join(json.dumps(t) + "\n" for t in sample), encoding="utf-8")
    recipe = ours.load_recipe(cfg.recipe)
    api = ours.connect(server)
    stamp = time.strftime("%H%M%S")
    per_call: list[float] = []
    vs_call: list[float] = []
    vs_imp: list[float] = []
    re_uploads: list[int] = []
    pushed_projects: list[str] = []

    def push_body(_: Row) -> None:
        client = client_baselines.ClientBaselines(server)
        for i in range(cfg.runs):
            # Baseline 1: one call per example/span/relation, on a sample.
            p1 = client.new_project(f"bench-calls-{stamp}-{i}", SPAN_LABELS, RELATION_TYPES)
            t_call, calls = client.one_call_per_span(p1, sample_path)
            per_doc = t_call / len(sample)
            per_call.append(t_call / calls)
            r_call.base_s.append(per_doc * n)
            # Baseline 2: the raw import task; and ours, into a new project it creates from the recipe.
            p2 = client.new_project(f"bench-import-{stamp}-{i}", SPAN_LABELS, RELATION_TYPES)
            name = f"bench-ours-{stamp}-{i}"
            ledger = cfg.workdir / f"ledger-{stamp}-{i}"
            (t_imp, count), (t_ours, rep) = alternate(
                i,
                partial(client.raw_import, p2, imp),
                partial(timed, partial(ours.push, api, tasks, name, recipe, ledger)),
            )
            if count != n:
                raise RuntimeError(f"raw import left {count} examples, expected {n}")
            r_imp.base_s.append(t_imp)
            if ours.uploads(rep) != n:
                raise RuntimeError(f"push uploaded {ours.uploads(rep)} of {n}")
            pushed_projects.append(name)
            r_call.ours_s.append(t_ours)
            r_imp.ours_s.append(t_ours)
            vs_call.append(per_doc * n / t_ours)
            vs_imp.append(t_ours / t_imp)
            # Re-push the same file: nothing should go up.
            t_re, rep2 = timed(partial(ours.push, api, tasks, name, recipe, ledger))
            r_re.ours_s.append(t_re)
            re_uploads.append(ours.uploads(rep2))
            log(
                f"push run {i + 1}: one-call {per_doc * 1000:.0f} ms/doc ({per_doc * n:.0f}s scaled), "
                f"raw import {t_imp:.2f}s, ours {t_ours:.2f}s, re-push {t_re:.2f}s ({re_uploads[-1]} uploads)"
            )
        r_call.value = median(vs_call)
        r_call.passed = r_call.value >= 50
        r_call.note = (
            f"baseline measured on {cfg.sample} docs per run ({median(per_call) * 1000:.0f} ms a call, "
            f"~{sum(len(t['entities']) + len(t['relations']) + 1 for t in sample) / len(sample):.1f} "
            f"calls a doc) and scaled linearly to {n:,}."
        )
        r_imp.value = median(vs_imp)
        r_imp.passed = r_imp.value <= 1.25
        r_imp.note = "ours creates the project and its label types from the recipe inside the timing."
        r_re.value = median(r_re.ours_s)
        r_re.passed = r_re.value <= 3.0 and all(u == 0 for u in re_uploads)
        r_re.note = f"uploads per re-push: {re_uploads}."

    _guard(r_call, push_body)
    for r in (r_imp, r_re):
        if r_call.error and r.value is None:
            r.error = "see the row above"

    ratios: list[float] = []

    def pull_body(_: Row) -> None:
        if not pushed_projects:
            raise RuntimeError("no project was pushed")
        project = pushed_projects[-1]
        client = client_baselines.ClientBaselines(server)
        pid = int(api.find_project(project)["id"])
        gold = cfg.workdir / "pulled-gold.jsonl"
        out_dir = cfg.workdir / "export-out"

        parts: list[tuple[float, float, float]] = []

        def ours_flow() -> None:
            t0 = time.perf_counter()
            ours.pull(api, project, gold)
            t1 = time.perf_counter()
            ours.validate(gold, "gold", recipe)
            t2 = time.perf_counter()
            ours.export(gold, out_dir, recipe)
            parts.append((t1 - t0, t2 - t1, time.perf_counter() - t2))

        for i in range(cfg.runs):
            (t_raw, lines), (t_ours, _) = alternate(
                i,
                partial(client.raw_export, pid, cfg.workdir / f"raw-export-{i}"),
                partial(timed, ours_flow),
            )
            if lines != n:
                raise RuntimeError(f"raw export gave {lines} lines, expected {n}")
            r_pull.base_s.append(t_raw)
            r_pull.ours_s.append(t_ours)
            ratios.append(t_ours / t_raw)
            p, v, e = parts[-1]
            log(
                f"pull run {i + 1}: raw export {t_raw:.2f}s, ours {t_ours:.2f}s "
                f"(pull {p:.2f}s, validate {v:.2f}s, export {e:.2f}s)"
            )
        r_pull.value = median(ratios)
        r_pull.passed = r_pull.value <= 1.5
        r_pull.note = "ours, median of its parts: pull {:.2f} s, validate {:.2f} s, export {:.2f} s.".format(
            *(median([x[k] for x in parts]) for k in range(3))
        )

    _guard(r_pull, pull_body)
    return [r_call, r_imp, r_re, r_pull]


# -- a routed push to a team --------------------------------------------------------------------------


def team_row(cfg: Config, c: Corpus, server: Server) -> Row:
    n = cfg.docs
    row = Row(
        f"routed push {n:,} tasks, 3 annotators, overlap 2",
        "`team_push()` (library): one project per annotator, each document in two of them",
        f"a plain `push()` of the same {n:,} into one project",
        "≤ 2.5×",
    )
    tasks = c.tasks(n)
    recipe = ours.load_recipe(cfg.recipe)
    api = ours.connect(server)
    stamp = time.strftime("%H%M%S")
    # Setup, not timed: the team's three users.
    names = ours.make_users(api, [f"bench-{stamp}-{who}" for who in ("ann", "ben", "cat")])
    ratios: list[float] = []

    def body(_: Row) -> None:
        for i in range(cfg.runs):
            plain, team = f"bench-plain-{stamp}-{i}", f"bench-team-{stamp}-{i}"
            ledger = cfg.workdir / f"team-ledger-{stamp}-{i}"
            (t_plain, rep), (t_team, trep) = alternate(
                i,
                partial(timed, partial(ours.push, api, tasks, plain, recipe, ledger)),
                partial(timed, partial(ours.team_push, api, tasks, team, recipe, names, 2, ledger)),
            )
            if ours.uploads(rep) != n or trep.pushed != 2 * n:
                raise RuntimeError(
                    f"plain push uploaded {ours.uploads(rep)}, routed {trep.pushed} of {2 * n}"
                )
            row.base_s.append(t_plain)
            row.ours_s.append(t_team)
            ratios.append(t_team / t_plain)
            log(f"team run {i + 1}: plain push {t_plain:.2f}s, routed push {t_team:.2f}s ({ratios[-1]:.2f}×)")
        row.value = median(ratios)
        row.passed = row.value <= 2.5
        row.note = (
            f"the routed push uploads {2 * n:,} examples into 3 projects (loads "
            f"{', '.join(str(trep.routed[a]) for a in sorted(names))}), the plain one {n:,} into one; "
            "both create their projects and label types inside the timing."
        )

    return _guard(row, body)


# -- validate ----------------------------------------------------------------------------------------

VALIDATE_SCRIPT = r"""
import json, os, sys, time
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
import spacy  # a one-time import (about 1.3 s), not part of the throughput
from annotate.recipe import load_recipe
from annotate.records.validate import validate_file
recipe = load_recipe(sys.argv[2])
t0, c0 = time.perf_counter(), time.process_time()
report = validate_file(sys.argv[1], kind="task", recipe=recipe)
dt, dc = time.perf_counter() - t0, time.process_time() - c0
# Again in the same process: the steady rate, without building the validator's tokenizer.
c1 = time.process_time()
validate_file(sys.argv[1], kind="task", recipe=recipe)
warm = time.process_time() - c1
print(json.dumps({"seconds": dt, "cpu": dc, "warm_cpu": warm, "records": report.n_records,
                  "errors": report.n_errors}))
"""


def validate_row(cfg: Config, c: Corpus) -> Row:
    n = cfg.validate_docs
    row = Row(
        "validate",
        f"`validate_file(kind=task, recipe)` (library) on {n:,} tasks, pinned to one core",
        "–",
        "≥ 5,000 records/s",
        unit="records/s",
    )
    tasks = c.tasks(n)

    def body(_: Row) -> None:
        rates, walls, warms = [], [], []
        for i in range(cfg.runs):
            r = run_proc([sys.executable, "-c", VALIDATE_SCRIPT, str(tasks), str(cfg.recipe)])
            res = json.loads(r.stdout.strip().splitlines()[-1])
            if res["records"] != n or res["errors"]:
                raise RuntimeError(f"validated {res['records']} records with {res['errors']} errors")
            row.ours_s.append(res["cpu"])
            rates.append(n / res["cpu"])
            walls.append(n / res["seconds"])
            warms.append(n / res["warm_cpu"])
            log(
                f"validate run {i + 1}: {rates[-1]:,.0f} records/s of CPU time, {walls[-1]:,.0f} of wall time"
            )
        row.value = median(rates)
        row.passed = row.value >= 5000
        row.note = (
            f"records per second of the process's CPU time on its one core, for one `validate_file` "
            f"call (building the validator and its tokenizer included; the one-time `import spacy` "
            f"excluded); of wall time {median(walls):,.0f}/s; a second call in the same process "
            f"(tokenizer built, its per-chunk cache warm) {median(warms):,.0f}/s. The recipe's "
            "token-alignment check included."
        )

    return _guard(row, body)


# -- memory ------------------------------------------------------------------------------------------


def rss_ratio(
    row: Row,
    runs: int,
    small: Callable[[], Any],
    big: Callable[[], Any],
    say: Callable[[int, Any, Any], str],
) -> tuple[float, float]:
    """Run ``small`` then ``big`` ``runs`` times (their seconds go to ``row``, ``say(i, rs, rb)`` to
    the log); ``row.value`` is the median of big's peak RSS over small's, passed at ≤ 1.3×.
    Return the median peak RSS in MB of small and of big."""
    ratios, s_mb, b_mb = [], [], []
    for i in range(runs):
        rs = small()
        rb = big()
        row.base_s.append(rs.seconds)
        row.ours_s.append(rb.seconds)
        s_mb.append(rs.max_rss_mb)
        b_mb.append(rb.max_rss_mb)
        ratios.append(rb.max_rss_mb / rs.max_rss_mb)
        log(say(i, rs, rb))
    row.value = median(ratios)
    row.passed = row.value <= 1.3
    return median(s_mb), median(b_mb)


def memory_rows(cfg: Config, c: Corpus) -> list[Row]:
    small, big = cfg.mem_small, cfg.mem_big
    rows = []
    env = dict(os.environ, ANNOTATE_NO_PROGRESS="1")
    out = cfg.workdir / "mem-out"

    def pre(nd: int) -> list[str]:
        return [
            *ours.annotate_cmd(),
            "preannotate",
            str(c.articles(nd)),
            "--recipe",
            str(cfg.recipe),
            "--out",
            str(out / "pre.jsonl"),
            "--force",
            "--batch-size",
            str(cfg.batch_size),
            "--model",
            cfg.mem_model,
        ]

    def val(nd: int) -> list[str]:
        return [
            *ours.annotate_cmd(),
            "validate",
            str(c.tasks(nd)),
            "--kind",
            "task",
            "--recipe",
            str(cfg.recipe),
        ]

    def exp(nd: int) -> list[str]:
        return [
            *ours.annotate_cmd(),
            "export",
            str(c.gold(nd)),
            "--to",
            "spacy",
            "--out",
            str(out / "export"),
            "--recipe",
            str(cfg.recipe),
            "--force",
        ]

    model_note = (
        f"`--model {cfg.mem_model}`: the streaming path (reader, batches, rules, writer) with "
        f"patterns only, so that {big:,} docs run in minutes"
        if cfg.mem_model.startswith("blank")
        else f"`--model {cfg.mem_model}`"
    )
    for what, cmd, note in (
        ("preannotate", pre, model_note),
        ("validate", val, ""),
        ("export", exp, "to spacy"),
    ):
        row = Row(
            f"memory: {what} {big:,} vs {small:,} docs",
            f"`annotate {what}` (CLI) peak RSS on {big:,}",
            f"the same on {small:,}",
            "≤ 1.3×",
        )

        def body(row: Row, cmd: Callable[[int], list[str]] = cmd, what: str = what, note: str = note) -> None:
            s_mb, b_mb = rss_ratio(
                row,
                cfg.mem_runs,
                lambda: run_proc(cmd(small), env=env),
                lambda: run_proc(cmd(big), env=env),
                lambda i, rs, rb: (
                    f"memory {what} run {i + 1}: {small}: {rs.max_rss_mb:.0f} MB, "
                    f"{big}: {rb.max_rss_mb:.0f} MB"
                ),
            )
            row.note = (
                f"peak RSS {b_mb:.0f} MB vs {s_mb:.0f} MB (ru_maxrss of the process; "
                f"{cfg.mem_runs} run(s); the time columns are the {big:,} and {small:,} runs)"
                + (f"; {note}" if note else "")
                + "."
            )

        rows.append(_guard(row, body))
    return rows


# -- dask ----------------------------------------------------------------------------------------------


def dask_rows(cfg: Config, c: Corpus) -> list[Row]:
    """The ``--scheduler`` rows (``bench/cluster_rows.py``), on the pre-annotation and memory sizes."""
    from bench.cluster_rows import cluster_rows, local_cluster_row

    articles = c.articles(cfg.pre_docs)
    small, big = c.articles(cfg.mem_small), c.articles(cfg.mem_big)
    # 2 workers against 1 on the pre-annotation size and on a bigger one, where the client's
    # start-up (the same on both sides) weighs less.
    speed = [(articles, cfg.pre_docs), (c.articles(cfg.cluster_docs), cfg.cluster_docs)]
    return [
        local_cluster_row(cfg, articles, cfg.pre_docs),
        *cluster_rows(cfg, speed, small, big, (cfg.mem_small, cfg.mem_big), warm=c.articles(8)),
    ]


def run_all(cfg: Config, server_factory: Callable[[], Any], only: set[str] | None = None) -> list[Row]:
    c = Corpus(cfg)
    rows: list[Row] = []

    def want(group: str) -> bool:
        return only is None or group in only

    if want("preannotate"):
        log("pre-annotation rows ...")
        rows += preannotate_rows(cfg, c)
    if want("push"):
        log("starting the local Doccano server ...")
        try:
            with server_factory() as server:
                log(f"server at {server.url}; push and pull rows ...")
                rows += server_rows(cfg, c, server)
                rows.append(team_row(cfg, c, server))
        except Exception as e:
            row = Row("push / pull rows", "", "", "", error=f"{type(e).__name__}: {e}")
            rows.append(row)
    if want("validate"):
        log("validate row ...")
        rows.append(validate_row(cfg, c))
    if want("memory"):
        log("memory rows ...")
        rows += memory_rows(cfg, c)
    if want("dask"):
        log("dask rows ...")
        rows += dask_rows(cfg, c)
    return rows
