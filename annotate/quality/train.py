"""Train a spaCy NER pipeline on gold records, to pre-annotate the next round with it.

``train()`` exports the gold through :mod:`annotate.export` (so the DocBins, the split and the
report of every span that could not be written are the same as ``annotate export`` gives),
writes a spaCy config for NER (``init_config --optimize efficiency``, no vectors, which work
offline), and runs spaCy's own training loop in this process. The output directory holds:

    OUT/model-best/   the pipeline to name in the recipe (``[entities.pipeline] names``)
    OUT/model-last/   the pipeline after the last step
    OUT/config.cfg    the training config, for ``python -m spacy train`` by hand
    OUT/corpus/       the exported DocBins and their manifest.json
    OUT/training.json the summary: labels, documents, steps, dev scores
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from annotate.errors import ConfigError, DataError, ModelNotFoundError, UsageError
from annotate.fileio import atomic_dir, check_writable
from annotate.formats.jsonl import read_records
from annotate.recipe import Recipe
from annotate.records.model import Record

DEFAULT_MAX_STEPS = 1000
DEFAULT_DEV = 0.2
MODEL_BEST = "model-best"
MODEL_LAST = "model-last"
LOGGER_NAME = "annotate.TrainProgress.v1"

# The progress callback of the training run in progress. spaCy builds its logger from the
# config registry, which cannot carry a Python callable, so the logger looks it up here.
_listeners: list[Callable[[dict[str, Any] | None], None]] = []


@dataclass
class TrainResult:
    """What a training run produced and how well the best checkpoint did on the dev split."""

    out_dir: Path
    labels: list[str]
    train_docs: int
    dev_docs: int
    steps: int
    seconds: float
    # Dev scores of model-best: ents_p, ents_r, ents_f, and ents_per_type.
    scores: dict[str, Any] = field(default_factory=dict)
    dropped_labels: Counter[str] = field(default_factory=Counter)
    base: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Recipe label -> the base pipeline's label it was trained as (see base_labels).
    trained_as: dict[str, str] = field(default_factory=dict)

    @property
    def model_best(self) -> Path:
        return self.out_dir / MODEL_BEST

    @property
    def model_last(self) -> Path:
        return self.out_dir / MODEL_LAST

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_best": MODEL_BEST,
            "model_last": MODEL_LAST,
            "base": self.base,
            "labels": self.labels,
            "documents": {"train": self.train_docs, "dev": self.dev_docs},
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "dev_scores": self.scores,
            "dropped_labels": dict(sorted(self.dropped_labels.items())),
            "trained_as": dict(sorted(self.trained_as.items())),
            "warnings": self.warnings,
        }


def register_logger() -> None:
    from spacy import registry

    if LOGGER_NAME in registry.loggers:
        return

    @registry.loggers(LOGGER_NAME)
    def _progress_logger() -> Callable[..., Any]:
        def setup(
            nlp: Any, stdout: Any = None, stderr: Any = None
        ) -> tuple[Callable[..., None], Callable[[], None]]:
            def log_step(info: dict[str, Any] | None) -> None:
                for listener in _listeners:
                    listener(info)

            return log_step, lambda: None

        return setup


def keep_recipe_labels(records: Iterable[Record], labels: Iterable[str]) -> tuple[list[Record], Counter[str]]:
    """Return the records with only spans of ``labels`` (and relations between kept spans),
    and how many spans of each other label were dropped."""
    allowed = set(labels)
    dropped: Counter[str] = Counter()
    out = []
    for rec in records:
        ents = [s for s in rec.entities if s.label in allowed]
        dropped.update(s.label for s in rec.entities if s.label not in allowed)
        ids = {s.id for s in ents}
        rels = [r for r in rec.relations if r.head in ids and r.tail in ids]
        out.append(rec.with_annotations(ents, rels))
    return out, dropped


def base_labels(recipe: Recipe) -> dict[str, str]:
    """Return the base pipeline's label to train each recipe label as, from the recipe's label map.

    A base pipeline's NER already tells ``ORG`` apart; training ``ORGANISATION`` as ``ORG`` keeps
    what it knows instead of starting a new label from zero, and the recipe's label map, which
    pre-annotation applies to the trained pipeline, maps it back. Where several model labels map
    to one recipe label, the first in the map is taken (``GPE`` before ``LOC`` for ``LOCATION``).
    """
    out: dict[str, str] = {}
    for model_label, label in (recipe.pipeline.label_map if recipe.pipeline is not None else {}).items():
        out.setdefault(label, model_label)
    return out


def as_base_labels(records: list[Record], names: dict[str, str]) -> list[Record]:
    """Return ``records`` with each span label renamed by ``names`` (recipe label -> base label)."""
    if not names:
        return records
    return [
        rec.with_annotations(
            [replace(s, label=names.get(s.label, s.label)) for s in rec.entities], rec.relations
        )
        for rec in records
    ]


def build_config(
    *,
    lang: str,
    train_path: str | os.PathLike[str],
    dev_path: str | os.PathLike[str],
    base: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    eval_frequency: int | None = None,
    seed: int = 0,
) -> Any:
    """Return a filled spaCy training config (a ``thinc`` Config) for an NER pipeline.

    Without ``base`` the NER is trained from scratch with its own small tok2vec
    (``--optimize efficiency``, no static vectors). With ``base`` the NER (and the tok2vec
    it listens to, if it has one) is sourced from that pipeline and fine-tuned.
    """
    from spacy.cli.init_config import init_config

    config = init_config(lang=lang, pipeline=["ner"], optimize="efficiency", gpu=False)
    if base is not None:
        sourced = _sourced_components(base)
        config["nlp"]["pipeline"] = sourced
        config["components"] = {name: {"source": base} for name in sourced}
    config["paths"]["train"] = str(train_path)
    config["paths"]["dev"] = str(dev_path)
    config["system"]["seed"] = seed
    config["training"]["max_steps"] = max_steps
    config["training"]["eval_frequency"] = eval_frequency or max(10, min(200, max_steps // 5))
    config["training"]["logger"] = {"@loggers": LOGGER_NAME}
    return config


def _sourced_components(base: str) -> list[str]:
    """Return the components to take from ``base``: its ner, plus tok2vec when ner listens to it."""
    import spacy

    try:
        nlp = spacy.load(base, exclude=["parser", "tagger", "lemmatizer", "attribute_ruler", "senter"])
    except OSError as e:
        raise ModelNotFoundError(
            f"cannot load the base pipeline {base!r}",
            hint="name an installed pipeline package or a pipeline directory (e.g. a previous model-best)",
        ) from e
    if "ner" not in nlp.pipe_names:
        raise ConfigError(f"the base pipeline {base!r} has no 'ner' component", code="E275")
    ner_model = nlp.config["components"]["ner"].get("model", {})
    arch = str(ner_model.get("tok2vec", {}).get("@architectures", ""))
    if "Listener" in arch:
        return ["tok2vec", "ner"]
    return ["ner"]


def check_options(max_steps: int, dev: float, *, no_dev: bool = False) -> None:
    """Raise UsageError when ``max_steps`` or the ``dev`` share is out of range.

    With ``no_dev`` a ``dev`` of 0 is allowed too: train on every document.
    """
    if max_steps < 1:
        raise UsageError("--max-steps must be at least 1", code="E276")
    if no_dev and dev == 0:
        return
    if not 0 < dev < 1:
        lowest = "0 (train on every document)" if no_dev else "0 (exclusive)"
        raise UsageError(
            f"--dev must lie between {lowest} and 1 (the share of documents to evaluate on)", code="E276"
        )


def gold_records(gold_path: str | os.PathLike[str], recipe: Recipe) -> tuple[list[Record], Counter[str]]:
    """Return the gold records with only the recipe's labels, and the spans dropped by label.

    Raises DataError when there is nothing to train on.
    """
    records = [rec for _, rec in read_records(gold_path)]
    if not records:
        raise DataError("no records to train on", path=str(gold_path), code="E190")
    records, dropped = keep_recipe_labels(records, recipe.label_names)
    if not any(rec.entities for rec in records):
        raise DataError(
            f"no span has a label of the recipe {recipe.id}",
            path=str(gold_path),
            code="E191",
            hint=f"the recipe's labels are {', '.join(recipe.label_names)}",
        )
    return records, dropped


@dataclass
class Corpus:
    """The exported DocBins to train and evaluate on, and what the export warned of."""

    train_path: Path
    dev_path: Path
    train_docs: int
    dev_docs: int
    warnings: list[str]


def export_corpus(
    records: list[Record],
    out_dir: Path,
    gold_path: str | os.PathLike[str],
    *,
    recipe: Recipe,
    dev: float,
    seed: int,
) -> Corpus:
    """Export ``records`` as train and dev DocBins under ``out_dir``; return where they are."""
    from annotate.export import ExportOptions, export_records

    options = ExportOptions(to=["spacy"], split={"train": 1 - dev, "dev": dev}, seed=seed, recipe=recipe)
    report = export_records(records, out_dir, options)
    warnings = list(report.warnings)
    train_docs, dev_docs = report.split_docs.get("train", 0), report.split_docs.get("dev", 0)
    if train_docs == 0:
        raise DataError(
            "the train split has no documents",
            path=str(gold_path),
            code="E192",
            hint="give more documents or a smaller --dev share",
        )
    train_path = report.path("spacy", "train")
    dev_path = report.path("spacy", "dev")
    if dev_docs == 0:
        # No dev share, or too few documents to hold any out: evaluate on the training data.
        dev_path = train_path
        warnings.append(
            "no dev split (--dev 0): dev scores are on the training data; use model-last"
            if dev == 0
            else "no document fell in the dev split: dev scores are on the training data"
        )
    return Corpus(train_path, dev_path, train_docs, dev_docs, warnings)


def train(
    gold_path: str | os.PathLike[str],
    recipe: Recipe,
    out_dir: str | os.PathLike[str],
    *,
    base: str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    eval_frequency: int | None = None,
    dev: float = DEFAULT_DEV,
    seed: int = 0,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> TrainResult:
    """Export ``gold_path``, train an NER pipeline on it and return the :class:`TrainResult`.

    Only the recipe's labels are trained; spans of other labels are dropped and counted. With
    ``base`` and a recipe label map, spans are trained as the base's labels (:func:`base_labels`).
    Documents are split into train and dev by hash (``dev`` is the dev share; 0 trains on
    every document, once the settings are chosen on a dev split). The output directory
    appears only when training succeeded.
    """
    check_options(max_steps, dev, no_dev=True)
    check_writable(out_dir, force=force)
    records, dropped = gold_records(gold_path, recipe)
    trained_as = base_labels(recipe) if base is not None else {}
    register_logger()
    started = time.perf_counter()
    steps = StepListener(progress)
    with atomic_dir(out_dir, force=force) as tmp:
        corpus = export_corpus(
            as_base_labels(records, trained_as), tmp / "corpus", gold_path, recipe=recipe, dev=dev, seed=seed
        )
        config = build_config(
            lang=recipe.lang,
            train_path=corpus.train_path,
            dev_path=corpus.dev_path,
            base=base,
            max_steps=max_steps,
            eval_frequency=eval_frequency,
            seed=seed,
        )
        config.to_disk(tmp / "config.cfg")
        log = run_spacy(config, tmp, steps)
        result = TrainResult(
            out_dir=Path(out_dir),
            labels=sorted({s.label for rec in records for s in rec.entities}),
            train_docs=corpus.train_docs,
            dev_docs=corpus.dev_docs,
            steps=steps.count,
            seconds=time.perf_counter() - started,
            scores=steps.dev_scores(),
            dropped_labels=dropped,
            base=base,
            warnings=corpus.warnings,
            trained_as={k: v for k, v in trained_as.items() if k != v},
        )
        _save(tmp, result, log)
    return result


class StepListener:
    """The training logger's listener: counts the steps, reports progress, keeps the best scores."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress = progress
        self.count = 0
        self.best: dict[str, Any] = {}

    def __call__(self, info: dict[str, Any] | None) -> None:
        self.count += 1
        if self.progress is not None:
            self.progress(1)
        best = self.best
        if info is not None and (not best or info.get("score", 0.0) >= best.get("score", 0.0)):
            best.clear()
            best.update(info)

    def dev_scores(self) -> dict[str, Any]:
        """Return the dev scores of the best step: ents_p, ents_r, ents_f and ents_per_type."""
        other = self.best.get("other_scores", {})
        return {k: other.get(k) for k in ("ents_p", "ents_r", "ents_f", "ents_per_type") if k in other}


def run_spacy(config: Any, out_dir: Path, listener: Callable[[dict[str, Any] | None], None]) -> str:
    """Run spaCy's training loop on ``config``, saving into ``out_dir``; return its log."""
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as spacy_train

    log = io.StringIO()
    _listeners.append(listener)
    try:
        nlp = init_nlp(config, use_gpu=-1)
        spacy_train(nlp, out_dir, use_gpu=-1, stdout=log, stderr=log)
    except ValueError as e:
        # spaCy reports bad data or config as ValueError with its own [Exxx] code.
        raise ConfigError(f"spaCy training failed: {e}", code="E277") from None
    finally:
        _listeners.remove(listener)
    return log.getvalue()


def _save(out_dir: Path, result: TrainResult, log: str) -> None:
    """Write the run's summary (``training.json``) and spaCy's log (``training.log``)."""
    (out_dir / "training.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    save_log(out_dir, log)


def save_log(out_dir: Path, log: str) -> None:
    """Write spaCy's log of a training run to ``out_dir/training.log``."""
    # spaCy's messages carry terminal colour codes; the log is for reading in a file.
    (out_dir / "training.log").write_text(re.sub(r"\x1b\[[0-9;]*m", "", log), encoding="utf-8")


def format_summary(result: TrainResult) -> str:
    """A short plain-text summary of a training run."""
    s = result.scores
    lines = [
        f"trained {result.steps} steps in {result.seconds:.0f} s on {result.train_docs} documents "
        f"({result.dev_docs} held out for dev)" + (f", fine-tuning {result.base}" if result.base else ""),
    ]
    if "ents_f" in s:
        lines.append(f"dev: P {s['ents_p']:.3f}  R {s['ents_r']:.3f}  F1 {s['ents_f']:.3f}")
        for label, v in sorted((s.get("ents_per_type") or {}).items()):
            lines.append(f"  {label:24} P {v['p']:.3f}  R {v['r']:.3f}  F1 {v['f']:.3f}")
    if result.dropped_labels:
        dropped = ", ".join(f"{k} {v}" for k, v in result.dropped_labels.most_common())
        lines.append(f"spans dropped (label not in the recipe): {dropped}")
    if result.trained_as:
        renamed = ", ".join(f"{k} as {v}" for k, v in sorted(result.trained_as.items()))
        lines.append(f"trained in the base's labels ({renamed}): the recipe's label map maps them back")
    for w in result.warnings:
        lines.append(f"warning: {w}")
    lines.append(f"pipeline: {result.model_best}")
    lines.append(f'use it: [entities.pipeline] names = ["{result.model_best}"] in the recipe, or --model')
    return "\n".join(lines) + "\n"
