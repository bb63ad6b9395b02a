"""A deterministic generator of realistic news articles, with their entities and relations known.

Sentences are built from templates whose slots are filled with real-looking people, organisations,
countries, cities, nationalities and dates. Because every entity comes from a slot, its character
offsets are known exactly, so the same generator gives both the raw articles (for pre-annotation)
and pre-annotated tasks (for push, validate and export) without running a model.

The same ``seed`` and ``n`` always give byte-identical output, on any machine.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from annotate.records.model import Record, Relation, Span, text_hash

# --- vocabulary ------------------------------------------------------------------------------------

FIRST = (
    "Amina Carlos Elena Hiroshi Olga Rahul Fatima Pieter Sofia Kwame Ingrid Mateo Leila Dmitri Grace "
    "Tomasz Aisha Lucas Mei Jonas Priya Samuel Nadia Viktor Chloe Omar Hana Felipe Zanele Erik Yusuf "
    "Marta Kenji Isabel Tariq Anna Luis Sipho Katarzyna Rafael Noura Henrik Ji-woo Alejandro Zainab "
    "Pavel Claire Bilal Ayesha Stefan Lina Emeka Julia Hassan Elif Daniel Ngozi Andrei Camille"
).split()
LAST = (
    "Okafor Mendes Petrova Tanaka Kovalenko Sharma Haddad Visser Rossi Mensah Larsen Gutierrez "
    "Nasser Volkov Achterberg Nowak Bello Ferreira Zhang Becker Iyer Adeyemi Karimi Horvat Dubois "
    "Rahman Sato Alvarez Dlamini Lindqvist Demir Kowalczyk Nakamura Castillo Qureshi Schmidt Moreno "
    "Ndlovu Wisniewski Oliveira Hamdan Johansson Park Navarro Abubakar Muller Fontaine Siddiqui "
    "Fischer Hosseini Eze Novak Yilmaz Costa Kariuki Popescu Laurent"
).split()

# (country, demonym adjective, capital, two more cities)
COUNTRIES = (
    ("France", "French", "Paris", "Lyon", "Marseille"),
    ("Germany", "German", "Berlin", "Hamburg", "Munich"),
    ("Brazil", "Brazilian", "Brasilia", "Sao Paulo", "Recife"),
    ("India", "Indian", "New Delhi", "Mumbai", "Chennai"),
    ("Kenya", "Kenyan", "Nairobi", "Mombasa", "Kisumu"),
    ("Japan", "Japanese", "Tokyo", "Osaka", "Sapporo"),
    ("Poland", "Polish", "Warsaw", "Krakow", "Gdansk"),
    ("Nigeria", "Nigerian", "Abuja", "Lagos", "Kano"),
    ("Turkey", "Turkish", "Ankara", "Istanbul", "Izmir"),
    ("Mexico", "Mexican", "Mexico City", "Guadalajara", "Monterrey"),
    ("Indonesia", "Indonesian", "Jakarta", "Surabaya", "Medan"),
    ("South Africa", "South African", "Pretoria", "Johannesburg", "Durban"),
    ("Canada", "Canadian", "Ottawa", "Toronto", "Vancouver"),
    ("Egypt", "Egyptian", "Cairo", "Alexandria", "Giza"),
    ("Sweden", "Swedish", "Stockholm", "Gothenburg", "Malmo"),
    ("Argentina", "Argentine", "Buenos Aires", "Cordoba", "Rosario"),
    ("Vietnam", "Vietnamese", "Hanoi", "Ho Chi Minh City", "Da Nang"),
    ("Ukraine", "Ukrainian", "Kyiv", "Lviv", "Odesa"),
    ("Kazakhstan", "Kazakh", "Astana", "Almaty", "Shymkent"),
    ("Chile", "Chilean", "Santiago", "Valparaiso", "Concepcion"),
    ("Ghana", "Ghanaian", "Accra", "Kumasi", "Tamale"),
    ("Norway", "Norwegian", "Oslo", "Bergen", "Trondheim"),
    ("Pakistan", "Pakistani", "Islamabad", "Karachi", "Lahore"),
    ("Spain", "Spanish", "Madrid", "Barcelona", "Valencia"),
)
# International bodies that countries join (MEMBER_OF targets).
BLOCS = (
    "the United Nations",
    "NATO",
    "the European Union",
    "the African Union",
    "ASEAN",
    "BRICS",
    "the World Trade Organization",
    "the G20",
    "Mercosur",
    "the Shanghai Cooperation Organisation",
    "OPEC",
    "the Commonwealth",
)
# Organisations people lead (LEADER_OF targets besides countries).
ORGS = (
    "the World Health Organization",
    "the International Monetary Fund",
    "Reuters",
    "Amnesty International",
    "the Red Cross",
    "Siemens",
    "Petrobras",
    "Tata Group",
    "Safaricom",
    "Toyota",
    "the World Bank",
    "Human Rights Watch",
    "Greenpeace",
    "the International Energy Agency",
    "Médecins Sans Frontières",
    "the Central Bank",
    "the Electoral Commission",
    "the Finance Ministry",
    "the Supreme Court",
)
TITLES = ("President", "Prime Minister", "Foreign Minister", "Finance Minister", "Defence Minister")
ORG_TITLES = ("director-general", "chief executive", "head", "chair", "secretary-general")
MONTHS = "January February March April May June July August September October November December".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
TOPICS = (
    "trade",
    "energy security",
    "grain exports",
    "climate finance",
    "debt relief",
    "migration",
    "border security",
    "vaccine supply",
    "fishing rights",
    "a ceasefire",
    "rare-earth mining",
    "digital taxation",
    "water sharing",
    "nuclear safety",
    "food prices",
)
EVENTS = (
    "the Munich Security Conference",
    "the World Economic Forum",
    "the COP29 climate summit",
    "the G20 summit",
    "the UN General Assembly",
    "the Summit of the Americas",
)

# --- templates -------------------------------------------------------------------------------------
# [LABEL:name] is an entity slot filled from the vocabulary; {word} is plain text; the relations
# list says which slots a sentence links. Slot kinds: PERSON, LEADER (a person with a title),
# GPE (country), CITY, NORP, ORG, BLOC, DATE, DAY, CARDINAL, MONEY, EVENT, TOPIC (plain).

SENTENCES: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "{title} [PERSON:a] of [GPE:b] said on [DAY] that talks on {topic} would resume in [CITY:c].",
        (("a", "LEADER_OF", "b"),),
    ),
    (
        '[PERSON:a], the {orgtitle} of [ORG:b], told reporters in [CITY] that the plan was "realistic '
        'but fragile".',
        (("a", "LEADER_OF", "b"),),
    ),
    ("[PERSON:a] met [PERSON:b] in [CITY] on [DAYDATE] to discuss {topic}.", (("a", "MEETS_WITH", "b"),)),
    (
        "[GPE:a] joined [BLOC:b] in [DATE], bringing its membership to [FEW] members.",
        (("a", "MEMBER_OF", "b"),),
    ),
    (
        "[GPE:a], a founding member of [BLOC:b], has pushed for reform of the body since [DATE].",
        (("a", "MEMBER_OF", "b"),),
    ),
    ("The [NORP] government pledged [MONEY] towards {topic} over the next [FEW] years.", ()),
    ("Officials in [CITY] said [CARDINAL] people had been evacuated before the storm reached the coast.", ()),
    (
        '"We will not accept conditions that weaken our sovereignty," [PERSON] said in a televised '
        "address on [DAY].",
        (),
    ),
    ("Analysts at [ORG] expect growth in [GPE] to slow to [PCT] this year.", ()),
    ("The agreement, signed at [EVENT], covers {topic} and runs until [DATE].", ()),
    ("[PERSON], a spokesperson for [ORG], declined to comment on the [NORP] proposal.", ()),
    ("Protesters gathered outside parliament in [CITY] on [DAY], demanding an inquiry into {topic}.", ()),
    ("According to [ORG], more than [CARDINAL] refugees crossed into [GPE] in [DATE] alone.", ()),
    ("The delegation from [GPE] arrived in [CITY] late on [DAY] after talks in [CITY] stalled.", ()),
    ("[NORP] and [NORP] negotiators remain divided over {topic}, diplomats said.", ()),
    ("[ORG] said it would release [MONEY] in emergency funding for [GPE].", ()),
    ("Speaking at [EVENT], [PERSON] warned that {topic} could dominate the agenda for years.", ()),
    ("Markets in [CITY] fell by [PCT] on [DAY] as investors weighed the news.", ()),
    ("Critics, including [PERSON] of [ORG], said the measures did too little, too late.", ()),
    ("The ministry in [CITY] confirmed that [CARDINAL] soldiers had been sent to the border region.", ()),
    ("Earlier this year, [GPE] and [GPE] agreed to cooperate on {topic} and joint patrols.", ()),
    ("Turnout in the [NORP] election was [PCT], the highest since [DATE].", ()),
)
RELATION_SENTENCES = tuple(t for t in SENTENCES if t[1])
HEADLINES = (
    "[PERSON] and [PERSON] agree to restart talks on {topic}",
    "[GPE] weighs bid to join [BLOC] as pressure mounts",
    "[NORP] leaders meet in [CITY] amid row over {topic}",
    "[ORG] warns of slowdown as [GPE] struggles with {topic}",
    "Thousands protest in [CITY] over {topic}",
)

_SLOT = re.compile(r"\[([A-Z]+)(?::([a-z]))?\]|\{([a-z]+)\}")
# The recipe label each slot kind is annotated as.
LABEL_OF = {
    "PERSON": "PERSON",
    "GPE": "GPE",
    "CITY": "GPE",
    "NORP": "NORP",
    "ORG": "ORG",
    "BLOC": "ORG",
    "DATE": "DATE",
    "DAY": "DATE",
    "DAYDATE": "DATE",
    "CARDINAL": "CARDINAL",
    "PCT": "PERCENT",
    "FEW": "CARDINAL",
    "MONEY": "MONEY",
    "EVENT": "EVENT",
}


@dataclass
class Article:
    """One generated article with every entity it mentions and the relations its templates state."""

    doc_id: str
    text: str
    # (start, end, label)
    entities: list[tuple[int, int, str]] = field(default_factory=list)
    # (head entity index, tail entity index, type)
    relations: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def words(self) -> int:
        return len(self.text.split())


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[tuple[int, int, str]] = []

    def add(self, s: str, label: str | None = None) -> int:
        idx = -1
        if label is not None:
            idx = len(self.entities)
            self.entities.append((self.pos, self.pos + len(s), label))
        self.parts.append(s)
        self.pos += len(s)
        return idx


def _fill(rng: random.Random, kind: str) -> str:
    if kind == "PERSON":
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if kind == "GPE":
        return rng.choice(COUNTRIES)[0]
    if kind == "CITY":
        return rng.choice(COUNTRIES)[rng.choice((2, 3, 4))]
    if kind == "NORP":
        return rng.choice(COUNTRIES)[1]
    if kind == "ORG":
        return rng.choice(ORGS)
    if kind == "BLOC":
        return rng.choice(BLOCS)
    if kind == "DATE":  # after "in" / "since" / "until"
        return rng.choice((f"{rng.choice(MONTHS)} {rng.randint(1995, 2025)}", f"{rng.randint(1995, 2024)}"))
    if kind == "DAYDATE":  # after "on"
        return f"{rng.randint(1, 28)} {rng.choice(MONTHS)}"
    if kind == "DAY":
        return rng.choice(WEEKDAYS)
    if kind == "PCT":
        return f"{rng.randint(2, 40)} per cent"
    if kind == "FEW":
        return str(rng.randint(2, 12))
    if kind == "CARDINAL":
        return f"{rng.randint(120, 48000):,}"
    if kind == "MONEY":
        return f"${rng.randint(2, 900)} million"
    if kind == "EVENT":
        return rng.choice(EVENTS)
    raise KeyError(kind)


def _plain(rng: random.Random, word: str) -> str:
    if word == "title":
        return rng.choice(TITLES)
    if word == "orgtitle":
        return rng.choice(ORG_TITLES)
    if word == "topic":
        return rng.choice(TOPICS)
    raise KeyError(word)


def _render(
    rng: random.Random,
    w: _Writer,
    template: str,
    rels: tuple[tuple[str, str, str], ...],
    out_rels: list[tuple[int, int, str]],
) -> None:
    named: dict[str, int] = {}
    used: set[str] = set()
    i = 0
    for m in _SLOT.finditer(template):
        w.add(template[i : m.start()])
        kind, name, word = m.group(1), m.group(2), m.group(3)
        if word:
            w.add(_plain(rng, word))
        else:
            value = _fill(rng, kind)
            while value in used:  # no "Japan and Japan"
                value = _fill(rng, kind)
            used.add(value)
            # Keep "the" outside the span, as OntoNotes annotators do ("the [African Union]").
            if value.startswith("the "):
                prev = w.parts[-1] if w.parts else ""
                at_start = not prev or prev.endswith(("\n", ". ", '"'))
                w.add("The " if at_start else "the ")
                value = value[4:]
            idx = w.add(value, LABEL_OF[kind])
            if name:
                named[name] = idx
        i = m.end()
    w.add(template[i:])
    for head, typ, tail in rels:
        if head in named and tail in named:
            out_rels.append((named[head], named[tail], typ))


def generate(n: int, *, seed: int = 13, prefix: str = "bench") -> Iterator[Article]:
    """Yield ``n`` articles (about 350-550 words each): a headline, a blank line, then paragraphs."""
    for k in range(n):
        rng = random.Random(f"{seed}:{k}")
        w = _Writer()
        rels: list[tuple[int, int, str]] = []
        _render(rng, w, rng.choice(HEADLINES), (), rels)
        w.add("\n\n")
        n_par = rng.randint(5, 8)
        for p in range(n_par):
            for s in range(rng.randint(3, 4)):
                if s:
                    w.add(" ")
                # Each of the first two paragraphs opens with a sentence that states a relation,
                # so every article has at least two.
                pool = RELATION_SENTENCES if p < 2 and s == 0 else SENTENCES
                template, trels = rng.choice(pool)
                _render(rng, w, template, trels, rels)
            w.add("\n\n" if p < n_par - 1 else "\n")
        yield Article(doc_id=f"{prefix}-{k:06d}", text="".join(w.parts), entities=w.entities, relations=rels)


def to_task(article: Article, *, n_ents: int = 10, n_rels: int = 2) -> Record:
    """Return a task with ``n_rels`` relations and about ``n_ents`` entities (their endpoints first)."""
    chosen: list[int] = []
    rels = article.relations[:n_rels]
    for h, t, _ in rels:
        for i in (h, t):
            if i not in chosen:
                chosen.append(i)
    # Fill up to n_ents with entities spread evenly over the document.
    rest = [i for i in range(len(article.entities)) if i not in chosen]
    need = max(0, n_ents - len(chosen))
    if rest and need:
        step = max(1, len(rest) // need)
        chosen.extend(rest[::step][:need])
    chosen.sort()
    new_id = {old: new for new, old in enumerate(chosen)}
    spans = [
        Span(
            id=new_id[i],
            start=article.entities[i][0],
            end=article.entities[i][1],
            label=article.entities[i][2],
            source="model:bench",
        )
        for i in chosen
    ]
    relations = [
        Relation(id=j, head=new_id[h], tail=new_id[t], label=typ, source="rule:bench")
        for j, (h, t, typ) in enumerate(rels)
    ]
    return Record(
        text=article.text,
        doc_id=article.doc_id,
        doc_hash=text_hash(article.text),
        entities=spans,
        relations=relations,
        meta={"source": "bench"},
    )


def write_articles(path: Path, n: int, *, seed: int = 13) -> int:
    """Write ``n`` articles as JSONL (``doc_id``, ``text``). Returns the word count."""
    words = 0
    with path.open("w", encoding="utf-8") as f:
        for a in generate(n, seed=seed):
            words += a.words
            f.write(json.dumps({"doc_id": a.doc_id, "text": a.text}, ensure_ascii=False) + "\n")
    return words


def write_tasks(path: Path, n: int, *, seed: int = 13) -> None:
    """Write ``n`` pre-annotated tasks (our record JSONL, ~10 entities and 2 relations each)."""
    with path.open("w", encoding="utf-8") as f:
        for a in generate(n, seed=seed):
            f.write(json.dumps(to_task(a).to_dict(), ensure_ascii=False) + "\n")


def write_doccano_import(path: Path, n: int, *, seed: int = 13) -> None:
    """Write the same tasks in Doccano's relation import format: what a user would upload by hand.

    Every key on every line and ASCII-escaped JSON, the two traps in the import task.
    """
    with path.open("w", encoding="utf-8") as f:
        for a in generate(n, seed=seed):
            t = to_task(a)
            line = {
                "text": t.text,
                "doc_id": t.doc_id,
                "doc_hash": t.doc_hash,
                "entities": [
                    {"id": s.id, "start_offset": s.start, "end_offset": s.end, "label": s.label}
                    for s in t.entities
                ],
                "relations": [
                    {"id": r.id, "from_id": r.head, "to_id": r.tail, "type": r.label} for r in t.relations
                ],
            }
            f.write(json.dumps(line, ensure_ascii=True) + "\n")
