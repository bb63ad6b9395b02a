"""How a push and a pull run: :class:`PushOptions` (what a push may change and how it uploads)
and :class:`PullOptions` (what a pull reads and how it fetches)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from annotate.errors import ConfigError

DEFAULT_BATCH_SIZE = 1000
#: Import tasks run at once. Doccano's Celery worker runs two tasks at a time (``doccano task``'s
#: default, and ``annotate server``'s), so a second import keeps its other process busy.
DEFAULT_PARALLEL_IMPORTS = 2


@dataclass(frozen=True)
class PushOptions:
    """How a push runs: what it may change besides adding documents, and how it uploads."""

    create: bool = False  # make the project when it does not exist
    sync_labels: bool = False  # add the recipe's label types the project lacks
    update: bool = False  # replace changed pre-annotations that nobody touched
    skip_invalid: bool = False  # push the valid tasks and report the invalid ones
    dry_run: bool = False  # say what would happen; write nothing
    batch_size: int = DEFAULT_BATCH_SIZE  # tasks per import task, at most
    parallel_imports: int = DEFAULT_PARALLEL_IMPORTS
    ledger_dir: Path | None = None  # default: $ANNOTATE_HOME/push-ledger
    task_timeout: float | None = None  # per import; default: 0.2 s a task of a full batch, 120 s at least

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError("--batch-size must be at least 1")
        if self.parallel_imports < 1:
            raise ConfigError("--parallel-imports must be at least 1")

    def import_timeout(self) -> float:
        """Return how long to wait for one import task."""
        return self.task_timeout if self.task_timeout is not None else max(120.0, 0.2 * self.batch_size)


@dataclass(frozen=True)
class PullOptions:
    """What a pull reads, shared by every step that fetches and builds its records."""

    only_approved: bool = False  # only the examples someone confirmed
    per_annotator: bool = False  # one record per example and annotator
    method: str = "auto"  # ``rest``, ``export``, or ``auto``: the faster for the project's size
