"""``python -m bench [--quick] [--docs N] [--runs 3] [--out BENCHMARKS.md]``: run the benchmark.

Every row is measured against its baseline in the same run, as the median of ``--runs`` runs, on a
generated corpus of news articles (``bench/corpus.py``). It needs the local Doccano server, which it
starts and stops itself; nothing else on the network.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import client_baselines
from bench.harness import log, machine, table
from bench.run import Config, run_all
from bench.server import Server, doccano_server

ROOT = Path(__file__).resolve().parent.parent
QUICK_NOTE = "This was a --quick run: sizes are tiny, so the numbers mean nothing."
ROW_GROUPS = ("preannotate", "push", "validate", "memory", "dask")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="small sizes, one run: a smoke test that checks no timing"
    )
    p.add_argument("--docs", type=int, help="tasks for the push, pull and validate rows (default 1000)")
    p.add_argument("--pre-docs", type=int, help="articles for the pre-annotation rows (default 300)")
    p.add_argument(
        "--cluster-docs", type=int, help="articles for the bigger dask 2-against-1 worker row (default 1000)"
    )
    p.add_argument("--sample", type=int, help="docs for the one-call-per-span baseline (default 50)")
    p.add_argument(
        "--mem-docs",
        type=int,
        nargs=2,
        metavar=("SMALL", "BIG"),
        help="corpus sizes for the memory rows (default 1000 20000)",
    )
    p.add_argument("--mem-model", default="blank:en", help="pipeline for the pre-annotation memory row")
    p.add_argument("--runs", type=int, help="runs per row; the median is reported (default 5)")
    p.add_argument("--mem-runs", type=int, help="runs of each memory row (default: --runs if given, else 3)")
    p.add_argument("--notes", type=Path, help="a Markdown file appended to the report (the analysis)")
    p.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "news.toml")
    p.add_argument("--model", help="pipeline for the pre-annotation rows (default: the recipe's)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--only", action="append", choices=ROW_GROUPS, help="run only these row groups")
    p.add_argument("--workdir", type=Path, help="keep the generated corpus and outputs here")
    p.add_argument("--out", type=Path, help="write the report (Markdown) here, e.g. BENCHMARKS.md")
    return p.parse_args(argv)


def config(a: argparse.Namespace, workdir: Path) -> Config:
    q = a.quick

    def pick(value: int | None, full: int, quick: int) -> int:
        return value if value is not None else (quick if q else full)

    small, big = a.mem_docs or ((50, 400) if q else (1000, 20000))
    docs = pick(a.docs, 1000, 30)
    return Config(
        workdir=workdir,
        recipe=a.recipe.resolve(),
        model=a.model,
        runs=pick(a.runs, 5, 1),
        # Peak RSS barely varies from run to run, and the big corpus is slow: 3 runs by default.
        mem_runs=a.mem_runs or pick(a.runs, 3, 1),
        docs=docs,
        pre_docs=pick(a.pre_docs, 300, 10),
        cluster_docs=pick(a.cluster_docs, 1000, 20),
        sample=min(docs, pick(a.sample, 50, 5)),
        mem_small=small,
        mem_big=big,
        mem_model=a.mem_model,
        batch_size=a.batch_size,
        validate_docs=max(docs, 5000 if not q else 200),
        quick=q,
    )


def report(
    argv_shown: str,
    machine_rows: list[tuple[str, str]],
    body: str,
    cfg: Config,
    started: str,
    minutes: float,
    notes: str,
) -> str:
    mach = "\n".join(f"| {k} | {v} |" for k, v in machine_rows)
    missed = [line for line in body.splitlines() if "| MISSED |" in line]
    return f"""# Benchmarks

Measured {started} UTC in {minutes:.0f} min. To reproduce, from the repository root, with the
tool's environment and a Doccano install where `annotate server start` finds it (`$ANNOTATE_HOME`):

```
{argv_shown}
```

`python -m bench --quick` runs the same rows on tiny sizes in a few minutes (CI runs it).

Every row is a ratio of ours against its baseline measured in the same run, one right after the
other (which goes first alternates from run to run, so that a drift in the machine's speed
does not favour either side), as the median of {cfg.runs} run(s), on a generated corpus of
news articles (`bench/corpus.py`: deterministic, ~350 words a document, names, organisations
and places from templates). Pushes and pulls go to a local Doccano server that the bench starts
on 127.0.0.1 with `annotate.doccano.server` (SQLite in WAL mode, two Celery worker processes, as
`annotate server start` runs it); every baseline runs against the same server.

**The machine is a shared virtual machine**: the same work can take a third longer from one run
to the next, so absolute times are noisy; the ratios are the result. {QUICK_NOTE if cfg.quick else ""}

## Machine

| | |
|---|---|
{mach}

## Results

{body}

{f"{len(missed)} target(s) missed." if missed else "All measured targets met."}
{notes}"""


@contextlib.contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    tmp = Path(tempfile.mkdtemp(prefix="annotate-bench-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    shown = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    t0 = time.monotonic()
    server_how: list[str] = []

    @contextlib.contextmanager
    def server() -> Iterator[Server]:
        with doccano_server(log) as s:
            server_how.append(s.how)
            yield s

    load_at_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with _workdir(a.workdir) as wd:
        cfg = config(a, wd)
        model = a.model or _recipe_model(cfg.recipe)
        rows = run_all(cfg, server, set(a.only) if a.only else None)
    mach = machine(model, server_how[0] if server_how else "not started", client_baselines.version())
    mach.append(("load average at start", load_at_start))
    mach.append(("load average at the end", ", ".join(f"{x:.2f}" for x in os.getloadavg())))
    body = table(rows)
    print("\n".join(f"{k}: {v}" for k, v in mach))
    print(body)
    if a.out:
        notes = "\n" + a.notes.read_text(encoding="utf-8") if a.notes else ""
        text = report(shown, mach, body, cfg, started, (time.monotonic() - t0) / 60, notes)
        a.out.write_text(text, encoding="utf-8")
        log(f"wrote {a.out}")
    # Errors (a row that could not run) fail the command; missed targets do not: they are results.
    return 1 if any(r.error for r in rows) else 0


def _recipe_model(recipe: Path) -> str:
    """Name and version of the pipeline the recipe resolves to here."""
    try:
        from importlib.metadata import version

        from annotate.recipe import load_recipe

        r = load_recipe(recipe)
        import spacy.util

        for name in r.pipeline.names if r.pipeline else ():
            if spacy.util.is_package(name):
                return f"{name} {version(name.replace('_', '-'))}"
        return ", ".join(r.pipeline.names) + " (none installed)" if r.pipeline else "blank"
    except Exception as e:  # the description must not stop the report
        return f"unknown ({type(e).__name__})"


if __name__ == "__main__":
    raise SystemExit(main())
