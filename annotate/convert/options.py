"""What a conversion is asked: the source, the inputs and the options the sources read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOURCES = ("doccano", "prodigy", "label-studio", "brat", "conll")
AUTO = "auto"


@dataclass(frozen=True)
class ConvertOptions:
    """The options of ``annotate convert``; ``source`` is one of SOURCES or ``auto``."""

    inputs: tuple[Path, ...]
    source: str
    out: Path
    report: Path | None = None
    # A JSON object {"OLD": "NEW", ...} renaming span labels and relation types.
    label_map: Path | None = None
    force: bool = False
    # label-studio: read the predictions (pre-annotations) instead of the annotations.
    predictions: bool = False
    # conll: IOB1 or IOB2; None guesses it from each file's tags.
    scheme: str | None = None
