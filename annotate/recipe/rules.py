"""The relation-rule kinds a recipe may declare, as data: each kind's parameters, their types
and defaults, and the checks of one declaration.

A recipe holds its rules as declared (``[[rules]]`` tables, each with a ``kind``);
:func:`check_rules` checks them when the recipe loads, so a mistake is reported with its place
in the file before any pipeline is loaded. The rule engine, :mod:`annotate.nlp.relation_rules`,
builds a rule from a checked declaration and reads its kind's parameters here: the recipe
never imports the engine. A kind's checks raise :class:`~annotate.errors.ConfigError`
(``E213`` for an unknown kind, ``E212`` for the rest).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from annotate.errors import ConfigError, location

if TYPE_CHECKING:
    from annotate.recipe.model import Recipe, RelationType

ParamType = type | tuple[type, ...]
# ``check(spec, where)``: the checks of one declaration beyond its parameters' types.
Check = Callable[[Mapping[str, Any], str], None]

# Keys of every declaration that are not a kind's parameters.
DECLARATION_KEYS = ("name", "kind", "relation", "description")
# Parameters every kind accepts, and their defaults.
COMMON_PARAMS: dict[str, type] = {"negators": list, "lemmas": bool}
# Words that undo the verb they govern ("refused to join", "declined to sign").
DEFAULT_NEGATORS = ("refuse", "decline", "reject", "fail", "deny", "abandon", "quit", "leave", "withdraw")
COMMON_DEFAULTS: dict[str, Any] = {"negators": DEFAULT_NEGATORS, "lemmas": True}
# "talks with Macron in Paris": an entity that is the object of a place or time preposition is
# where or when, not a party (the trigger kind's ``exclude_preps``).
DEFAULT_EXCLUDE_PREPS = ("in", "at", "on", "near", "during", "outside", "inside", "across", "throughout")


@dataclass(frozen=True)
class RuleKind:
    """What a declaration of one kind may hold: its parameters (name -> type), the required
    ones, their defaults, and the checks beyond types."""

    name: str
    params: Mapping[str, ParamType] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    check: Check | None = None

    def value(self, spec: Mapping[str, Any], key: str) -> Any:
        """Return parameter ``key`` of ``spec``, or its default (None when it has none)."""
        if key in spec:
            return spec[key]
        return self.defaults.get(key, COMMON_DEFAULTS.get(key))


KINDS: dict[str, RuleKind] = {}


def declare(kind: RuleKind) -> RuleKind:
    """Add ``kind`` to the kinds a recipe may declare (replacing one of the same name)."""
    KINDS[kind.name] = kind
    return kind


def kinds() -> list[str]:
    """Return the declared rule kinds, sorted."""
    return sorted(KINDS)


# --- the checks -------------------------------------------------------------------------------


def rule_location(recipe: Recipe, index: int) -> str:
    """Return where the ``index``-th rule of ``recipe`` is: ``<file>: /rules/<index>``."""
    return location(str(recipe.path) if recipe.path else None, None, f"/rules/{index}")


def unknown_kind(where: str, kind: Any, valid: list[str]) -> ConfigError:
    return ConfigError(
        f"{where}/kind: unknown relation rule kind {kind!r}",
        hint=f"valid kinds: {', '.join(valid)}",
        code="E213",
    )


def check_words(spec: Mapping[str, Any], key: str, where: str) -> None:
    """Check that parameter ``key``, when given, is a list of non-empty strings."""
    if not all(isinstance(w, str) and w.strip() for w in spec.get(key, ())):
        raise ConfigError(f"{where}/{key}: must be a list of non-empty strings", code="E212")


def check_params(spec: Mapping[str, Any], kind: RuleKind, where: str) -> None:
    """Check that ``spec`` names only parameters of ``kind``, each of its type, and all the
    required ones."""
    for key in spec:
        if key in DECLARATION_KEYS:
            continue
        expected = kind.params.get(key, COMMON_PARAMS.get(key))
        if expected is None:
            valid = ", ".join(sorted({*kind.params, *COMMON_PARAMS}))
            raise ConfigError(
                f"{where}/{key}: unknown parameter {key!r} for a {kind.name} rule",
                hint=f"parameters of {kind.name}: {valid}",
                code="E212",
            )
        # bool is an int in Python; a TOML `true` must not pass for a number.
        wrong_bool = isinstance(spec[key], bool) and expected is not bool
        if not isinstance(spec[key], expected) or wrong_bool:
            raise ConfigError(f"{where}/{key}: wrong type for {key!r}", code="E212")
    for key in kind.required:
        if key not in spec:
            raise ConfigError(f"{where}: a {kind.name} rule needs {key!r}", code="E212")
    check_words(spec, "negators", where)


def check_rule(spec: Mapping[str, Any], recipe: Recipe, index: int) -> RelationType:
    """Check the ``index``-th rule of ``recipe``, declared by ``spec``; return its relation type.

    An unknown kind or relation is a ConfigError that lists the valid names.
    """
    where = rule_location(recipe, index)
    kind = KINDS.get(str(spec.get("kind")))
    if kind is None:
        raise unknown_kind(where, spec.get("kind"), kinds())
    relation = recipe.relation_type(spec.get("relation", ""))
    if relation is None:
        raise ConfigError(
            f"{where}/relation: unknown relation type {spec.get('relation')!r}",
            hint=f"relation types of this recipe: {', '.join(recipe.relation_names) or 'none'}",
            code="E212",
        )
    check_params(spec, kind, where)
    if kind.check is not None:
        kind.check(spec, where)
    return relation


def check_rules(recipe: Recipe) -> None:
    """Check every rule of ``recipe``, in the declared order."""
    for i, spec in enumerate(recipe.relation_rules):
        check_rule(spec, recipe, i)


# --- the kinds --------------------------------------------------------------------------------


def _check_dependency_matcher(spec: Mapping[str, Any], where: str) -> None:
    """Each pattern is a list of node tables with the head and tail node ids, and spaCy's
    DependencyMatcher accepts it."""
    from spacy.matcher import DependencyMatcher
    from spacy.vocab import Vocab

    if not spec["patterns"]:
        raise ConfigError(f"{where}/patterns: needs at least one pattern", code="E212")
    probe = DependencyMatcher(Vocab(), validate=True)
    for i, pattern in enumerate(spec["patterns"]):
        if not isinstance(pattern, list) or not all(isinstance(n, dict) for n in pattern):
            raise ConfigError(f"{where}/patterns/{i}: a pattern is a list of node tables", code="E212")
        ids = [n.get("RIGHT_ID") for n in pattern]
        for role in (spec["head"], spec["tail"]):
            if role not in ids:
                raise ConfigError(
                    f"{where}/patterns/{i}: no node with RIGHT_ID {role!r} (the head/tail role)",
                    hint=f"node ids in this pattern: {', '.join(map(str, ids))}",
                    code="E212",
                )
        try:
            probe.add(f"p{i}", [pattern])
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f"{where}/patterns/{i}: not a valid DependencyMatcher pattern: {e}", code="E212"
            ) from None


def _check_trigger(spec: Mapping[str, Any], where: str) -> None:
    check_words(spec, "triggers", where)
    if not spec["triggers"]:
        raise ConfigError(f"{where}/triggers: needs at least one trigger", code="E212")
    check_words(spec, "exclude_preps", where)
    trigger = KINDS["trigger"]
    if trigger.value(spec, "max_path") < 1 or trigger.value(spec, "climb") < 0:
        raise ConfigError(f"{where}: max_path must be >= 1 and climb >= 0", code="E212")


def _check_title(spec: Mapping[str, Any], where: str) -> None:
    check_words(spec, "titles", where)
    if not spec["titles"]:
        raise ConfigError(f"{where}/titles: needs at least one title", code="E212")
    check_words(spec, "of_context", where)


def _check_coordination(spec: Mapping[str, Any], where: str) -> None:
    check_words(spec, "member_subject_verbs", where)
    check_words(spec, "group_subject_verbs", where)
    if not spec.get("member_subject_verbs") and not spec.get("group_subject_verbs"):
        raise ConfigError(f"{where}: needs member_subject_verbs or group_subject_verbs", code="E212")


declare(
    RuleKind(
        "dependency_matcher",
        params={"patterns": list, "head": str, "tail": str, "check_negation": bool},
        required=("patterns", "head", "tail"),
        defaults={"check_negation": True},
        check=_check_dependency_matcher,
    )
)
declare(
    RuleKind(
        "trigger",
        params={"triggers": list, "max_path": int, "climb": int, "exclude_preps": list},
        required=("triggers",),
        defaults={"max_path": 4, "climb": 2, "exclude_preps": DEFAULT_EXCLUDE_PREPS},
        check=_check_trigger,
    )
)
declare(
    RuleKind(
        "title",
        params={"titles": list, "of_context": list},
        required=("titles",),
        check=_check_title,
    )
)
declare(
    RuleKind(
        "coordination",
        params={"member_subject_verbs": list, "group_subject_verbs": list},
        check=_check_coordination,
    )
)
