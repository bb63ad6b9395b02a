"""What a push or a pull did: the reports the verbs return, filled in step by step."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Refusal:
    """One task that was not pushed: where it is and why."""

    line: int
    doc_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f" ({self.doc_id})" if self.doc_id else "") + f": {self.reason}"


@dataclass
class PushReport:
    """What a push did (or, with ``dry_run``, would do)."""

    project_id: int | None
    project_name: str
    project_url: str
    total: int = 0
    pushed: int = 0
    updated: int = 0
    skipped_present: int = 0
    skipped_human: int = 0
    skipped_text_changed: int = 0
    refused: list[Refusal] = field(default_factory=list)
    duplicates_removed: int = 0
    repaired: int = 0
    labels_added: list[str] = field(default_factory=list)
    created_project: bool = False
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class PullReport:
    """What a pull wrote."""

    project_id: int
    project_name: str
    out: str
    method: str
    examples: int = 0
    records: int = 0
    confirmed: int = 0
    diff_path: str | None = None
    diff_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
