"""The understanding layer's data: word forms, concepts, negations, senses, compiled for matching.

Everything here is built from bot/flows/understanding.yaml (admins edit it; the loader checks it).
A pattern is a short sequence of terms, each one of:

    word      that word exactly (after normalising: lower case, no diacritics, no repeats)
    stem*     any word starting with `stem`
    stem+     `stem` followed by an Albanian inflection ending (thik+ : thike, thiken, thika)
    @name     any pattern of the concept `name`
    ...       up to three words of anything
    ^         the start of a clause;  $  its end (so "po $" is a "po" that ends what she wrote)

Concepts are named lists of patterns ("danger", "police", "kin"); senses say how a yes/no answer is
read for one kind of question ("danger_now", "safe_to_text", "consent").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.engine.normalise import fold

# English contractions, when typed with the apostrophe: "I'm" is "i am", "don't" is "do not".
CONTRACTIONS = (
    (re.compile(r"\bi['’]m\b"), "i am"),
    (re.compile(r"\bcan['’]t\b"), "can not"),
    (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\b(he|she|it|that|there|who|what)['’]s\b"), r"\1 is"),
    (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"['’]re\b"), " are"),
    (re.compile(r"['’]ll\b"), " will"),
    (re.compile(r"['’]ve\b"), " have"),
    (re.compile(r"\bno one\b"), "noone"),
)

GAP = "..."
GAP_MAX = 3
# Endings of Albanian nouns and verbs after the stem (folded, repeats collapsed): articles and
# cases (thik-a, thik-en, thik-es), plurals (-et, -ve), participles (-ur, Gheg -u/-ue), tenses.
ENDINGS = frozenset(
    ["", "a", "e", "i", "u", "n", "s", "t", "in", "it", "en", "es", "et", "ur", "ue", "te", "ja",
     "je", "ni", "im", "ve", "ne", "esh", "eve", "ut", "un", "ej", "jn", "ri", "rit", "ra", "on",
     "oi", "ote", "em", "het", "hem", "ti", "tin", "r"]
)  # fmt: skip


class LexiconError(ValueError):
    """A pattern or reference in the lexicon data is wrong; the message names it."""


@dataclass(frozen=True, slots=True)
class Term:
    """One position of a pattern."""

    kind: str  # "word" | "prefix" | "stem" | "concept" | "gap" | "start" | "end"
    value: str = ""


Pattern = tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Sense:
    """How a yes/no answer is read for one kind of question."""

    name: str
    yes: tuple[str, ...] = ()  # concept names whose hits mean yes
    no: tuple[str, ...] = ()
    unclear: tuple[str, ...] = ()
    subject: str | None = None  # a concept that, refused ("jo polici"), means no
    prefer: str | None = None  # "yes" or "no": what wins when one clause says both


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Compiled understanding data; empty by default (digits still read)."""

    concepts: Mapping[str, tuple[Pattern, ...]] = field(default_factory=dict)
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # Gheg/SMS -> standard
    senses: Mapping[str, Sense] = field(default_factory=dict)
    numbers: Mapping[str, int] = field(default_factory=dict)  # normalised phrase -> number
    whole_only: frozenset[str] = frozenset()  # words that answer only as the whole message
    skip: frozenset[str] = frozenset()  # clitics and auxiliaries a negation reaches across
    negation_scope: int = 3
    language_words: Mapping[str, frozenset[str]] = field(default_factory=dict)
    greetings: Mapping[str, str] = field(default_factory=dict)  # word -> language
    outside_places: frozenset[str] = frozenset()
    option_concepts: tuple[str, ...] = ()  # meanings an option's label can bring in

    def patterns(self, concept: str) -> tuple[Pattern, ...]:
        """The patterns of a concept (empty when the lexicon has no such concept)."""
        return self.concepts.get(concept, ())


def normalise_word(word: str) -> str:
    """A lexicon word reduced like a typed one: folded, repeats collapsed."""
    out: list[str] = []
    for ch in fold(word):
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


def parse_pattern(text: str, concepts: Iterable[str]) -> Pattern:
    """One pattern from its written form; LexiconError names what is wrong."""
    known = set(concepts)
    terms: list[Term] = []
    written = fold(str(text))
    for contraction, replacement in CONTRACTIONS:
        written = contraction.sub(replacement, written)
    words = written.replace("'", " ").replace("’", " ").split()
    if not words:
        raise LexiconError("an empty pattern")
    for raw in words:
        if raw in ("^", "$"):
            terms.append(Term("start" if raw == "^" else "end"))
        elif raw == GAP:
            if not terms:
                raise LexiconError(f"pattern {text!r} cannot start with ...")
            terms.append(Term("gap"))
        elif raw.startswith("@"):
            name = raw[1:]
            if name not in known:
                raise LexiconError(f"pattern {text!r}: no concept named {name!r}")
            terms.append(Term("concept", name))
        elif raw.endswith("*") and len(raw) > 1:
            stem = normalise_word(raw[:-1])
            if len(stem) < 3:
                raise LexiconError(f"pattern {text!r}: a stem* needs at least 3 letters")
            terms.append(Term("prefix", stem))
        elif raw.endswith("+") and len(raw) > 1:
            terms.append(Term("stem", normalise_word(raw[:-1])))
        else:
            word = normalise_word(raw)
            if not word.replace("_", "").isalnum():
                raise LexiconError(f"pattern {text!r}: {raw!r} is not a word")
            terms.append(Term("word", word))
    if terms[-1].kind == "gap":
        raise LexiconError(f"pattern {text!r} cannot end with ...")
    if all(t.kind in ("start", "end", "gap") for t in terms):
        raise LexiconError(f"pattern {text!r} has no word")
    return tuple(terms)


def build_lexicon(
    raw: Mapping[str, object],
    report: Callable[[tuple[str, ...], str], None] | None = None,
) -> Lexicon:
    """A Lexicon from understanding.yaml's parsed data; LexiconError names the first problem.

    `report`, when given, is called as report(key_path, message) for each problem instead of
    raising, so a loader can name the file line of every one.
    """

    def fail(path: tuple[str, ...], message: str) -> None:
        if report is None:
            raise LexiconError(f"{'.'.join(path)}: {message}")
        report(path, message)

    def words_of(path: tuple[str, ...], value: object) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            fail(path, "must be a list of words")
            return []
        if any(isinstance(v, bool) for v in value):
            fail(path, 'write yes, no, y, n, on and off in quotes ("yes"): YAML reads them as true')
            return []
        return [str(v) for v in value]

    def section(name: str) -> Mapping[object, object]:
        value = raw.get(name) or {}
        if not isinstance(value, Mapping):
            fail((name,), "must be a mapping")
            return {}
        return value

    concepts_raw = raw.get("concepts") or {}
    if not isinstance(concepts_raw, Mapping):
        fail(("concepts",), "must map concept names to lists of patterns")
        concepts_raw = {}
    names = [str(n) for n in concepts_raw]
    concepts: dict[str, tuple[Pattern, ...]] = {}
    for name, patterns in concepts_raw.items():
        out = []
        for i, text in enumerate(words_of(("concepts", str(name)), patterns)):
            try:
                out.append(parse_pattern(text, names))
            except LexiconError as exc:
                fail(("concepts", str(name), str(i)), str(exc))
        concepts[str(name)] = tuple(out)
    # A word alone under several names compares as a plain pattern too.
    variants: dict[str, tuple[str, ...]] = {}
    for word, standard in section("variants").items():
        forms = words_of(("variants", str(word)), standard)
        variants[normalise_word(str(word))] = tuple(normalise_word(w) for w in forms)
    senses: dict[str, Sense] = {}
    for name, body in section("senses").items():
        if not isinstance(body, Mapping):
            fail(("senses", str(name)), "must have yes, no, unclear or subject")
            continue
        # YAML 1.1 reads unquoted yes/no keys as booleans; here they are the words.
        body = {({True: "yes", False: "no"}.get(k, k) if isinstance(k, bool) else k): v
                for k, v in body.items()}  # fmt: skip
        parts: dict[str, tuple[str, ...]] = {}
        for part in ("yes", "no", "unclear"):
            listed = words_of(("senses", str(name), part), body.get(part) or [])
            for concept in listed:
                if concept not in concepts:
                    fail(("senses", str(name), part), f"no concept named {concept!r}")
            parts[part] = tuple(c for c in listed if c in concepts)
        unknown = set(body) - {"yes", "no", "unclear", "subject", "prefer"}
        if unknown:
            fail(("senses", str(name)), f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        subject = body.get("subject")
        if subject is not None and subject not in concepts:
            fail(("senses", str(name), "subject"), f"no concept named {subject!r}")
            subject = None
        prefer = body.get("prefer")
        if prefer not in (None, "yes", "no"):
            fail(("senses", str(name), "prefer"), 'is "yes" or "no"')
            prefer = None
        senses[str(name)] = Sense(str(name), subject=subject, prefer=prefer, **parts)
    if "generic" not in senses:
        fail(("senses",), "needs a 'generic' sense")
    numbers: dict[str, int] = {}
    for number, phrases in section("numbers").items():
        if not isinstance(number, int):
            fail(("numbers", str(number)), "keys are whole numbers")
            continue
        for phrase in words_of(("numbers", str(number)), phrases):
            key = " ".join(normalise_word(w) for w in phrase.split())
            if numbers.get(key, number) != number:
                fail(("numbers", str(number)), f"{phrase!r} already stands for {numbers[key]}")
            numbers[key] = number
    greetings: dict[str, str] = {}
    for language, phrases in section("greetings").items():
        for phrase in words_of(("greetings", str(language)), phrases):
            for word in phrase.split():
                greetings[normalise_word(word)] = str(language)
    language_words = {
        str(language): frozenset(normalise_word(w) for w in words_of(("language_words",), ws))
        for language, ws in section("language_words").items()
    }
    for option_concept in words_of(("option_concepts",), raw.get("option_concepts") or []):
        if option_concept not in concepts:
            fail(("option_concepts",), f"no concept named {option_concept!r}")
    scope = raw.get("negation_scope", 3)
    if not isinstance(scope, int) or not 1 <= scope <= 6:
        fail(("negation_scope",), "a whole number from 1 to 6")
        scope = 3
    return Lexicon(
        concepts=concepts,
        variants=variants,
        senses=senses,
        numbers=numbers,
        whole_only=frozenset(
            normalise_word(w) for w in words_of(("whole_only",), raw.get("whole_only") or [])
        ),
        skip=frozenset(normalise_word(w) for w in words_of(("skip",), raw.get("skip") or [])),
        negation_scope=scope,
        language_words=language_words,
        greetings=greetings,
        outside_places=frozenset(
            normalise_word(w)
            for w in words_of(("outside_places",), raw.get("outside_places") or [])
        ),
        option_concepts=tuple(
            c
            for c in words_of(("option_concepts",), raw.get("option_concepts") or [])
            if c in concepts
        ),
    )
