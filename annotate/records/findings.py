"""What validation reports: the checks (stable codes and levels), one finding, and a file's report.

These are the shared vocabulary of :mod:`annotate.records.checks` (which makes findings) and
:mod:`annotate.records.validate` (which collects them per file).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from annotate.errors import DataError

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    level: str
    description: str


_CHECK_LIST = [
    Check("E102", "invalid-json", ERROR, "a line is not valid JSON"),
    Check("E103", "bom", ERROR, "the file starts with a UTF-8 byte order mark"),
    Check("E104", "not-utf8", ERROR, "a line is not valid UTF-8"),
    Check("E105", "not-object", ERROR, "a record is not a JSON object"),
    Check("E107", "duplicate-doc-id", ERROR, "two records have the same doc_id"),
    Check(
        "E109",
        "conll-line",
        ERROR,
        "a Doccano CoNLL line is not token<TAB>tag, or its tag is unreadable",
    ),
    Check("W108", "no-records", WARNING, "the file holds no record"),
    Check("E110", "schema", ERROR, "the record does not match the JSON Schema of its kind"),
    Check("E120", "offsets", ERROR, "a span is not 0 <= start < end <= len(text)"),
    Check("E121", "duplicate-entity-id", ERROR, "two spans of a record have the same id"),
    Check("E122", "missing-endpoint", ERROR, "a relation's from_id or to_id is not a span id"),
    Check("E123", "self-loop", ERROR, "a relation goes from a span to itself (the recipe does not allow it)"),
    Check("E124", "duplicate-relation", ERROR, "the same relation (head, tail, type) is there twice"),
    Check("E125", "duplicate-relation-id", ERROR, "two relations of a record have the same id"),
    Check("E126", "unknown-label", ERROR, "a span label is not in the recipe"),
    Check("E127", "unknown-relation-type", ERROR, "a relation type is not in the recipe"),
    Check(
        "E128",
        "relation-not-allowed",
        ERROR,
        "the recipe does not allow this relation type between these labels",
    ),
    Check("E130", "overlapping-spans", ERROR, "two spans overlap (the recipe does not allow it)"),
    Check("E131", "duplicate-span", ERROR, "two spans have the same offsets and label"),
    Check("E132", "doc-hash-mismatch", ERROR, "doc_hash is not the sha256 of the text"),
    Check("E133", "span-text-mismatch", ERROR, "a span's recorded text differs from the text slice"),
    Check("W140", "span-edge", WARNING, "whitespace or punctuation at a span's edge"),
    Check("W141", "token-misaligned", WARNING, "a span does not align with the recipe tokenizer's tokens"),
    Check("W142", "meta-id", WARNING, "a meta key named id would override Doccano's example id"),
    Check("W143", "iob-repaired", WARNING, "an I- tag without its B- was read as the start of an entity"),
    Check("E150", "recipe-syntax", ERROR, "the recipe is not valid TOML"),
    Check("E151", "recipe-invalid", ERROR, "the recipe is rejected by the recipe loader"),
]
CHECKS: dict[str, Check] = {c.code: c for c in _CHECK_LIST}


@dataclass(frozen=True)
class Finding:
    """One problem: ``file:line: /pointer: [CODE] message``; ``fix`` is a machine-readable remedy."""

    code: str
    level: str
    message: str
    path: str | None = None
    line: int | None = None
    pointer: str | None = None
    fix: dict[str, Any] | None = None

    @property
    def check(self) -> str:
        """The check's short name (``offsets``, ``overlapping-spans``, ...)."""
        c = CHECKS.get(self.code)
        return c.name if c else self.code

    def __str__(self) -> str:
        where = self.path or "<records>"
        if self.line is not None:
            where += f":{self.line}"
        if self.pointer is not None:
            where += f": {self.pointer or '/'}"
        return f"{where}: [{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "pointer": self.pointer,
            "code": self.code,
            "check": self.check,
            "level": self.level,
            "message": self.message,
            "fix": self.fix,
        }


class ValidationFailed(DataError):
    """A file or a set of records did not validate (exit 1). ``report`` has every finding."""

    code = "E119"

    def __init__(self, report: ValidationReport, *, strict: bool = False) -> None:
        self.report = report
        bad = [f for f in report.findings if f.level == ERROR or strict]
        first = "; ".join(str(f) for f in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        super().__init__(
            f"{report.path}: {report.n_errors} errors, {report.n_warnings} warnings: {first}{more}",
            hint=f"run `annotate validate {report.path}` for every finding",
        )


@dataclass
class ValidationReport:
    """The findings of one file (or record set), in input order."""

    path: str
    kind: str
    findings: list[Finding] = field(default_factory=list)
    n_records: int = 0
    # True when --max-errors stopped the validation before the end of the input.
    truncated: bool = False

    @property
    def counts(self) -> Counter[str]:
        """Findings by code."""
        return Counter(f.code for f in self.findings)

    @property
    def n_errors(self) -> int:
        return sum(1 for f in self.findings if f.level == ERROR)

    @property
    def n_warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == WARNING)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.n_errors == 0

    @property
    def ok_strict(self) -> bool:
        """True when there is no finding at all (``--strict``)."""
        return not self.findings

    def passed(self, *, strict: bool = False) -> bool:
        return self.ok_strict if strict else self.ok

    def raise_for_errors(self, *, strict: bool = False) -> None:
        """Raise ValidationFailed unless the report passed."""
        if not self.passed(strict=strict):
            raise ValidationFailed(self, strict=strict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "records": self.n_records,
            "errors": self.n_errors,
            "warnings": self.n_warnings,
            "truncated": self.truncated,
            "counts": dict(sorted(self.counts.items())),
            "findings": [f.to_dict() for f in self.findings],
        }


def decode_utf8(data: bytes, name: str) -> str | Finding:
    """Return a whole file's text, or the E104 finding naming the line that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return Finding("E104", ERROR, f"not UTF-8: {e.reason}", name, line, None)
