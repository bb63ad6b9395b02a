"""What runs on a Dask worker for ``preannotate --scheduler``: the work spec, the pipeline it
builds once per worker, its fingerprint, and the task that annotates one batch of texts.

The recipe and the bytes of its pattern files travel in the :class:`WorkSpec`, so a worker needs
no file of the user's: it writes the patterns into a temp folder laid out as beside the recipe
(so that every span's provenance, ``pattern:<path relative to the recipe>``, is the same) and
builds the pipeline with :func:`annotate.nlp.preannotate.preannotate`, as one process does. The
spaCy pipeline itself must be installed on the worker; its name and version are part of the
:func:`fingerprint` the client compares with its own before any work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.recipe import Recipe

if TYPE_CHECKING:
    from annotate.nlp.pipelines import LoadedPipeline

# Where a pattern file outside the recipe's folder goes in the worker's temp folder: its
# provenance is then ``pattern:<file name>``, as on the client.
_OUTSIDE = "outside"


@dataclass(frozen=True)
class WorkSpec:
    """Everything a worker needs to build the client's pipeline, as plain data."""

    recipe: Recipe
    # (place relative to the recipe's folder, or None if outside it; file name; bytes)
    patterns: tuple[tuple[str | None, str, bytes], ...]
    model: str | None
    uncertainty: bool
    max_length: int | None = None  # --max-length: the pieces the client cuts fit the workers' pipeline

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)


def work_spec(
    recipe: Recipe, *, model: str | None, uncertainty: bool, max_length: int | None = None
) -> WorkSpec:
    """Return the spec of ``recipe`` with its pattern files read in."""
    patterns = tuple((_place(recipe, file), file.name, file.read_bytes()) for file in recipe.patterns)
    return WorkSpec(
        recipe=recipe, patterns=patterns, model=model, uncertainty=uncertainty, max_length=max_length
    )


def _place(recipe: Recipe, file: Path) -> str | None:
    """Return ``file``'s path relative to the recipe's folder, or None if it lies outside."""
    if recipe.path is None:
        return None
    try:
        return file.resolve().relative_to(recipe.path.resolve().parent).as_posix()
    except ValueError:
        return None


def materialise(spec: WorkSpec, folder: Path) -> Recipe:
    """Write the spec's pattern files under ``folder``; return the recipe that reads them there."""
    home = folder / "recipe"
    home.mkdir(parents=True, exist_ok=True)
    files = []
    for i, (place, name, data) in enumerate(spec.patterns):
        target = home / place if place is not None else folder / _OUTSIDE / str(i) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        files.append(target)
    name = spec.recipe.path.name if spec.recipe.path is not None else "recipe.toml"
    return dataclasses.replace(spec.recipe, path=home / name, patterns=tuple(files))


def fingerprint(pipe: LoadedPipeline) -> dict[str, Any]:
    """Return what must be the same on the client and every worker for the same output."""
    import spacy

    import annotate

    return {
        "pipeline": pipe.id,
        "spacy": spacy.about.__version__,
        "annotate": annotate.__version__,
        "components": list(pipe.nlp.pipe_names),
        "patterns": [source for _, source in pipe.pattern_keys],
    }


@dataclass
class _Built:
    fingerprint: dict[str, Any]
    nlp: Any


# The pipeline of the last spec this worker process saw, by the spec's digest: a worker keeps
# it from batch to batch and from run to run of the same spec.
_BUILT: dict[str, _Built] = {}
_LOCK = threading.Lock()


def _spec_key(blob: bytes) -> str:
    """The key of the spec ``blob`` in ``_BUILT``."""
    return hashlib.sha256(blob).hexdigest()


def _built(blob: bytes) -> _Built:
    """Return the pipeline of the spec ``blob``, building it on the first call."""
    from annotate.nlp.preannotate import preannotate

    key = _spec_key(blob)
    with _LOCK:
        if key not in _BUILT:
            spec: WorkSpec = pickle.loads(blob)
            with tempfile.TemporaryDirectory(prefix="annotate-spec-") as tmp:
                recipe = materialise(spec, Path(tmp))
                # The patterns are read while the pipeline is built: the folder can go after.
                run = preannotate(
                    [], recipe, model=spec.model, uncertainty=spec.uncertainty, max_length=spec.max_length
                )
            _BUILT.clear()
            _BUILT[key] = _Built(fingerprint(run.pipeline), run.pipeline.nlp)
        return _BUILT[key]


def keep_for_fork(blob: bytes, pipe: LoadedPipeline) -> None:
    """On the client of ``local:N``: hold ``pipe`` as the pipeline of the spec ``blob``, so that
    workers forked from this process find it built (it is the one the spec builds: the
    workers' check compares its fingerprint as any other's)."""
    with _LOCK:
        _BUILT.clear()
        _BUILT[_spec_key(blob)] = _Built(fingerprint(pipe), pipe.nlp)


def forget_kept(blob: bytes) -> None:
    """On the client: drop what :func:`keep_for_fork` held, once the workers are forked."""
    with _LOCK:
        _BUILT.pop(_spec_key(blob), None)


def spec_bytes(blob: bytes) -> bytes:
    """A task: the spec itself, so that the cluster can make it again if it is lost."""
    return blob


def check_worker(blob: bytes) -> dict[str, Any]:
    """On a worker (``client.run``): build the pipeline; return its fingerprint, or the error."""
    try:
        return {"fingerprint": _built(blob).fingerprint}
    except Exception as e:  # reported by the client, naming this worker
        return {"error": f"{type(e).__name__}: {e}"}


def annotate_batch(blob: bytes, expected: dict[str, Any], texts: list[str]) -> list[dict[str, Any]] | dict:
    """A task: the annotations of ``texts`` (the annotator's plain lists, one dict a text).

    A worker whose pipeline is not the client's (one that joined after the check) returns its
    fingerprint instead of annotations, and the client refuses the run.
    """
    from annotate.nlp.preannotate import batch_annotations

    built = _built(blob)
    if built.fingerprint != expected:
        from distributed import get_worker

        return {"worker": get_worker().address, "fingerprint": built.fingerprint}
    return batch_annotations(built.nlp, texts)
