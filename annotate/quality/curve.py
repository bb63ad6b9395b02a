"""A training curve: does more gold still help?

``train_curve()`` exports the gold once (so the dev split is the same for every step), then
trains on 25, 50, 75 and 100 % of the training split, each a subset of the next (the training
documents in a seeded shuffled order), and scores each on the same dev split. The output
directory holds:

    OUT/corpus/          the exported DocBins, and train-NNN.spacy, the subset of each step
    OUT/pNNN/            each step's training output (model-best, model-last, training.log)
    OUT/curve.json       the table: training documents, steps and dev P/R/F per step
    OUT/curve.html       the same with a plot (inline SVG)
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.errors import DataError, UsageError
from annotate.fileio import atomic_dir, check_writable
from annotate.quality.report_html import render_curve_report
from annotate.quality.train import (
    DEFAULT_DEV,
    DEFAULT_MAX_STEPS,
    MODEL_BEST,
    StepListener,
    as_base_labels,
    base_labels,
    build_config,
    check_options,
    export_corpus,
    gold_records,
    register_logger,
    run_spacy,
    save_log,
)
from annotate.recipe import Recipe

FRACTIONS = (0.25, 0.5, 0.75, 1.0)
# A last step that gains less dev F1 than this is "flat": more of the same gold may not help.
MIN_GAIN = 0.01


@dataclass
class CurvePoint:
    """One step of the curve: how much it trained on and how it scored on the dev split."""

    fraction: float
    train_docs: int
    steps: int
    seconds: float
    scores: dict[str, Any] = field(default_factory=dict)  # ents_p, ents_r, ents_f, ents_per_type

    @property
    def name(self) -> str:
        """The step's directory: ``p025`` for 25 %."""
        return f"p{round(self.fraction * 100):03d}"

    @property
    def f1(self) -> float:
        return float(self.scores.get("ents_f") or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "train_docs": self.train_docs,
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "model_best": f"{self.name}/{MODEL_BEST}",
            "dev_scores": self.scores,
        }


@dataclass
class CurveResult:
    """The steps of a training curve and what they say."""

    out_dir: Path
    dev_docs: int
    points: list[CurvePoint]
    base: str | None = None
    dropped_labels: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    @property
    def last_gain(self) -> float:
        """Dev F1 of the last step minus that of the one before."""
        return self.points[-1].f1 - self.points[-2].f1 if len(self.points) > 1 else 0.0

    @property
    def still_gaining(self) -> bool:
        return self.last_gain >= MIN_GAIN

    def verdict(self) -> str:
        """One sentence: whether the last step still gained, and what that suggests."""
        if len(self.points) < 2:
            return "one step only: nothing to compare"
        prev, last = self.points[-2], self.points[-1]
        change = f"{prev.train_docs} to {last.train_docs} training documents: dev F1 {self.last_gain:+.3f}"
        if self.still_gaining:
            return f"still gaining ({change}): more annotation is likely to help"
        return f"flat ({change}, less than {MIN_GAIN:+.2f}): more of the same gold may not help"

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "dev_docs": self.dev_docs,
            "points": [p.to_dict() for p in self.points],
            "last_gain": round(self.last_gain, 4),
            "still_gaining": self.still_gaining,
            "verdict": self.verdict(),
            "dropped_labels": dict(sorted(self.dropped_labels.items())),
            "warnings": self.warnings,
        }


def step_sizes(n_train: int, fractions: Sequence[float], gold_path: str | os.PathLike[str]) -> list[int]:
    """Return how many training documents each fraction takes (rounded down).

    Raises DataError when a fraction takes no document at all.
    """
    sizes = [int(n_train * f + 1e-9) for f in fractions]
    for f, k in zip(fractions, sizes, strict=True):
        if k == 0:
            need = math.ceil(1 / f - 1e-9)
            raise DataError(
                f"{f:.0%} of the {n_train} training documents is 0 documents",
                path=str(gold_path),
                code="E193",
                hint=f"the curve needs at least {need} training documents; "
                "give more gold, a smaller --dev share, or train without --curve",
            )
    return sizes


def _check_fractions(fractions: Sequence[float]) -> None:
    if not fractions or any(not 0 < f <= 1 for f in fractions) or list(fractions) != sorted(set(fractions)):
        raise UsageError("curve fractions must be increasing shares between 0 and 1", code="E276")


def _subsets(train_path: Path, sizes: Sequence[int], lang: str, out: Path, seed: int) -> list[Path]:
    """Write a DocBin of the first ``k`` training documents (in a seeded order) for each size.

    Each subset holds the ones before it, so the curve shows what adding gold does.
    """
    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank(lang).vocab
    files = sorted(train_path.glob("*.spacy")) if train_path.is_dir() else [train_path]
    docs = [doc for f in files for doc in DocBin().from_disk(f).get_docs(vocab)]
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    paths = []
    for k in sizes:
        path = out / f"train-{k:04d}.spacy"
        DocBin(docs=[docs[i] for i in order[:k]], store_user_data=True).to_disk(path)
        paths.append(path)
    return paths


def train_curve(
    gold_path: str | os.PathLike[str],
    recipe: Recipe,
    out_dir: str | os.PathLike[str],
    *,
    fractions: Sequence[float] = FRACTIONS,
    base: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    eval_frequency: int | None = None,
    dev: float = DEFAULT_DEV,
    seed: int = 0,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> CurveResult:
    """Train on growing shares of the training split, score each on the same dev split, and
    return the :class:`CurveResult`. The output directory appears only when every step trained.
    """
    check_options(max_steps, dev)
    _check_fractions(fractions)
    check_writable(out_dir, force=force)
    records, dropped = gold_records(gold_path, recipe)
    register_logger()
    with atomic_dir(out_dir, force=force) as tmp:
        trained_as = base_labels(recipe) if base is not None else {}
        corpus = export_corpus(
            as_base_labels(records, trained_as), tmp / "corpus", gold_path, recipe=recipe, dev=dev, seed=seed
        )
        sizes = step_sizes(corpus.train_docs, fractions, gold_path)
        subsets = _subsets(corpus.train_path, sizes, recipe.lang, tmp / "corpus", seed)
        points = []
        for fraction, k, subset in zip(fractions, sizes, subsets, strict=True):
            config = build_config(
                lang=recipe.lang,
                train_path=subset,
                dev_path=corpus.dev_path,
                base=base,
                max_steps=max_steps,
                eval_frequency=eval_frequency,
                seed=seed,
            )
            point = _train_step(config, fraction, k, tmp, progress)
            points.append(point)
        result = CurveResult(Path(out_dir), corpus.dev_docs, points, base, dropped, corpus.warnings)
        (tmp / "curve.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        html = render_curve_report(_rows(result), result.verdict())
        (tmp / "curve.html").write_text(html, encoding="utf-8")
    return result


def _train_step(
    config: Any, fraction: float, train_docs: int, out: Path, progress: Callable[[int], None] | None
) -> CurvePoint:
    """Train one step of the curve into ``out/pNNN``; return its point."""
    started = time.perf_counter()
    steps = StepListener(progress)
    point = CurvePoint(fraction, train_docs, 0, 0.0)
    step_dir = out / point.name
    step_dir.mkdir()
    config.to_disk(step_dir / "config.cfg")
    save_log(step_dir, run_spacy(config, step_dir, steps))
    point.steps, point.seconds, point.scores = steps.count, time.perf_counter() - started, steps.dev_scores()
    return point


def _rows(result: CurveResult) -> list[tuple[float, int, float, float, float]]:
    """Return (fraction, training documents, P, R, F) per step, for the report."""
    return [
        (
            p.fraction,
            p.train_docs,
            float(p.scores.get("ents_p") or 0.0),
            float(p.scores.get("ents_r") or 0.0),
            p.f1,
        )
        for p in result.points
    ]


def format_curve(result: CurveResult) -> str:
    """The plain-text table of a curve (one row per step) and its verdict."""
    lines = [f"{'share':>6} {'docs':>5} {'steps':>6} {'P':>6} {'R':>6} {'F1':>6} {'ΔF1':>7}"]
    prev: float | None = None
    for point, (frac, docs, p, r, f) in zip(result.points, _rows(result), strict=True):
        delta = "" if prev is None else f"{f - prev:+.3f}"
        lines.append(f"{frac:>6.0%} {docs:>5} {point.steps:>6} {p:>6.3f} {r:>6.3f} {f:>6.3f} {delta:>7}")
        prev = f
    lines.append(f"dev split: {result.dev_docs} documents, the same for every step")
    lines.append(result.verdict())
    for w in result.warnings:
        lines.append(f"warning: {w}")
    if result.dropped_labels:
        dropped = ", ".join(f"{k} {v}" for k, v in result.dropped_labels.most_common())
        lines.append(f"spans dropped (label not in the recipe): {dropped}")
    lines.append(f"report: {result.out_dir / 'curve.html'}")
    return "\n".join(lines) + "\n"
