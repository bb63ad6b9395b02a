"""What an export is asked to do: the formats, the split and the writing options, checked once.

:class:`ExportOptions` is what ``export()`` and ``export_records()`` are asked, as one frozen
value, made (and checked: a bad one raises UsageError) before anything is read or written;
every later step of an export reads its settings from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from annotate.errors import UsageError
from annotate.export.splits import DEFAULT_SPLIT, parse_split
from annotate.formats.alignment import ALIGNMENT_MODES, DEFAULT_ALIGNMENT, AlignmentMode
from annotate.formats.overlaps import OVERLAP_POLICIES, OverlapPolicy
from annotate.formats.spacy_docbin import DEFAULT_SPAN_KEY
from annotate.recipe import Recipe
from annotate.records.model import Record

FORMATS = ("spacy", "conll", "brat", "hf", "jsonl")
#: The formats written token by token, whose spans alignment may move.
TOKEN_FORMATS = ("spacy", "conll", "hf")


def parse_formats(values: Iterable[str]) -> tuple[str, ...]:
    """Return the distinct formats named in ``values`` (``spacy,conll`` or repeated), in order."""
    out: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in FORMATS:
                raise UsageError(
                    f"unknown format {name!r}", hint=f"choose from {', '.join(FORMATS)}", code="E271"
                )
            if name not in out:
                out.append(name)
    if not out:
        raise UsageError(
            "no output format given", hint=f"pass --to with one of {', '.join(FORMATS)}", code="E271"
        )
    return tuple(out)


@dataclass(frozen=True)
class ExportOptions:
    """The options of one export, checked as they are made: a bad one raises UsageError."""

    to: str | Sequence[str] = ("spacy",)
    split: str | Mapping[str, float] = DEFAULT_SPLIT
    seed: int = 0
    alignment: AlignmentMode = DEFAULT_ALIGNMENT
    overlap: OverlapPolicy = "longest"
    only_confirmed: bool = False
    recipe: Recipe | None = None
    span_key: str = DEFAULT_SPAN_KEY
    stratify: bool = False
    force: bool = False
    n_process: int = 1
    #: ``to`` read: the distinct formats, in order.
    formats: tuple[str, ...] = field(init=False)
    #: ``split`` read: ``{name: ratio}``, the ratios summing to 1.
    ratios: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        to, split = self.to, self.split
        object.__setattr__(self, "formats", parse_formats([to] if isinstance(to, str) else to))
        # A mapping goes through the same checks as the command-line form.
        spec = split if isinstance(split, str) else ",".join(f"{k}={float(v)!r}" for k, v in split.items())
        object.__setattr__(self, "ratios", parse_split(spec))
        _check_writing(self.alignment, self.overlap, self.recipe, self.span_key, self.n_process)

    @property
    def lang(self) -> str:
        """The language of the tokenizer: the recipe's, else English."""
        return self.recipe.lang if self.recipe is not None else "en"

    @property
    def priority(self) -> Sequence[str]:
        """The recipe's label order, which ``overlap="priority"`` keeps by."""
        return self.recipe.label_names if self.recipe is not None else ()

    @property
    def token_formats(self) -> list[str]:
        """The formats asked for that are written token by token."""
        return [f for f in self.formats if f in TOKEN_FORMATS]

    def excluded_reason(self, rec: Record) -> str | None:
        """Return why ``rec`` is left out of the export, or None when it is exported."""
        return "not_confirmed" if self.only_confirmed and rec.confirmed is not True else None


def _check_writing(
    alignment: str, overlap: str, recipe: Recipe | None, span_key: str, n_process: int
) -> None:
    """Raise UsageError for an unknown alignment or overlap policy, an empty span key, or no process."""
    if alignment not in ALIGNMENT_MODES:
        raise UsageError(
            f"unknown alignment {alignment!r}", hint=f"choose from {', '.join(ALIGNMENT_MODES)}", code="E272"
        )
    if overlap not in OVERLAP_POLICIES:
        raise UsageError(
            f"unknown overlap policy {overlap!r}",
            hint=f"choose from {', '.join(OVERLAP_POLICIES)}",
            code="E272",
        )
    if overlap == "priority" and recipe is None:
        raise UsageError(
            "--overlap priority takes the label order from a recipe", hint="pass --recipe", code="E272"
        )
    if not span_key:
        raise UsageError("the span key must not be empty", code="E272")
    if n_process < 1:
        raise UsageError("--n-process must be at least 1", code="E272")
