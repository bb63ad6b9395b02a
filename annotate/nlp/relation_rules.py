"""Relation rules: the kinds a recipe may declare, in a registry, and how they find relations.

A recipe declares rules as data (``[[rules]]`` with a ``kind``); this module turns each into
a :class:`RelationRule` and runs them over a parsed spaCy ``Doc`` whose entities are known.
The kinds:

- ``dependency_matcher``: spaCy DependencyMatcher patterns; two node ids bind head and tail;
- ``trigger``: two entities in one sentence whose dependency path holds a trigger lemma;
- ``title``: titles and appositions ("UN Secretary-General Antonio Guterres",
  "Jens Stoltenberg, the secretary general of NATO", "Xi Jinping of China");
- ``coordination``: a verb with a list of members ("formed by Brazil, Russia and India").

A rule proposes (head, tail) pairs; :func:`find_relations` keeps those that obey the relation
type's allowed label pairs, are not negated, and are not self-loops, and records the rule that
made each one (``rule:<name>``).

What a declaration of each kind may hold, and its checks, are data of the recipe
(:mod:`annotate.recipe.rules`): this module builds from a checked declaration. Add a kind with
``@register("name")`` on its class, after declaring it there (a class registered without a
declaration declares its own ``params`` and ``required``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from annotate.recipe.rules import KINDS, RuleKind, check_rule, declare, rule_location, unknown_kind

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

    from annotate.recipe.model import Recipe, RelationType

RULE_KINDS: dict[str, type[RelationRule]] = {}

# "talks between X and Y": a preposition that relates the members of a coordination.
RECIPROCAL_PREPS = frozenset({"between", "among", "amongst"})


def register(kind: str) -> Callable[[type[RelationRule]], type[RelationRule]]:
    """Class decorator: register a rule class under ``kind``, the engine of that declared kind."""

    def deco(cls: type[RelationRule]) -> type[RelationRule]:
        declared = KINDS.get(kind)
        if declared is None:
            declared = declare(RuleKind(kind, params=dict(cls.params), required=tuple(cls.required)))
        cls.kind = kind
        cls.declared = declared
        RULE_KINDS[kind] = cls
        return cls

    return deco


def kinds() -> list[str]:
    """Return the registered rule kinds, sorted."""
    return sorted(RULE_KINDS)


@dataclass(frozen=True)
class Found:
    """A relation found by a rule: indices into the entity list, the type and the rule."""

    head: int
    tail: int
    label: str
    source: str


class RelationRule(ABC):
    """One declared rule, built from its checked declaration. Subclasses read their parameters
    in ``__init__`` and find pairs."""

    kind: ClassVar[str] = ""
    # The declared kind (set by ``register``): parameters, their defaults, the checks.
    declared: ClassVar[RuleKind]
    # For a kind registered without a declaration: its parameters besides name, kind,
    # relation and description (name -> type), and the required ones.
    params: ClassVar[dict[str, type | tuple[type, ...]]] = {}
    required: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: dict[str, Any], relation: RelationType, where: str) -> None:
        self.name: str = spec["name"]
        self.relation = relation
        self.where = where
        self.spec = spec
        self.negators = frozenset(self._words("negators"))
        # Without lemmas words are matched as written (list "talks" too); the pipeline then
        # runs no tagger and lemmatizer, which is faster.
        self.lemmas: bool = self._value("lemmas")
        # Labels that can be a head (a tail) of the relation type: an entity with neither is
        # passed over before any walk, since find_relations would drop its pairs anyway.
        # None: the type allows every pair. Undirected types allow both orders.
        allowed = relation.allowed
        if allowed:
            heads = {h for h, _ in allowed}
            tails = {t for _, t in allowed}
            if not relation.directed:
                heads = tails = heads | tails
            self.head_labels: frozenset[str] | None = frozenset(heads)
            self.tail_labels: frozenset[str] | None = frozenset(tails)
        else:
            self.head_labels = self.tail_labels = None

    def can_head(self, ent: Span) -> bool:
        """Return whether ``ent``'s label may be the head of some allowed pair."""
        return self.head_labels is None or ent.label_ in self.head_labels

    def can_tail(self, ent: Span) -> bool:
        """Return whether ``ent``'s label may be the tail of some allowed pair."""
        return self.tail_labels is None or ent.label_ in self.tail_labels

    def _value(self, key: str) -> Any:
        """Return parameter ``key`` as declared, or its default."""
        return self.declared.value(self.spec, key)

    def _words(self, key: str) -> list[str]:
        """Return the words of list parameter ``key`` (checked when the recipe loaded), lowercased."""
        return [w.lower() for w in self._value(key) or ()]

    @property
    def source(self) -> str:
        return f"rule:{self.name}"

    @property
    def needs(self) -> frozenset[str]:
        """Pipeline capabilities the rule needs: ``parser``, ``lemmatizer``, ``tagger``."""
        return frozenset({"parser", "lemmatizer"} if self.lemmas else {"parser"})

    @abstractmethod
    def pairs(self, doc: Doc, ents: Sequence[Span], token_ent: EntityIndex) -> Iterator[tuple[int, int]]:
        """Yield ``(head, tail)`` entity indices; direction is the rule's to decide."""


# --- helpers on the dependency tree -----------------------------------------------------------


class EntityIndex(dict[int, int]):
    """Token index -> index of the (longest) entity holding it, plus what every rule asks of a
    document once: the entities' root tokens and the sentences (computing ``span.root`` or
    ``span.sent`` again for every pair is what made the rules slow)."""

    def __init__(self, doc: Doc, ents: Sequence[Span]) -> None:
        super().__init__()
        for i, ent in enumerate(ents):
            for t in range(ent.start, ent.end):
                j = self.get(t)
                if j is None or len(ents[j]) < len(ent):
                    self[t] = i
        self.roots: list[Token] = [e.root for e in ents]
        self._doc = doc
        self._sents: list[Span] | None = None
        self._sent_of: list[int] = []
        self._ancestors: dict[int, list[Token]] = {}
        self._words: tuple[list[str], list[str]] | None = None
        # Per-rule, per-sentence answers (e.g. "does this sentence hold a context word"),
        # so that a rule walks a sentence once, not once per entity in it.
        self.memo: dict[tuple[int, str, int], bool] = {}

    @property
    def sents(self) -> list[Span]:
        if self._sents is None:
            self._sents = list(self._doc.sents)
            self._sent_of = [0] * len(self._doc)
            for k, sent in enumerate(self._sents):
                for t in range(sent.start, sent.end):
                    self._sent_of[t] = k
        return self._sents

    @property
    def sentence_table(self) -> list[int]:
        """Token index -> position of its sentence in :attr:`sents`."""
        if self._sents is None:
            self.sents  # noqa: B018 - fills the table
        return self._sent_of

    @property
    def words(self) -> tuple[list[str], list[str]]:
        """(lowercase form, lowercase lemma) of every token, read from the document's arrays
        once: the rules test words of many tokens, and a Token object per test costs more."""
        if self._words is None:
            from spacy.attrs import LEMMA, LOWER

            strings = self._doc.vocab.strings
            array = self._doc.to_array([LOWER, LEMMA]).reshape(len(self._doc), 2)
            lowers = [strings[h] for h in cast("list[int]", array[:, 0].tolist())]
            lemmas = [strings[h].lower() for h in cast("list[int]", array[:, 1].tolist())]
            self._words = (lowers, lemmas)
        return self._words

    def is_word(self, token_i: int, words: frozenset[str]) -> bool:
        """Return whether token ``token_i``'s lemma or form, lowercased, is one of ``words``."""
        lowers, lemmas = self.words
        return lemmas[token_i] in words or lowers[token_i] in words

    def sent_of(self, token_i: int) -> Span:
        """Return the sentence holding token ``token_i``."""
        return self.sents[self._sent_of[token_i]]

    def ancestors(self, token: Token) -> list[Token]:
        """Return ``token`` and its heads up to the root (computed once per token)."""
        chain = self._ancestors.get(token.i)
        if chain is None:
            chain = self._ancestors[token.i] = _ancestors(token)
        return chain

    def path(self, a: Token, b: Token) -> tuple[list[Token], Token] | None:
        """:func:`dependency_path` with the ancestor chains cached."""
        return _path(self.ancestors(a), self.ancestors(b))


def token_entity_map(doc: Doc, ents: Sequence[Span]) -> EntityIndex:
    """Return the EntityIndex of ``ents`` in ``doc``."""
    return EntityIndex(doc, ents)


def _ancestors(token: Token) -> list[Token]:
    chain = [token]
    while chain[-1].head.i != chain[-1].i:
        chain.append(chain[-1].head)
    return chain


def dependency_path(a: Token, b: Token) -> tuple[list[Token], Token] | None:
    """Return (the tokens on the tree path from ``a`` to ``b``, both included; their lowest
    common ancestor), or None when they are in different trees."""
    return _path(_ancestors(a), _ancestors(b))


def _path(up_a: list[Token], up_b: list[Token]) -> tuple[list[Token], Token] | None:
    index_b = {t.i: k for k, t in enumerate(up_b)}
    for k, t in enumerate(up_a):
        if t.i in index_b:
            return up_a[: k + 1] + list(reversed(up_b[: index_b[t.i]])), t
    return None


def is_negated(token: Token, negators: frozenset[str]) -> bool:
    """Return whether ``token`` or a verb that controls it is negated ("opted not to join",
    "refused to join", "did not join")."""
    t = token
    for _ in range(4):
        if any(c.dep_ == "neg" for c in t.children):
            return True
        if t is not token and (t.lemma_.lower() in negators or t.lower_ in negators):
            return True
        if t.dep_ == "xcomp" and t.head.i != t.i:
            t = t.head
        else:
            return False
    return False


# --- the kinds --------------------------------------------------------------------------------


@register("dependency_matcher")
class DependencyMatcherRule(RelationRule):
    """spaCy DependencyMatcher patterns; the nodes named by ``head`` and ``tail`` must be
    tokens of entities."""

    def __init__(self, spec: dict[str, Any], relation: RelationType, where: str) -> None:
        super().__init__(spec, relation, where)
        self.patterns: list[list[dict[str, Any]]] = spec["patterns"]
        self.head: str = spec["head"]
        self.tail: str = spec["tail"]
        self.check_negation: bool = self._value("check_negation")
        # The token attributes the patterns test: what the pipeline must set (see ``needs``).
        self._attrs = {
            k.upper()
            for pattern in self.patterns
            for node in pattern
            for k in (node.get("RIGHT_ATTRS") or {})
        }
        # Node ids of each pattern, and where the head and tail roles sit among them.
        self._roles = [
            (ids.index(self.head), ids.index(self.tail))
            for ids in ([n["RIGHT_ID"] for n in pattern] for pattern in self.patterns)
        ]
        # Matchers built for a rule list: see :func:`_dependency_pairs`.
        self._shared: dict[tuple[int, ...], _SharedMatcher] = {}

    def __getstate__(self) -> dict[str, Any]:
        # A matcher is bound to one Vocab: a worker process builds its own.
        state = dict(self.__dict__)
        state["_shared"] = {}
        return state

    @property
    def needs(self) -> frozenset[str]:
        needs = {"parser"}
        if "LEMMA" in self._attrs:
            needs.add("lemmatizer")
        if self._attrs & {"POS", "TAG", "MORPH"}:
            needs.add("tagger")
        return frozenset(needs)

    def pairs(self, doc: Doc, ents: Sequence[Span], token_ent: EntityIndex) -> Iterator[tuple[int, int]]:
        yield from _dependency_pairs([self], doc, ents, token_ent)[0]

    def _pair(
        self, doc: Doc, pattern: int, token_ids: Sequence[int], token_ent: EntityIndex
    ) -> tuple[int, int] | None:
        """Return the (head, tail) entity pair of one match of pattern ``pattern``, or None
        when a role is not an entity or the match is negated."""
        h_pos, t_pos = self._roles[pattern]
        h = token_ent.get(token_ids[h_pos])
        t = token_ent.get(token_ids[t_pos])
        if h is None or t is None:
            return None
        if self.check_negation and any(is_negated(doc[k], self.negators) for k in token_ids):
            return None
        return h, t


class _SharedMatcher:
    """The patterns of several dependency_matcher rules, built once per rule list and vocab:
    one run per document serves every rule, instead of one run per rule.

    Plain patterns (see :mod:`annotate.nlp.dependency_patterns`) are matched over the document's
    arrays; the others share one spaCy DependencyMatcher (keyed ``<rule position>#<pattern>``).
    """

    def __init__(self, rules: Sequence[DependencyMatcherRule], vocab: Any) -> None:
        from spacy.matcher import DependencyMatcher

        from annotate.nlp.dependency_patterns import PlainPattern, compile_plain

        self.rules = list(rules)  # held so that the ids in the cache key stay theirs
        self.vocab = vocab
        self.plain: list[PlainPattern] = []
        self.plain_keys: list[tuple[int, int]] = []
        self.matcher: Any = None
        self.keys: dict[int, tuple[int, int]] = {}
        for r, rule in enumerate(rules):
            for i, pattern in enumerate(rule.patterns):
                plain = compile_plain(pattern, vocab.strings)
                if plain is not None:
                    self.plain.append(plain)
                    self.plain_keys.append((r, i))
                    continue
                if self.matcher is None:
                    self.matcher = DependencyMatcher(vocab)
                name = f"{r}#{i}"
                self.matcher.add(name, [pattern])
                self.keys[vocab.strings[name]] = (r, i)

    def __call__(self, doc: Doc) -> Iterator[tuple[int, int, list[int]]]:
        """Yield (rule position, pattern, token of each node) for every match in ``doc``."""
        from annotate.nlp.dependency_patterns import match_plain

        for (r, i), matches in zip(self.plain_keys, match_plain(self.plain, doc), strict=True):
            for token_ids in matches:
                yield r, i, token_ids
        if self.matcher is not None:
            for match_id, token_ids in self.matcher(doc):
                yield (*self.keys[match_id], token_ids)


def _dependency_pairs(
    rules: Sequence[DependencyMatcherRule], doc: Doc, ents: Sequence[Span], token_ent: EntityIndex
) -> list[list[tuple[int, int]]]:
    """Return, for each of ``rules``, the (head, tail) pairs its patterns find in ``doc``.

    The matcher runs only when some sentence holds an entity that may head and one that may
    be the tail of some rule's relation: a match lies within one dependency tree (one
    sentence), and any other could only give pairs that find_relations drops.
    """
    out: list[list[tuple[int, int]]] = [[] for _ in rules]
    if not rules or not ents:
        return out
    key = (id(doc.vocab), *map(id, rules))
    shared = rules[0]._shared.get(key)
    if shared is None:
        shared = rules[0]._shared[key] = _SharedMatcher(rules, doc.vocab)
    # Labels of the entities holding a token of each sentence (a token belongs to the entity
    # token_ent names, as in the pairs); without sentence boundaries the document is one.
    by_sent = doc.has_annotation("SENT_START")
    labels: dict[int, set[str]] = {}
    if by_sent:
        sent_of = token_ent.sentence_table
        placed = {(sent_of[tok], e) for tok, e in token_ent.items()}
    else:
        placed = {(0, e) for e in token_ent.values()}
    for k, e in placed:
        labels.setdefault(k, set()).add(ents[e].label_)

    def wanted(found: set[str]) -> bool:
        return any(
            (r.head_labels is None or not r.head_labels.isdisjoint(found))
            and (r.tail_labels is None or not r.tail_labels.isdisjoint(found))
            for r in rules
        )

    # Matching a Span copies it into a Doc of its own (Span.as_doc), which costs more than
    # the matcher saves on the sentences left out: the matcher runs once over the whole
    # document, when one of its sentences could give a kept pair.
    if not any(wanted(found) for found in labels.values()):
        return out
    for r, i, token_ids in shared(doc):
        pair = rules[r]._pair(doc, i, token_ids, token_ent)
        if pair is not None:
            out[r].append(pair)
    return out


@register("trigger")
class TriggerRule(RelationRule):
    """Two entities of one sentence whose dependency path holds a trigger lemma.

    When one entity governs the other (a list: "talks between Putin and Kim"), the path has
    no inner word, so up to ``climb`` ancestors of the governing one are searched too.
    The direction follows the allowed pairs; when both ways are allowed, text order.
    """

    def __init__(self, spec: dict[str, Any], relation: RelationType, where: str) -> None:
        super().__init__(spec, relation, where)
        self.triggers = frozenset(self._words("triggers"))
        self.max_path: int = self._value("max_path")
        self.climb: int = self._value("climb")
        # Entities that are objects of these prepositions are places or times, not parties.
        self.exclude_preps = frozenset(self._words("exclude_preps"))

    def _is_place_or_time(self, root: Token) -> bool:
        """Return whether ``root`` is the object of a place/time preposition, directly or as
        a conjunct ("strikes against ISIL in Iraq and Syria")."""
        for _ in range(8):
            if root.dep_ != "conj" or root.head.i == root.i:
                break
            root = root.head
        return root.dep_ == "pobj" and root.head.lower_ in self.exclude_preps

    def _reciprocal_context(self, lca: Token) -> list[Token]:
        """Return the words above a coordination ("Putin and Kim") that relate its members to
        each other: "talks between X and Y", or "X and Y met" (a verb without an object;
        "X and Y will host the ministers" does not relate X to Y)."""
        climbed: list[Token] = []
        child, up = lca, lca
        for _ in range(self.climb):
            if up.head.i == up.i:
                break
            child, up = up, up.head
            climbed.append(up)
            if up.lower_ in RECIPROCAL_PREPS:
                continue  # on to the word that governs "between"
            if any(t.lower_ in RECIPROCAL_PREPS for t in climbed):
                return climbed
            if child.dep_ in ("nsubj", "nsubjpass") and not any(
                c.dep_ in ("dobj", "attr") for c in up.children
            ):
                return climbed
            return []
        return climbed if any(t.lower_ in RECIPROCAL_PREPS for t in climbed) else []

    def pairs(self, doc: Doc, ents: Sequence[Span], token_ent: EntityIndex) -> Iterator[tuple[int, int]]:
        roots = token_ent.roots
        allows = self.relation.allows
        by_sent: dict[int, list[int]] = {}
        for i, e in enumerate(ents):
            # Only entities that can take part in an allowed pair, and are not a place or
            # time ("in Paris"); both are per entity, so they are settled once, not per pair.
            if not (self.can_head(e) or self.can_tail(e)) or self._is_place_or_time(roots[i]):
                continue
            by_sent.setdefault(token_ent.sent_of(e.start).start, []).append(i)
        for inside in by_sent.values():
            for x, i in enumerate(inside):
                for j in inside[x + 1 :]:
                    a, b = ents[i], ents[j]
                    if a.end > b.start and b.end > a.start:
                        continue
                    if not (allows(a.label_, b.label_) or allows(b.label_, a.label_)):
                        continue
                    ra, rb = roots[i], roots[j]
                    found = token_ent.path(ra, rb)
                    if found is None:
                        continue
                    path, lca = found
                    if len(path) - 1 > self.max_path:
                        continue
                    inner = [t for t in path if not (a.start <= t.i < a.end or b.start <= t.i < b.end)]
                    if lca.i in (ra.i, rb.i):
                        inner += self._reciprocal_context(lca)
                    if not any(token_ent.is_word(t.i, self.triggers) for t in inner):
                        continue
                    if any(is_negated(t, self.negators) for t in inner):
                        continue
                    if allows(a.label_, b.label_):
                        yield i, j
                    else:
                        yield j, i


@register("title")
class TitleRule(RelationRule):
    """Titles and appositions: the person is the head, the organisation or place the tail.

    - before the name: "UN Secretary-General Antonio Guterres", "Russia's President Putin";
    - apposition: "Jens Stoltenberg, the secretary general of NATO", "Joseph Votel, commander
      of U.S. Central Command", "Mark Rutte, NATO's secretary general";
    - "<person> of <place>" ("Xi Jinping of China"), only when ``of_context`` is given and the
      sentence holds one of its words ("world leaders, including ... Xi Jinping of China").

    ``titles`` are matched against the exact words between the two names (lowercased), so
    "former President" does not match "president".
    """

    def __init__(self, spec: dict[str, Any], relation: RelationType, where: str) -> None:
        super().__init__(spec, relation, where)
        self.titles = frozenset(" ".join(t.replace("-", " - ").split()) for t in self._words("titles"))
        self.of_context = frozenset(self._words("of_context"))
        self.longest = max(len(t.split()) for t in self.titles)

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({"parser", "lemmatizer"} if self.of_context and self.lemmas else {"parser"})

    def _about_leaders(self, token_ent: EntityIndex, token_i: int) -> bool:
        """Return whether the sentence of ``token_i`` holds an ``of_context`` word (each
        sentence is read once per rule)."""
        sent = token_ent.sent_of(token_i)
        key = (id(self), "of_context", sent.start)
        known = token_ent.memo.get(key)
        if known is None:
            known = token_ent.memo[key] = any(
                token_ent.is_word(i, self.of_context) for i in range(sent.start, sent.end)
            )
        return known

    def _is_title(self, words: Sequence[str]) -> bool:
        return " ".join(words) in self.titles

    def pairs(self, doc: Doc, ents: Sequence[Span], token_ent: EntityIndex) -> Iterator[tuple[int, int]]:
        ends = {e.end: i for i, e in enumerate(ents)}
        lowers = token_ent.words[0]
        sentence = token_ent.sentence_table
        for p, person in enumerate(ents):
            if not self.can_head(person):
                continue
            # Before the name: <org> ['s] <title> <person>.
            for k in range(1, self.longest + 2):
                start = person.start - k
                if start < 0 or sentence[start] != sentence[person.start]:
                    break
                words = lowers[start : person.start]
                if words[0] in ("'s", "’s"):
                    words = words[1:]
                if not words or not self._is_title(words):
                    continue
                o = ends.get(start)
                if o is not None:
                    yield p, o
            # Apposition: <person>, [the] [<org>['s]] <title> [of <org>].
            root = token_ent.roots[p]
            for child in root.children:
                if child.dep_ != "appos":
                    continue
                title = [
                    t
                    for t in child.subtree
                    if t.i <= child.i and t.dep_ not in ("det", "punct", "poss", "case")
                ]
                if not self._is_title([lowers[t.i] for t in title if t.i not in token_ent]):
                    continue
                for t in child.subtree:
                    o = token_ent.get(t.i)
                    if o is not None and o != p and t.i == token_ent.roots[o].i:
                        if t.head.i == child.i or (t.head.dep_ == "prep" and t.head.head.i == child.i):
                            yield p, o
            # <person> of <place>, in a sentence about leaders.
            if self.of_context and self._about_leaders(token_ent, person.start):
                for prep in root.children:
                    if prep.dep_ == "prep" and prep.lower_ == "of":
                        for pobj in prep.children:
                            o = token_ent.get(pobj.i)
                            if pobj.dep_ == "pobj" and o is not None and o != p:
                                yield p, o


@register("coordination")
class CoordinationRule(RelationRule):
    """A verb that relates a group to a list of members, each member a relation of its own.

    - ``member_subject_verbs`` ("form", "found", "join"): the members are the subject (or the
      passive agent: "formed by A, B and C"), the group is the object (or passive subject);
    - ``group_subject_verbs`` ("include", "comprise", "admit"): the group is the subject
      (inherited through "was expanded to include"), the members are the object.

    Members are expanded through conjuncts, appositions and "including"/"such as" lists.
    A negated verb ("opted not to join") yields nothing. The member is the head.
    """

    LIST_PREPS = frozenset({"including", "like", "such", "as", "among"})

    def __init__(self, spec: dict[str, Any], relation: RelationType, where: str) -> None:
        super().__init__(spec, relation, where)
        self.member_verbs = frozenset(self._words("member_subject_verbs"))
        self.group_verbs = frozenset(self._words("group_subject_verbs"))

    @staticmethod
    def _subject(verb: Token) -> tuple[Token | None, bool]:
        """Return (the subject of ``verb``, whether it is a passive subject), inherited from
        the controlling verb for "to include" and from the first conjunct for "and was"."""
        t = verb
        for _ in range(4):
            for c in t.children:
                if c.dep_ in ("nsubj", "nsubjpass"):
                    return c, c.dep_ == "nsubjpass"
            if t.dep_ in ("xcomp", "advcl", "conj") and t.head.i != t.i:
                t = t.head
            else:
                break
        return None, False

    def _members(self, token: Token, token_ent: EntityIndex, seen: set[int]) -> list[int]:
        if token.i in seen:
            return []
        seen.add(token.i)
        out: list[int] = []
        e = token_ent.get(token.i)
        if e is not None:
            out.append(e)
        for c in token.children:
            if c.dep_ in ("conj", "appos"):
                out += self._members(c, token_ent, seen)
            elif c.dep_ == "prep" and c.lower_ in self.LIST_PREPS:
                for g in c.children:
                    if g.dep_ == "pobj":
                        out += self._members(g, token_ent, seen)
                    elif g.dep_ == "prep":  # "such as"
                        out += [
                            m
                            for gg in g.children
                            if gg.dep_ == "pobj"
                            for m in self._members(gg, token_ent, seen)
                        ]
        return out

    def pairs(self, doc: Doc, ents: Sequence[Span], token_ent: EntityIndex) -> Iterator[tuple[int, int]]:
        if not (any(self.can_head(e) for e in ents) and any(self.can_tail(e) for e in ents)):
            return  # no member (head) or no group (tail) of an allowed pair
        lowers, lemmas = token_ent.words
        for i, (lemma, lower) in enumerate(zip(lemmas, lowers, strict=True)):
            lemma = lemma or lower
            member_first = lemma in self.member_verbs
            if not member_first and lemma not in self.group_verbs:
                continue
            verb = doc[i]
            if verb.pos_ not in ("VERB", "AUX", "") or is_negated(verb, self.negators):
                continue
            subject, passive = self._subject(verb)
            objects = [c for c in verb.children if c.dep_ in ("dobj", "attr")]
            agents = [g for c in verb.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"]
            own_passive = any(c.dep_ in ("nsubjpass", "auxpass") for c in verb.children)
            if member_first:
                # "A and B formed X" / "X was formed by A and B" / "A joined X".
                passive = own_passive or (passive and not objects)
                member_roots = agents if passive else ([subject] if subject is not None else [])
                group_roots = [subject] if passive and subject is not None else objects
            elif own_passive:
                continue
            else:
                # "X includes A and B" / "X was expanded to include A": the group is the subject.
                group_roots = [subject] if subject is not None else []
                member_roots = objects
            groups = [token_ent[t.i] for t in group_roots if t is not None and t.i in token_ent]
            for g in groups:
                for root in member_roots:
                    for m in self._members(root, token_ent, set()):
                        if m != g:
                            yield m, g


# --- building and running --------------------------------------------------------------------


def build_rule(spec: dict[str, Any], recipe: Recipe, index: int) -> RelationRule:
    """Return the rule declared by ``spec`` (the ``index``-th of ``recipe``), checked.

    An unknown kind or relation is a ConfigError that lists the valid names.
    """
    relation = check_rule(spec, recipe, index)
    where = rule_location(recipe, index)
    cls = RULE_KINDS.get(spec["kind"])
    if cls is None:  # a declared kind that no class was registered for
        raise unknown_kind(where, spec["kind"], kinds())
    return cls(spec, relation, where)


def build_rules(recipe: Recipe) -> list[RelationRule]:
    """Return the recipe's rules, in the declared order."""
    return [build_rule(spec, recipe, i) for i, spec in enumerate(recipe.relation_rules)]


def find_relations(
    rules: Sequence[RelationRule], recipe: Recipe, doc: Doc, ents: Sequence[Span]
) -> list[Found]:
    """Return the relations the rules find among ``ents`` (spans of ``doc``), deduplicated.

    Every relation obeys its type's allowed label pairs; self-loops are kept only when the
    recipe allows them. When two rules find the same relation, the earlier rule is recorded.
    An undirected relation is stored with its first entity (in text order) as the head.
    Returns them sorted by (head, tail, label).
    """
    token_ent = token_entity_map(doc, ents)
    found: dict[tuple[int, int, str], Found] = {}
    # The dependency_matcher rules share one matcher run; each keeps its place in the order.
    matched = [r for r in rules if isinstance(r, DependencyMatcherRule)]
    matched_pairs = dict(zip(map(id, matched), _dependency_pairs(matched, doc, ents, token_ent), strict=True))
    for rule in rules:
        rt = rule.relation
        pairs = matched_pairs.get(id(rule))
        for h, t in rule.pairs(doc, ents, token_ent) if pairs is None else pairs:
            # Two mentions of the same name are one entity: a relation between them is a loop.
            same = ents[h].text == ents[t].text and ents[h].label_ == ents[t].label_
            if (h == t or same) and not recipe.allow_self_loops:
                continue
            if not rt.allows(ents[h].label_, ents[t].label_):
                continue
            if not rt.directed and (ents[t].start_char, ents[t].end_char) < (
                ents[h].start_char,
                ents[h].end_char,
            ):
                h, t = t, h
            key = (h, t, rt.name)
            if key not in found:
                found[key] = Found(h, t, rt.name, rule.source)
    return [found[k] for k in sorted(found)]


def rules_needs(rules: Sequence[RelationRule]) -> frozenset[str]:
    """Return the union of what the rules need from the pipeline."""
    out: set[str] = set()
    for r in rules:
        out |= r.needs
    return frozenset(out)


__all__ = [
    "RULE_KINDS",
    "Found",
    "EntityIndex",
    "RelationRule",
    "build_rule",
    "build_rules",
    "dependency_path",
    "find_relations",
    "is_negated",
    "kinds",
    "register",
    "rules_needs",
    "token_entity_map",
]
