"""Reading what people type: words, negation scope, concepts, numbers, yes/no by question, language.

One layer for every router and for the global keywords. Pure: the standard library and the
lexicon's data (bot/flows/understanding.yaml); language identification by a library is injected
by the caller as a function (bot/language.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import Any, TypeVar, cast

from bot.engine.frozen import quick_init
from bot.engine.lexicon import CONTRACTIONS, ENDINGS, GAP_MAX, Lexicon, Pattern, Term
from bot.engine.normalise import fold

# Albanian clitics written with an apostrophe stick to the next word: s'eshte, m'ka, n'shpi, t'ia.
_CLITIC = re.compile(r"(?<!\w)([smtnkc])['’`´]\s*")
_APOSTROPHE = re.compile(r"['’`´]")
# Gheg "a'a" (the no said with a shake of the head); without the apostrophe it would fold to "a".
_GHEG_NO = re.compile(r"(?<!\w)a['’`´]a+(?!\w)")
_BOUNDARY = re.compile(r"[,.;:!?¿¡\n()\[\]]+|\s[-–—]+\s")
_WORD = re.compile(r"[^\W_]+")
_KEYCAP = re.compile(r"([0-9])\ufe0f?\u20e3")
# A time typed with its unit stuck on ("8pm", "10h", "5min"): the number and the unit.
_TIME_UNIT = re.compile(r"(?<=[0-9])(?=(?:am|pm|h|min|ore|ora)\b)", re.IGNORECASE)
_CYRILLIC = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "dj", "е": "e", "ж": "z",
        "з": "z", "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n",
        "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "c", "у": "u",
        "ф": "f", "х": "h", "ц": "c", "ч": "c", "џ": "dz", "ш": "s", "й": "j", "ы": "y",
    }
)  # fmt: skip
_HAS_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# The contractions that can match without an apostrophe ("no one"), in their order.
_NO_APOSTROPHE_CONTRACTIONS = tuple(
    (p, r) for p, r in CONTRACTIONS if not any(a in p.pattern for a in "'’`´")
)

NEGATION = "negation"  # concept names the layer itself relies on
NEGATION_ADJACENT = "negation_adjacent"
SUBJECT = "subject"
HYPOTHETICAL = "hypothetical"
BENIGN = "benign"
REFUSAL = "refusal"
CATCH_ALL = "catch_all"
POST_NEGATION = "post_negation"
CLITIC = "clitic"
PAST = "past"
RECENT = "recent"
HABITUAL = "habitual"
YEAR_BEFORE = "year_before"
FILLER = "filler"
BOUNDARY_WORDS = "boundary"
BOUNDARY_BEFORE = "boundary_before"
BOUNDARY_AFTER_NO = "boundary_after_no"
NOT_THAT = "not_that"
GLUED = "glued"
DANGER = "danger"
FROM = "from_place"
NORTH = "north"
CONTACT_MANNER = "contact_manner"

YES, NO, UNCLEAR = "yes", "no", "unclear"


@dataclass(slots=True)
class Text:
    """A message as words, each with the clause it stands in; concept hits cached."""

    words: tuple[str, ...]
    clauses: tuple[int, ...]
    cyrillic: bool = False
    buts: frozenset[int] = frozenset()  # clauses that begin with "por", "but": they correct
    # "jo se s'dua, po kam frikë" (not that I don't want to, but I'm afraid): a negated refusal
    # answered by a "but" is a hedge, neither yes nor no.
    hedged: bool = False
    _hits: dict[str, list[Hit]] = field(default_factory=dict)
    # Where a concept's patterns end from word i at a depth: the same concept inside many
    # patterns ("@kin ... rreh+", "@kin ... vras+") is matched once per position.
    _spans: dict[tuple[str, int, int], frozenset[int]] = field(default_factory=dict)
    # Its words and their first letters as sets, made at the first look-up: a concept none of
    # whose patterns can start at any of them is not looked for word by word.
    _keys: tuple[frozenset[str], frozenset[str]] | None = None

    def __len__(self) -> int:
        return len(self.words)

    def start_keys(self) -> tuple[frozenset[str], frozenset[str]]:
        """The set of its words and the set of their first PREFIX_KEY letters."""
        keys = self._keys
        if keys is None:
            keys = self._keys = (
                frozenset(self.words),
                frozenset(w[:PREFIX_KEY] for w in self.words),
            )
        return keys


@quick_init  # built for every match: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Hit:
    """A concept found in a text: the words [start, end)."""

    start: int
    end: int


# A run of one character, and the character: a word with its repeats collapsed ("jooo" -> "jo")
# is _REPEAT.sub(itemgetter(1), word), all in C (the loop over its letters it replaced was ~14
# bytecodes a word, and a regex template ("\1") would run re's Python template code instead).
_REPEAT = re.compile(r"(.)\1+", re.DOTALL)
_collapse: Callable[[str], str] = partial(_REPEAT.sub, itemgetter(1))


def typed_lengths(text: str) -> dict[str, int]:
    """Each word of a text as compared (folded, repeats collapsed) -> its length as typed:
    "durrs" is "durs", five letters typed."""
    return {_collapse(w): len(w) for w in _WORD.findall(_APOSTROPHE.sub("", fold(text)))}


def analyse(text: str, lexicon: Lexicon) -> Text:
    """Split a message into normalised words and clauses, Gheg and SMS forms made standard."""
    if text.isascii() and (text.isalpha() or text.isdigit()):
        # One word of ASCII letters or of digits (most answers: "po", "Jo", "2"): no keycap,
        # time unit, Cyrillic, apostrophe, boundary or second word, so of the reading below
        # only its case, repeats, gluing and standard form apply (~290 bytecodes fewer; a
        # message of bench/instructions.py 1,881,190 -> 1,853,141 instructions, -1.5 %).
        word = _collapse(text.lower())
        if len(_unglue(word, lexicon)) == 1:  # else glued words ("pomvret"): read below
            if word in _index(lexicon).single[BOUNDARY_WORDS]:
                return Text((), ())
            words = lexicon.variants.get(word, (word,))
            return Text(words, (0,) * len(words))
    return _analysed(text, lexicon)


def _analysed(text: str, lexicon: Lexicon) -> Text:
    """analyse's reading of any text."""
    if "\u20e3" in text:  # a keycap ("2️⃣"); a template's sub costs re._subx even unmatched
        text = _KEYCAP.sub(r" \1 ", text)
    folded = fold(_TIME_UNIT.sub(" ", text))
    cyrillic = bool(_HAS_CYRILLIC.search(folded))
    if cyrillic:
        folded = folded.translate(_CYRILLIC)
    # Every contraction but the last, and every clitic, needs an apostrophe: most messages have
    # none, and then those expressions are not run at all (the result is the same).
    apostrophe = _APOSTROPHE.search(folded) is not None
    for pattern, replacement in CONTRACTIONS if apostrophe else _NO_APOSTROPHE_CONTRACTIONS:
        folded = pattern.sub(replacement, folded)
    if apostrophe:
        folded = _APOSTROPHE.sub("", _CLITIC.sub(r"\1 ", _GHEG_NO.sub("jo", folded)))
    words: list[str] = []
    clauses: list[int] = []
    index = _index(lexicon)
    single = index.single
    boundary_words = single[BOUNDARY_WORDS]
    before = index.boundary_before
    after_no = single[BOUNDARY_AFTER_NO]
    variants = lexicon.variants
    clause = 0
    buts: set[int] = set()
    hedged = False
    parts = _BOUNDARY.split(folded)
    short = len(folded.split()) <= UNGLUE_MAX_WORDS
    for n, part in enumerate(parts):
        found = False
        raws = _WORD.findall(part)
        if short:  # words run together ("pomvret", "burrimerreh"): a short message, typed fast
            raws = [piece for raw in raws for piece in _unglue(_collapse(raw), lexicon)]
        if _not_that(raws, parts[n + 1 :], lexicon, index.clause_breaks):
            negations = single[NEGATION]
            if any(
                v in negations
                for raw in raws[2:4]
                for v in variants.get(_collapse(raw), (_collapse(raw),))
            ):
                hedged = True  # "jo se s'dua, po…": not that I don't want to, but…
            raws = ["nuk", *raws[2:]]  # "jo se më rreh, po…": not that he beats me, but…
        for k, raw in enumerate(raws):
            word = _collapse(raw)
            # "po" that opens a clause after one that says no is "but", not yes: "s'jam ne
            # rrezik, po dua te flas me dike" (not in danger, but I want to talk to someone).
            # ("po tash" keeps its own reading: "jo. po tash po bertet prap" is a yes.)
            if (
                k == 0
                and word in after_no
                and len(raws) > 1
                and variants.get(_collapse(raws[1]), (_collapse(raws[1]),))[0]
                not in before.get(word, ())
                and words
                and clauses[-1] == clause - 1
                and any(
                    w in index.refusing
                    for w, c in zip(reversed(words), reversed(clauses), strict=True)
                    if c == clause - 1
                )
            ):
                buts.add(clause)
                continue
            # "po" inside a clause and before "tash", "sot" is "but" ("me kercenoi para 2
            # vjetesh po tash jetojme ndaras"); at its start it is yes or the progressive.
            if (
                word in before
                and found
                and k + 1 < len(raws)
                and variants.get(_collapse(raws[k + 1]), (_collapse(raws[k + 1]),))[0]
                in before[word]
            ):
                clause += 1
                buts.add(clause)
                continue
            if word in boundary_words:
                if words:
                    clause += 1 if clauses and clauses[-1] == clause else 0
                    buts.add(clause)
                continue
            for standard in variants.get(word, (word,)):
                words.append(standard)
                clauses.append(clause)
                found = True
        if found:
            clause += 1
    return Text(tuple(words), tuple(clauses), cyrillic, frozenset(buts), hedged)


T = TypeVar("T")
_DERIVED: dict[tuple[int, Hashable], tuple[object, Any]] = {}


def derived(owner: object, key: Hashable, build: Callable[[], T]) -> T:
    """`build()`, made once per `owner` (a lexicon, a list of places) and `key`; the owner is
    kept beside it, so a new object given a freed one's id never gets the old one's value."""
    cached = _DERIVED.get((id(owner), key))
    if cached is not None and cached[0] is owner:
        return cast(T, cached[1])
    if len(_DERIVED) > 512:
        _DERIVED.clear()
    value = build()
    _DERIVED[(id(owner), key)] = (owner, value)
    return value


def _boundary_before(lexicon: Lexicon) -> dict[str, frozenset[str]]:
    """The two-word patterns of `boundary_before` as first word -> the words after it that make
    it a boundary (made with the lexicon's _Index)."""
    pairs: dict[str, set[str]] = {}
    for p in lexicon.patterns(BOUNDARY_BEFORE):
        if len(p) == 2 and p[0].kind == "word" and p[1].kind == "word":
            pairs.setdefault(p[0].value, set()).add(p[1].value)
    return {first: frozenset(after) for first, after in pairs.items()}


UNGLUE_MAX_WORDS = 5  # words run together are looked for in messages this short only


def _vocabulary(lexicon: Lexicon) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Every word the lexicon knows, and the stem of every stem+ (with "+" after it) and stem*
    (with "*"); the words, stems and prefixes that alone are danger; once per lexicon."""
    return derived(lexicon, "vocabulary", lambda: _vocabulary_of(lexicon))


def _vocabulary_of(lexicon: Lexicon) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """_vocabulary's value, made."""
    words = {t.value for ps in lexicon.concepts.values() for p in ps for t in p if t.kind == "word"}
    words |= set(lexicon.variants) | {w for ws in lexicon.variants.values() for w in ws}
    words |= {w for vocab in lexicon.language_words.values() for w in vocab}
    words |= {w for phrase in lexicon.numbers for w in phrase.split()}
    words |= {
        t.value + ("+" if t.kind == "stem" else "*")
        for ps in lexicon.concepts.values()
        for p in ps
        for t in p
        if t.kind in ("stem", "prefix")
    }
    kinds: dict[str, set[str]] = {"word": set(), "stem": set(), "prefix": set()}
    todo, seen = [DANGER], {DANGER}
    while todo:
        for p in lexicon.patterns(todo.pop()):
            if len(p) == 1 and p[0].kind in kinds:  # danger by itself: "vret", "rreh+"
                kinds[p[0].kind].add(p[0].value)
            for term in p:
                if term.kind == "concept" and term.value not in seen:
                    seen.add(term.value)
                    todo.append(term.value)
    verbs = frozenset(kinds["word"] | {s + "\0" for s in kinds["stem"]})
    return frozenset(words), verbs, frozenset(kinds["prefix"])


@dataclass(frozen=True, slots=True)
class _Glued:
    """_vocabulary as _unglue asks it, in sets: a piece is known (danger) when it is a word, a
    stem with an ending (a member of `forms`), or starts with a prefix of three letters or
    more; the set look-ups replace a Python loop over the piece's lengths (~20 bytecodes a
    length, the pieces of every long word of a short message)."""

    words: frozenset[str]
    known_forms: frozenset[str]  # a stem+ of three letters or more with each of the ENDINGS
    known_prefixes: frozenset[str]  # a stem* of three letters or more
    verbs: frozenset[str]
    danger_forms: frozenset[str]
    danger_prefixes: frozenset[str]
    glue: frozenset[str]
    clitics: frozenset[str]
    # The first three letters of every piece `danger` accepts (three letters or more): a word
    # none of whose letter triples after its first letter is one has no last piece to split
    # off, and is not tried piece by piece (~550 bytecodes of "pershendetje", a first message).
    danger_heads: frozenset[str]


def _glued(lexicon: Lexicon) -> _Glued:
    """The lexicon's _Glued, once."""

    def build() -> _Glued:
        words, verbs, prefixes = _vocabulary(lexicon)

        def forms(stems: Iterable[str]) -> frozenset[str]:
            return frozenset(s + e for s in stems if len(s) >= 3 for e in ENDINGS)

        danger_forms = forms(v[:-1] for v in verbs if v.endswith("\0"))
        danger_prefixes = frozenset(p for p in prefixes if len(p) >= 3)
        return _Glued(
            words,
            forms(w[:-1] for w in words if w.endswith("+")),
            frozenset(w[:-1] for w in words if w.endswith("*") and len(w) > 3),
            verbs,
            danger_forms,
            danger_prefixes,
            _single_words(lexicon, GLUED),
            _single_words(lexicon, CLITIC),
            frozenset(w[:3] for w in (*verbs, *danger_forms, *danger_prefixes) if len(w) >= 3),
        )

    return derived(lexicon, "glued", build)


def _triples(word: str) -> Iterator[str]:
    """The word's letter triples after its first letter: word[1:4], word[2:5]… (in C)."""
    return map(word.__getitem__, map(slice, range(1, len(word) - 2), range(4, len(word) + 1)))


def _heads(piece: str) -> Iterator[str]:
    """The piece's first 3, 4… letters up to the whole piece (in C: slices mapped)."""
    return map(piece.__getitem__, map(slice, range(3, len(piece) + 1)))


def _unglue(word: str, lexicon: Lexicon) -> list[str]:
    """A word the lexicon does not know, as words it knows run into a clitic or particle and
    the verb after it: "pomvret" is "po m vret", "burimereh" (burrimerreh) "buri me reh"; any
    other word as it is ("armend" is a name, not "arm end"; "struga" not "s t ruga"). The last
    piece is a word of danger, of four letters or more unless a clitic is before it; before
    it come words of `glued` (clitics, "po"), and first perhaps one whole word of four letters
    or more."""
    if len(word) < 5 or word.isdigit():
        return [word]
    vocabulary = _glued(lexicon)
    if word in vocabulary.words or vocabulary.danger_heads.isdisjoint(_triples(word)):
        return [word]  # known, or no piece after its first letter can be one of danger

    def danger(piece: str) -> bool:  # a word of danger, or one of its stems with an ending
        return (
            piece in vocabulary.verbs
            or piece in vocabulary.danger_forms
            or not vocabulary.danger_prefixes.isdisjoint(_heads(piece))
        )

    def known(piece: str) -> bool:  # a word of the lexicon, or a stem of it with an ending
        return (
            piece in vocabulary.words
            or piece in vocabulary.known_forms
            or not vocabulary.known_prefixes.isdisjoint(_heads(piece))
        )

    def split(rest: str, pieces: int, after: str) -> list[str] | None:
        if after in glue and len(rest) >= (3 if after in clitics else 4) and danger(rest):
            return [rest]
        if pieces == 1:
            return None
        for k in range(len(rest) - 3, 0, -1):  # the longest first word first
            head = rest[:k]
            is_glue = head in glue
            if is_glue or (pieces == 3 and k >= 4 and known(head)):
                tail = split(rest[k:], pieces - 1, head if is_glue else "")
                if tail is not None:
                    return [head, *tail]
        return None

    if known(word):
        return [word]
    glue, clitics = vocabulary.glue, vocabulary.clitics
    return split(word, 3, "") or [word]


def _not_that(raws: list[str], later: list[str], lexicon: Lexicon, buts: frozenset[str]) -> bool:
    """A clause that opens with a pair of `not_that` ("jo se") and is answered by a "but" ("po",
    "por") later: "jo se më rreh, po më kontrollon" negates what follows the pair, as "nuk"."""
    if len(raws) < 3:
        return False
    phrases = _phrases(lexicon, NOT_THAT)
    if raws[0][:1] not in phrases.initials or (
        f"{_collapse(raws[0])} {_collapse(raws[1])}" not in phrases
    ):
        return False
    rest = [_collapse(w) for w in raws[2:]]
    firsts = [_collapse(w[0]) for w in map(_WORD.findall, later) if w]
    return any(w in buts for w in rest) or any(w in buts for w in firsts)


class _Phrases(frozenset[str]):
    """Phrases, and the first letters they begin with (a quick no for most words)."""

    initials: frozenset[str]


def _phrases(lexicon: Lexicon, concept: str) -> _Phrases:
    """The patterns of a concept made of plain words only, each as its words joined by spaces."""

    def build() -> _Phrases:
        phrases = _Phrases(
            " ".join(t.value for t in p)
            for p in lexicon.patterns(concept)
            if all(t.kind == "word" for t in p)
        )
        phrases.initials = frozenset(p[:1] for p in phrases)
        return phrases

    return derived(lexicon, ("phrases", concept), build)


def _single_words(lexicon: Lexicon, concept: str) -> frozenset[str]:
    """The one-word patterns of a concept (negations, clitics…), computed once per lexicon."""
    return _index(lexicon).single[concept]


class _Singles(dict[str, frozenset[str]]):
    """Concept -> its one-word patterns; a concept the lexicon lacks has none."""

    def __missing__(self, concept: str) -> frozenset[str]:
        return _NO_WORDS


_NO_WORDS: frozenset[str] = frozenset()


# -- matching -----------------------------------------------------------------------------------


class _Index:
    """Each concept's patterns filed under the words they can start with, so a position tries
    only the patterns its word can begin (a few of the hundreds a concept has)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.exact: dict[str, dict[str, list[Pattern]]] = {}
        self.prefix: dict[str, dict[str, list[Pattern]]] = {}
        self.anywhere: dict[str, list[Pattern]] = {}
        # The same, of the patterns one word can match, for the last word of a clause: a
        # pattern of two words or more cannot match there (most answers are one word).
        self.prefix_last: dict[str, dict[str, list[Pattern]]] = {}
        self.anywhere_last: dict[str, list[Pattern]] = {}
        self._keys: dict[str, frozenset[tuple[str, str]]] = {}
        # exact, with the patterns whose second word is a plain word filed under it too: the
        # Albanian "me" begins over a hundred danger phrases ("me rreh", "me kercenon"...).
        # Each first word's group also holds its patterns one word can match (see prefix_last).
        self.split: dict[str, dict[str, _Group]] = {}
        self.start_keys: dict[str, tuple[frozenset[str], frozenset[str]] | None] = {}
        for concept, patterns in lexicon.concepts.items():
            exact: dict[str, list[Pattern]] = {}
            prefix: dict[str, list[Pattern]] = {}
            anywhere: list[Pattern] = []
            for pattern in patterns:
                for kind, key in self._first(pattern, set()):
                    if kind == "w":
                        exact.setdefault(key, []).append(pattern)
                    elif kind == "p":
                        prefix.setdefault(key, []).append(pattern)
                    else:
                        anywhere.append(pattern)
            self.exact[concept], self.prefix[concept] = exact, prefix
            self.anywhere[concept] = list(dict.fromkeys(anywhere))
            self.split[concept] = {word: _by_next(listed) for word, listed in exact.items()}
            self.prefix_last[concept] = _one_word(prefix)
            self.anywhere_last[concept] = _single(self.anywhere[concept])
            # The words and first letters the concept's patterns can start at; None when one
            # of them can start anywhere.
            self.start_keys[concept] = None if anywhere else (frozenset(exact), frozenset(prefix))
        # Every concept's one-word patterns (negations, clitics…), and the unions the readings
        # use: a subscript where a reading called _single_words (~23 bytecodes, 10 a message)
        # and built the union anew each time.
        self.single = _Singles(
            (
                concept,
                frozenset(p[0].value for p in patterns if len(p) == 1 and p[0].kind == "word"),
            )
            for concept, patterns in lexicon.concepts.items()
        )
        single = self.single
        self.negating = single[NEGATION] | single[NEGATION_ADJACENT]
        self.refusing = single[REFUSAL] | single[NEGATION]
        self.refusing_adjacent = single[REFUSAL] | single[NEGATION_ADJACENT]
        self.clause_breaks = single[BOUNDARY_WORDS] | single[BOUNDARY_AFTER_NO]
        self.boundary_before = _boundary_before(lexicon)
        # A message of one word (most answers: "po", "jo", "2") is matched by a table per
        # concept, made at its first look-up for every plain word of the lexicon at once (so
        # what it holds says nothing of what anyone wrote); other words are matched as always.
        words, _, _ = _vocabulary(lexicon)
        self.alone_words = frozenset(w for w in words if not w.endswith(("+", "*")))
        self._alone: dict[str, dict[str, tuple[Hit, ...]]] = {}
        self._yes_no: dict[str | None, dict[str, str]] = {}

    def alone(self, concept: str) -> dict[str, tuple[Hit, ...]]:
        """Each word of `alone_words` that the concept matches as a message of its own -> the
        hits, made once."""
        table = self._alone.get(concept)
        if table is None:
            table = {}
            for word in sorted(self.alone_words):
                hits = _found(Text((word,), (0,)), concept, self)
                if hits:
                    table[word] = tuple(hits)
            self._alone[concept] = table
        return table

    def yes_no_alone(self, sense_name: str | None) -> dict[str, str]:
        """Each word of `alone_words` -> read_yes_no's reading of it as a message of its own
        for the sense, where it reads one; made once per sense. Only a word some concept the
        reading looks for matches alone, or a number, reads anything: the others read None
        (all its look-ups find nothing), so only those are read here (the table says nothing
        of what anyone wrote)."""
        table = self._yes_no.get(sense_name)
        if table is None:
            senses = self.lexicon.senses
            layers = [s for s in (senses.get(sense_name or "generic"), senses.get("generic")) if s]
            concepts = {FILLER, CONTACT_MANNER} | {
                c for s in layers for c in (*s.yes, *s.no, *s.unclear, s.subject) if c
            }
            words = {w for w in self.alone_words if w.isdigit() or w in self.lexicon.numbers}
            words |= {w for c in concepts for w in self.alone(c)}
            table = {}
            for word in sorted(words):
                reading = _read_yes_no(Text((word,), (0,)), self.lexicon, sense_name)
                if reading is not None:
                    table[word] = reading
            self._yes_no[sense_name] = table
        return table

    def _first(self, pattern: Pattern, visiting: set[str]) -> frozenset[tuple[str, str]]:
        """The keys of the words a pattern can start with: ("w", word), ("p", 3 letters), or
        ("*", "") for any word."""
        for term in pattern:
            if term.kind in ("start", "end"):
                continue
            if term.kind == "word":
                return frozenset({("w", term.value)})
            if term.kind in ("prefix", "stem") and len(term.value) >= PREFIX_KEY:
                return frozenset({("p", term.value[:PREFIX_KEY])})
            if term.kind == "stem":
                # A shorter stem+ ("vu+ duar") starts only its forms, the stem with one of the
                # ENDINGS: filed under their first letters, not tried at every word of every
                # message (danger_sq's was, ~150 bytecodes a message of the bench).
                return frozenset(("p", (term.value + end)[:PREFIX_KEY]) for end in ENDINGS)
            if term.kind == "concept" and term.value not in visiting:
                cached = self._keys.get(term.value)
                if cached is None:
                    keys: set[tuple[str, str]] = set()
                    for sub in self.lexicon.patterns(term.value):
                        keys |= self._first(sub, visiting | {term.value})
                    cached = self._keys[term.value] = frozenset(keys)
                return cached
            return frozenset({("*", "")})
        return frozenset({("*", "")})

    def candidates(self, concept: str, text: Text, i: int) -> list[Pattern]:
        """The patterns of `concept` that may start at word i of `text` (never modified)."""
        split = self.split.get(concept)
        if split is None:
            return list(self.lexicon.patterns(concept))
        words, clauses = text.words, text.clauses
        word = words[i]
        found: list[Pattern] = []
        group = split.get(word)
        if i + 1 < len(words) and clauses[i + 1] == clauses[i]:  # the clause goes on
            if group is not None:
                found, by_next, _ = group
                # The next word: what a pattern's second word must be.
                if by_next:
                    more_found = by_next.get(words[i + 1])
                    if more_found:
                        found = found + more_found
            more = self.prefix[concept].get(word[:PREFIX_KEY], [])
            anywhere = self.anywhere[concept]
        else:  # word i ends its clause: only a pattern of one word can match from it
            if group is not None:
                found = group[2]
            more = self.prefix_last[concept].get(word[:PREFIX_KEY], [])
            anywhere = self.anywhere_last[concept]
        if more or anywhere:
            return [*found, *more, *anywhere]
        return found


PREFIX_KEY = 3


# Patterns filed under one first word: those whose next term is not a plain word, the others
# under that word, and of the first those one word can match.
_Group = tuple[list[Pattern], dict[str, list[Pattern]], list[Pattern]]
# The terms that take a word each (a concept's match takes one or more): a pattern with more
# of them than words are left in the clause cannot match there.
_TAKES_A_WORD = frozenset({"word", "stem", "prefix", "concept"})


def _single(patterns: list[Pattern]) -> list[Pattern]:
    """The patterns one word can match: those with at most one term that takes a word."""
    return [p for p in patterns if sum(t.kind in _TAKES_A_WORD for t in p) <= 1]


def _one_word(filed: dict[str, list[Pattern]]) -> dict[str, list[Pattern]]:
    """`filed` with only the patterns one word can match, keys left with none dropped."""
    return {key: single for key, listed in filed.items() if (single := _single(listed))}


def _by_next(patterns: list[Pattern]) -> _Group:
    """Patterns filed under one first word, split: those whose next term is not a plain word,
    and the others under that word (they can match only where it follows); and of the first,
    those one word can match (the others take two words or more, as all of the second do)."""
    rest: list[Pattern] = []
    by_next: dict[str, list[Pattern]] = {}
    for pattern in patterns:
        k = next(j for j, t in enumerate(pattern) if t.kind not in ("start", "end"))
        first, second = pattern[k], pattern[k + 1] if k + 1 < len(pattern) else None
        if first.kind == "word" and second is not None and second.kind == "word":
            by_next.setdefault(second.value, []).append(pattern)
        else:
            rest.append(pattern)
    return rest, by_next, _single(rest)


_INDEXES: dict[int, tuple[Lexicon, _Index]] = {}
# The last index asked for: one lexicon reads nearly every message (tens of look-ups each).
# It always holds one (at first an empty lexicon's, which no caller has), so the look-up
# needs no test of its own.
_LAST_INDEX: list[_Index] = [_Index(Lexicon())]


def _index(lexicon: Lexicon) -> _Index:
    """The lexicon's _Index, made once."""
    index = _LAST_INDEX[0]
    if index.lexicon is lexicon:
        return index
    cached = _INDEXES.get(id(lexicon))
    if cached is not None and cached[0] is lexicon:
        index = cached[1]
    else:
        if len(_INDEXES) > 16:
            _INDEXES.clear()
        index = _Index(lexicon)
        _INDEXES[id(lexicon)] = (lexicon, index)
    _LAST_INDEX[:] = [index]
    return index


def warm_up(lexicon: Lexicon) -> None:
    """Build now the tables reading with `lexicon` builds at first use (yes/no of one-word
    answers for every sense): at start-up, not during someone's first message."""
    index = _index(lexicon)
    for name in (None, *lexicon.senses):
        index.yes_no_alone(name)


_NO_ENDS: frozenset[int] = frozenset()


def _ends(
    text: Text, pattern: Pattern, k: int, i: int, clause: int, lexicon: Lexicon, depth: int
) -> AbstractSet[int]:
    """Where `pattern[k:]` can end when it goes on at word i, inside one clause.

    Word terms are walked in a loop (most patterns are only words); a gap or a concept
    branches by recursion. The result is never modified by callers."""
    words, clauses = text.words, text.clauses
    n = len(words)
    while k < len(pattern):
        term = pattern[k]
        kind = term.kind
        if kind == "start":
            if i != 0 and clauses[i - 1] == clause:
                return _NO_ENDS
            k += 1
            continue
        if kind == "end":
            if i != n and clauses[i] == clause:
                return _NO_ENDS
            k += 1
            continue
        if kind == "gap":
            out: set[int] = set()
            for j in range(i, min(i + GAP_MAX, n) + 1):
                if j > i and clauses[j - 1] != clause:
                    break
                out |= _ends(text, pattern, k + 1, j, clause, lexicon, depth)
            return out
        if i >= n or clauses[i] != clause:
            return _NO_ENDS
        if kind == "concept":
            if depth > 6:
                return _NO_ENDS
            out = set()
            for end in _concept_ends(text, term.value, i, clause, lexicon, depth):
                out |= _ends(text, pattern, k + 1, end, clause, lexicon, depth)
            return out
        # word, stem* or stem+ (an inflection ending after the stem): the innermost loop.
        word, value = words[i], term.value
        if kind == "word":
            if word != value:
                return _NO_ENDS
        elif not word.startswith(value) or (kind == "stem" and word[len(value) :] not in ENDINGS):
            return _NO_ENDS
        k += 1
        i += 1
    return {i}


def _concept_ends(
    text: Text, concept: str, i: int, clause: int, lexicon: Lexicon, depth: int
) -> frozenset[int]:
    """Where one of a concept's patterns, started at word i, ends after it (memoised on the
    text: `clause` is always word i's own, so the position and depth decide the answer)."""
    key = (concept, i, depth)
    cached = text._spans.get(key)
    if cached is None:
        ends: set[int] = set()
        for sub in _index(lexicon).candidates(concept, text, i):
            ends |= _ends(text, sub, 0, i, clause, lexicon, depth + 1)
        cached = text._spans[key] = frozenset(e for e in ends if e > i)
    return cached


def _longest(text: Text, patterns: Iterable[Pattern], i: int, lexicon: Lexicon) -> int:
    best = -1
    clause = text.clauses[i]
    for pattern in patterns:
        ends = _ends(text, pattern, 0, i, clause, lexicon, 0)
        if ends:
            best = max(best, max(ends))
    return best


def find(text: Text, concept: str, lexicon: Lexicon) -> list[Hit]:
    """Every place a concept's patterns match, the longest at each start."""
    cached = text._hits.get(concept)
    if cached is not None:
        # A new list of the same hits (frozen: shared safely), not new hits: made anew each
        # call they were ~14 bytecodes a hit.
        return cached.copy()
    index = _LAST_INDEX[0]  # _index(lexicon), its common case inlined (~6 calls a message)
    if index.lexicon is not lexicon:
        index = _index(lexicon)
    words = text.words
    if len(words) == 1 and words[0] in index.alone_words:
        table = index.alone(concept)
        found = list(table.get(words[0], ()))  # the same hits (see _Index)
    else:
        found = _found(text, concept, index)
    text._hits[concept] = found
    return found.copy()


def _found(text: Text, concept: str, index: _Index) -> list[Hit]:
    """find's hits, matched word by word."""
    found: list[Hit] = []
    keys = index.start_keys.get(concept)
    if keys is not None:
        words, prefixes = text._keys or text.start_keys()
        if words.isdisjoint(keys[0]) and prefixes.isdisjoint(keys[1]):
            return found  # none of its patterns can start here
    lexicon = index.lexicon
    for i in range(len(text.words)):
        candidates = index.candidates(concept, text, i)
        if not candidates:
            continue  # most words start none of a concept's patterns
        best = _longest(text, candidates, i, lexicon)
        if best > i:
            found.append(Hit(i, best))
    return found


class _Starts:
    """A list of patterns (a keyword's, an option's) filed under the words they can start with,
    as _Index files a concept's: a position tries only the patterns its word can begin. A
    pattern that starts with a concept keeps that concept's keys (shared, built once per
    lexicon) rather than being filed under each of them: an option's meanings are filed anew
    for every menu read."""

    def __init__(self, patterns: Sequence[Pattern], index: _Index) -> None:
        self.patterns = patterns
        self.lexicon = index.lexicon
        self.exact: dict[str, list[Pattern]] = {}
        self.prefix: dict[str, list[Pattern]] = {}
        self.anywhere: list[Pattern] = []
        # A pattern starting with a concept is filed under each of the concept's keys here, for
        # this list only (the concept's keys stay shared): a word then finds its patterns in two
        # look-ups instead of a test of every such pattern's keys (the danger keyword's one
        # pattern has hundreds of keys, tried at every word of every message).
        for pattern in patterns:
            keys = index._first(pattern, set())
            if _ANY in keys:
                self.anywhere.append(pattern)
                continue
            for kind, key in keys:
                (self.exact if kind == "w" else self.prefix).setdefault(key, []).append(pattern)
        # Each pattern once a word: one filed under a word and under that word's first letters
        # is left under the letters only (callers take the longest match: order does not count).
        for word, listed in self.exact.items():
            also = self.prefix.get(word[:PREFIX_KEY])
            if also:
                listed[:] = [p for p in listed if not any(p is q for q in also)]
        # The words and first letters some pattern starts at: a text none of whose words is
        # one (most messages, for most lists) is not walked word by word.
        self.words = frozenset(word for word, listed in self.exact.items() if listed)
        self.prefixes = frozenset(self.prefix)
        # Those one word can match, for the last word of a clause (as _Index.prefix_last).
        self.exact_last = _one_word(self.exact)
        self.prefix_last = _one_word(self.prefix)
        self.anywhere_last = _single(self.anywhere)

    def may_start(self, text: Text) -> bool:
        """False when none of the patterns can start at any word of `text` (then none matches)."""
        if self.anywhere:
            return True
        words, prefixes = text._keys or text.start_keys()
        return not (self.words.isdisjoint(words) and self.prefixes.isdisjoint(prefixes))

    def candidates(self, word: str, last: bool = False) -> Sequence[Pattern]:
        """The patterns that may start at `word`, each once, in no particular order; `last`:
        the word ends its clause, and only the patterns one word can match are given."""
        if last:
            exact = self.exact_last.get(word)
            prefix = self.prefix_last.get(word[:PREFIX_KEY])
            anywhere = self.anywhere_last
        else:
            exact = self.exact.get(word)
            prefix = self.prefix.get(word[:PREFIX_KEY])
            anywhere = self.anywhere
        if prefix is None and not anywhere:
            return exact or ()  # nearly always: one look-up found them all, or none
        return [*(exact or ()), *(prefix or ()), *anywhere]


_ANY = ("*", "")
# Keyed by the patterns' identity: a flow load's keywords and options are filed once (the
# entry holds the patterns and the lexicon, so an id is never reused while it is cached; the
# same patterns with another lexicon are filed anew).
_STARTS: dict[int, _Starts] = {}


def _starts(patterns: Sequence[Pattern], lexicon: Lexicon) -> _Starts:
    """`patterns` filed for `lexicon`, once."""
    cached = _STARTS.get(id(patterns))
    if cached is not None and cached.patterns is patterns and cached.lexicon is lexicon:
        return cached
    if len(_STARTS) > 1024:
        _STARTS.clear()
    starts = _STARTS[id(patterns)] = _Starts(patterns, _index(lexicon))
    return starts


Filed = _Starts  # a list of patterns filed, as callers outside this module name it


def file_patterns(patterns: Sequence[Pattern], lexicon: Lexicon) -> _Starts:
    """`patterns` filed under the words they can start with, for find_starts."""
    return _starts(patterns, lexicon)


def find_patterns(text: Text, patterns: Sequence[Pattern], lexicon: Lexicon) -> list[Hit]:
    """Every place one of `patterns` matches (not cached: an option's or keyword's own words)."""
    return find_starts(text, _starts(patterns, lexicon), lexicon)


def find_starts(text: Text, starts: _Starts, lexicon: Lexicon) -> list[Hit]:
    """find_patterns of the patterns `starts` files."""
    out: list[Hit] = []
    if not starts.anywhere:  # as starts.may_start(text), without the call (5 a message)
        keys, prefixes = text._keys or text.start_keys()
        if starts.words.isdisjoint(keys) and starts.prefixes.isdisjoint(prefixes):
            return out
    words, clauses = text.words, text.clauses
    last = len(words) - 1
    for i, word in enumerate(words):
        candidates = starts.candidates(word, i == last or clauses[i + 1] != clauses[i])
        if not candidates:
            continue
        best = _longest(text, candidates, i, lexicon)
        if best > i:
            out.append(Hit(i, best))
    return out


def negated(
    text: Text,
    hit: Hit,
    lexicon: Lexicon,
    *,
    refusals: bool = False,
    spent: frozenset[int] = frozenset(),
) -> bool:
    """True when a negation reaches the words of `hit`.

    Before it: a negation (nuk, s', mos, pa, not, never…) within `negation_scope` words of the
    same clause, clitics and auxiliaries not counted ("s'm'ka rrah" is negated). After it: "jo",
    "kurrë", "never" in the same clause ("policia jo"). With `refusals`, a bare "jo"/"no" before a
    noun refuses it too ("jo polici", "no police"); otherwise a leading "jo" is the answer's
    polarity, not a negation of what follows ("jo, tani jam te nena"). A negation at a position in
    `spent` already belongs to a phrase it begins ("s'kam problem me policinë") and reaches no
    further.
    """
    index = _index(lexicon)
    single = index.single
    words, clauses = text.words, text.clauses
    if words[hit.start] in index.negating:
        return False  # the phrase carries its own negation ("s'me le te dal")
    negations = single[NEGATION]
    # "pa", "without", "except" refuse only the word right after them ("pa polici").
    adjacent = index.refusing_adjacent if refusals else single[NEGATION_ADJACENT]
    clause = clauses[hit.start]
    steps = 0
    j = hit.start - 1
    subjects = single[SUBJECT]
    skip = lexicon.skip
    while j >= 0 and clauses[j] == clause:
        word = words[j]
        if j not in spent and (word in negations or (word in adjacent and steps == 0)):
            return True
        if word in subjects:
            return False  # "I'm not ok he hit me": a new subject, the negation was before it
        if word not in skip:
            steps += 1
            if steps >= lexicon.negation_scope:
                break
        j -= 1
    post = single[POST_NEGATION]
    if words[hit.start] in post or words[hit.start] in single[REFUSAL]:
        return False  # "jo jo" is one no, not a no refused
    clitics = single[CLITIC]
    for j in range(hit.end, min(hit.end + 3, len(words))):
        if clauses[j] != clause:
            break
        word = words[j]
        # "policia jo"; with refusals also "policine mos e lajmeroni" (don't tell them).
        if word in post or (refusals and word in negations):
            return True
        if word not in clitics:
            break
    return False


def _post_negation(text: Text, hit: Hit, lexicon: Lexicon) -> int | None:
    """Where a "jo"/"kurrë"/"never" right after `hit` (clitics between) refuses it, or None."""
    clause = text.clauses[hit.start]
    single = _index(lexicon).single
    post, clitics = single[POST_NEGATION], single[CLITIC]
    for j in range(hit.end, min(hit.end + 3, len(text.words))):
        if text.clauses[j] != clause:
            break
        if text.words[j] in post:
            return j
        if text.words[j] not in clitics:
            break
    return None


def in_past(text: Text, hit: Hit, lexicon: Lexicon) -> bool:
    """True when the clause of `hit` says it was long ago and nothing says it is recent.

    Long ago: a word of `past` in the clause, a past year ("në 2015"), or the hit itself in the
    imperfect, the tense of what used to happen ("ai më rrihte", `habitual`)."""
    clause = text.clauses[hit.start]
    past = (
        any(text.clauses[h.start] == clause for h in find(text, PAST, lexicon))
        or any(hit.start <= h.start < hit.end for h in find(text, HABITUAL, lexicon))
        or _past_year(text, clause, lexicon)
    )
    if not past:
        return False
    return not any(text.clauses[h.start] == clause for h in find(text, RECENT, lexicon))


_YEAR = re.compile(r"(?:19[5-9]|20[0-9])[0-9]")


def _past_year(text: Text, clause: int, lexicon: Lexicon) -> bool:
    """A year said with "in" ("në 2015", "in 2019"), not "since" (that goes on to now)."""
    before = _single_words(lexicon, YEAR_BEFORE)
    return any(
        c == clause
        and j > 0
        and _YEAR.fullmatch(text.words[j]) is not None
        and text.words[j - 1] in before
        and text.clauses[j - 1] == clause
        for j, c in enumerate(text.clauses)
    )


def _whole_only_ok(text: Text, hit: Hit, lexicon: Lexicon) -> bool:
    """A short ambiguous word ("da", "ne", "me") counts only alone, or first and alone in its
    clause; words of `filler` beside it (thanks, please: "ok flm", "da hvala") leave it alone."""
    if hit.end - hit.start != 1 or text.words[hit.start] not in lexicon.whole_only:
        return True
    clause = text.clauses[hit.start]
    others = [j for j, c in enumerate(text.clauses) if c == clause and j != hit.start]
    if others:
        filler = {j for h in find(text, FILLER, lexicon) for j in range(h.start, h.end)}
        if any(j not in filler for j in others):
            return False
        return text.clauses.index(clause) == 0
    return hit.start == 0 or len(text) == 1


# -- readings -----------------------------------------------------------------------------------


def said_now(text: Text, hit: Hit, lexicon: Lexicon) -> bool:
    """A hit that says something is so now: not negated, not clearly in the past, not in a
    clause that supposes ("nese dikush e shkel urdhrin…"), not part of an idiom ("me vrau
    merzia", bored to death)."""
    if negated(text, hit, lexicon) or in_past(text, hit, lexicon):
        return False
    clause = text.clauses[hit.start]
    first = text.clauses.index(clause)
    if any(h.start == first for h in find(text, HYPOTHETICAL, lexicon)):
        return False
    return not any(b.start <= hit.start and hit.end <= b.end for b in find(text, BENIGN, lexicon))


def danger_hits(text: Text, lexicon: Lexicon, concept: str = DANGER) -> list[Hit]:
    """Danger said now: the concept's hits that are neither negated nor clearly in the past."""
    return [h for h in find(text, concept, lexicon) if said_now(text, h, lexicon)]


def read_danger(text: str, lexicon: Lexicon) -> bool:
    """True when a message says someone is in danger now (first message, or any message)."""
    return bool(danger_hits(analyse(text, lexicon), lexicon))


_PHRASES = ((), (1,), (2, 1), (3, 2, 1))  # the lengths of a number's phrase, by words left


def read_number(text: Text, lexicon: Lexicon) -> int | None:
    """The number a message is, when it is only a number: 2, "nr 2", "dy", "e dyta", "2️⃣"."""
    fillers = find(text, FILLER, lexicon)
    covered = [False] * len(text.words)
    for h in fillers:
        for j in range(h.start, h.end):
            covered[j] = True
    # "jo e para, e dyta", "3 jo, 4": a number refused is not the one chosen.
    index = _index(lexicon)
    refusing = index.refusing
    post = index.single[POST_NEGATION]
    found: list[int] = []
    number = 0
    i = 0
    words = text.words
    numbers = lexicon.numbers
    while i < len(words):
        if covered[i]:
            i += 1
            continue
        start = i
        if words[i] in refusing and i + 1 < len(words) and text.clauses[i + 1] == text.clauses[i]:
            i += 1
        size = 0
        if words[i].isdigit() and len(words[i]) <= 6:
            number, size = int(words[i]), 1
        else:
            # A phrase as long as the words left, or shorter; one word is itself.
            for n in _PHRASES[min(len(words) - i, 3)]:
                phrase = " ".join(words[i : i + n]) if n > 1 else words[i]
                if phrase in numbers:
                    number, size = numbers[phrase], n
                    break
        if not size:
            return None
        i += size
        if i < len(words) and words[i] in post and text.clauses[i] == text.clauses[i - 1]:
            i += 1
        elif i == start + size:
            found.append(number)
    return found[0] if len(found) == 1 else None


def is_unsure(text: Text, lexicon: Lexicon) -> bool:
    """True when the answer begins with 'I don't know' (its own answer, never a no)."""
    generic = lexicon.senses.get("generic")
    if generic is None:
        return False
    for concept in generic.unclear:
        if any(h.start == 0 for h in find(text, concept, lexicon)):
            return True
    return False


def _trailing_hedge(t: Text, lexicon: Lexicon, sense_name: str | None) -> str | None:
    """An answer that trails off on a "but" is a hedge, asked again: "mire jam por...", "I'm fine
    but", "jo, por"; and "mire jam po..." ("po" after a no is "but", not yes; "ok po" is yes).
    None when the answer does not trail off so."""
    if len(t.words) < 1:
        return None
    if t.buts and max(t.buts) > t.clauses[-1]:
        before = Text(
            t.words,
            t.clauses,
            t.cyrillic,
            frozenset(b for b in t.buts if b <= t.clauses[-1]),
            t.hedged,
        )
        return UNCLEAR if read_yes_no(before, lexicon, sense_name) is not None else None
    if len(t.words) > 1 and t.words[-1] in _single_words(lexicon, BOUNDARY_AFTER_NO):
        # The clause it follows alone: "policine jo, po strehim po" is no hedge.
        last = t.clauses[-2]
        kept = [(w, c) for w, c in zip(t.words[:-1], t.clauses[:-1], strict=True) if c == last]
        before = Text(
            tuple(w for w, _ in kept),
            tuple(0 for _ in kept),
            t.cyrillic,
            frozenset(),
            t.hedged,
        )
        return UNCLEAR if read_yes_no(before, lexicon, sense_name) == NO else None
    return None


def read_yes_no(text: str | Text, lexicon: Lexicon, sense_name: str | None = None) -> str | None:
    """'yes', 'no', 'unclear' (don't know) or None (not understood), read for the question asked.

    The first answer word decides ("jo, tani jam te nena"), unless another clause says the
    opposite ("po, por jo tani": None, ask again); words that mean fine, later or away are read by
    the question's sense ("jam mire" is no to "in danger?"); a refused subject is a no wherever it
    stands ("policia jo").
    """
    t = text if isinstance(text, Text) else analyse(text, lexicon)
    if len(t.words) == 1 and not t.buts and not t.hedged:
        # Most answers are one word ("po", "jo"): one of the lexicon's is read from a table
        # per sense (see _Index.yes_no_alone), ~1,100 bytecodes fewer an answer (with the
        # keywords' table, a message of bench/instructions.py 1,953,849 -> 1,881,190).
        index = _LAST_INDEX[0]
        if index.lexicon is not lexicon:
            index = _index(lexicon)
        if t.words[0] in index.alone_words:
            return index.yes_no_alone(sense_name).get(t.words[0])
    return _read_yes_no(t, lexicon, sense_name)


def _read_yes_no(t: Text, lexicon: Lexicon, sense_name: str | None) -> str | None:
    """read_yes_no's reading, word by word."""
    if not t.words:
        return None
    number = read_number(t, lexicon)
    if number is not None:
        return {1: YES, 2: NO}.get(number)
    hedged = _trailing_hedge(t, lexicon, sense_name)
    if hedged is not None:
        return hedged
    generic = lexicon.senses.get("generic")
    sense = lexicon.senses.get(sense_name or "generic") or generic
    if sense is None:
        return None
    layers = [(0, sense)] + ([(1, generic)] if generic is not None and generic is not sense else [])
    if sense.subject:
        refused = [
            h for h in find(t, sense.subject, lexicon) if negated(t, h, lexicon, refusals=True)
        ]
        negations = _single_words(lexicon, NEGATION)
        # Only a negation word before it can be spent on a yes ("jo", "pa", "policia jo" never).
        if refused and not any(
            t.words[j] in negations and t.clauses[j] == t.clauses[h.start]
            for h in refused
            for j in range(h.start)
        ):
            return NO
        if refused:
            # A negation that begins a yes ("s'kam problem me policinë") is that phrase's own.
            spent = frozenset(
                h.start
                for _, layer in layers
                for concept in layer.yes
                for h in find(t, concept, lexicon)
                if h.end - h.start > 1 and t.words[h.start] in negations
            )
            if any(negated(t, h, lexicon, refusals=True, spent=spent) for h in refused):
                return NO
    found: list[tuple[Hit, int, str]] = []
    for rank, layer in layers:
        for category, concepts in ((UNCLEAR, layer.unclear), (YES, layer.yes), (NO, layer.no)):
            for concept in concepts:
                for h in find(t, concept, lexicon):
                    if _whole_only_ok(t, h, lexicon):
                        found.append((h, rank, category))
    # "po, por mos më thirrni, vetëm sms": words on how she is to be reached are a condition on
    # the answer, not an answer (a refused subject was read above: "jo polici" stays a no).
    manner = find(t, CONTACT_MANNER, lexicon) if CONTACT_MANNER in lexicon.concepts else []
    if manner:
        found = [
            f for f in found if not any(m.start <= f[0].start and f[0].end <= m.end for m in manner)
        ]
    # "nuk e di a duhet" (I don't know if I should): the negation is the "don't know"'s, not a
    # no to what follows it.
    negation_words = _single_words(lexicon, NEGATION)
    unsure_at = {h.start: h.end for h, _, category in found if category == UNCLEAR}
    found = [
        (h, rank, category)
        for h, rank, category in found
        if category == UNCLEAR
        or t.words[h.start] not in negation_words
        or unsure_at.get(h.start, h.end) >= h.end
    ]
    candidates: list[tuple[int, int, int, str]] = []
    refused_by: set[int] = set()  # a "jo" after a phrase that refuses it ("ma vonë jo")
    for h, rank, category in found:
        meaning = category
        if category != UNCLEAR and negated(t, h, lexicon):
            meaning = NO if category == YES else YES
            after = _post_negation(t, h, lexicon)
            if after is not None:
                refused_by.add(after)
        candidates.append((h.start, -(h.end - h.start), rank, meaning))
    # That "jo" is spent on the phrase; it is not an answer of its own.
    candidates = [c for c in candidates if not (c[1] == -1 and c[0] in refused_by)]
    if not candidates:
        return None
    # Where the question's own words and the generic ones read the same words, the question's
    # win ("jam mire" is fine to "in danger?", not the generic yes of "mire").
    spans = [(c[0], c[0] - c[1]) for c in candidates if c[2] == 0]
    candidates = [
        c
        for c in candidates
        if c[2] == 0 or not any(a < c[0] - c[1] and c[0] < b for a, b in spans)
    ]
    candidates.sort()
    if candidates[0][3] == UNCLEAR:
        return UNCLEAR
    # Each clause's answer: its first, unless the sense prefers one when a clause says both
    # ("ka dal po tha kthehem shpejt" is a yes to "in danger?": safety first).
    per_clause: dict[int, str] = {}
    for start, _, _, meaning in candidates:
        clause = t.clauses[start]
        if clause not in per_clause or (sense.prefer and meaning == sense.prefer):
            per_clause[clause] = meaning
    ordered = [per_clause[c] for c in sorted(per_clause)]
    # A clause after "por"/"but" corrects what came before ("po, por jo tani" is a no).
    corrected = [per_clause[c] for c in sorted(per_clause) if c in t.buts]
    if corrected:
        return corrected[-1]
    if t.hedged:
        return UNCLEAR
    answers = {m for m in ordered if m != UNCLEAR}
    if len(answers) > 1:
        if sense.prefer in answers:
            return sense.prefer
        return None
    return ordered[0]


# -- choices ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a menu as the reader sees it: its value and the patterns that name it."""

    value: str
    patterns: tuple[Pattern, ...]
    label_words: frozenset[str] = frozenset()  # the words of its labels, for a partial match
    labels: tuple[tuple[str, ...], ...] = ()  # each label's words: its own name, exactly


def read_choice(text: str | Text, choices: Sequence[Choice], lexicon: Lexicon) -> str | None:
    """The option a message picks: its number, its label or words, or a word of the same meaning.

    An option the message refuses ("jo polici") is never picked. None when nothing or more than
    one option fits equally well.
    """
    t = text if isinstance(text, Text) else analyse(text, lexicon)
    if not t.words:
        return None
    number = read_number(t, lexicon)
    if number is not None:
        return choices[number - 1].value if 1 <= number <= len(choices) else None
    if is_unsure(t, lexicon):
        return None
    # The answer is one option's label, word for word ("Jo" beside "Po, jo me mua"; "Burri"
    # beside "Ish-burri"): that option, whatever other options' meanings it also has.
    exact = [c.value for c in choices if t.words in c.labels]
    if len(exact) == 1:
        return exact[0]
    # A match scores by its length, and an option's own label beats a meaning of the same
    # length ("dikush tjeter" is "Dikush tjetër", not "Babai" as a person too).
    scores: dict[str, int] = {}
    refused: set[str] = set()
    for choice in choices:
        hits = find_patterns(t, choice.patterns, lexicon)
        # A word inside a longer match of the same option is part of it ("please don't call"
        # is the label of "no", not a refused "call").
        hits = [
            h
            for h in hits
            if not any(o.start <= h.start and h.end <= o.end and o != h for o in hits)
        ]
        for h in hits:
            if not _whole_only_ok(t, h, lexicon):
                continue
            if negated(t, h, lexicon, refusals=True):
                refused.add(choice.value)
                continue
            own = t.words[h.start : h.end] in choice.labels
            scores[choice.value] = max(scores.get(choice.value, 0), 2 * (h.end - h.start) + own)
    for value in refused:
        scores.pop(value, None)
    if not scores and not refused:
        scores = _overlap(t, choices, lexicon)
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        # "Someone else", "Other": an answer that also names a specific option is that one
        # ("motra" to "3. A family member 4. Someone else" is 3).
        tied = [value for value, score in ranked if score == ranked[0][1]]
        # The option whose label the answer covers most ("burri" covers all of "Burri im" and
        # half of "Ish-burri im"; "s'dua te them" most of "Nuk dua të them").
        cover = _coverage(t, [c for c in choices if c.value in tied], lexicon)
        best = max(cover.values(), default=0.0)
        if best > 0 and sum(1 for v in cover.values() if v == best) == 1:
            return next(value for value, v in cover.items() if v == best)
        catch_all = _single_words(lexicon, CATCH_ALL)
        labels = {c.value: c.label_words for c in choices}
        specific = [value for value in tied if not labels.get(value, frozenset()) & catch_all]
        return specific[0] if len(tied) == 2 and len(specific) == 1 else None
    return ranked[0][0]


# Words too common to tell options apart by.
_COMMON = frozenset(
    "per for ose or and dhe of to nje an a the te e i me ne my in on at is it po jo".split()
)


def _content(words: Iterable[str], lexicon: Lexicon) -> list[str]:
    """The words that tell options apart: "ex" and "ish" count, "per", "my", "po" do not."""
    return [w for w in words if len(w) >= 2 and w not in _COMMON and w not in lexicon.skip]


def _shares(w: str, lw: str) -> bool:
    return lw == w or (len(w) >= 4 and lw.startswith(w)) or (len(lw) >= 4 and w.startswith(lw))


def _coverage(t: Text, choices: Sequence[Choice], lexicon: Lexicon) -> dict[str, float]:
    """Each option's share of its label's words that the message has, to break a tie."""
    words = _content(t.words, lexicon)
    out: dict[str, float] = {}
    for choice in choices:
        own = _content(sorted(choice.label_words), lexicon)
        if own:
            out[choice.value] = sum(any(_shares(w, lw) for w in words) for lw in own) / len(own)
    return out


def _overlap(t: Text, choices: Sequence[Choice], lexicon: Lexicon) -> dict[str, int]:
    """Options scored by the words they share with the message ("info per urdhrin" and
    "Informacion për urdhrin e mbrojtjes"): a last resort when no phrase matched."""
    words = _content(t.words, lexicon)
    scores: dict[str, int] = {}
    for choice in choices:
        shared = sum(1 for w in words if any(_shares(w, lw) for lw in choice.label_words))
        if shared:
            scores[choice.value] = shared
    return scores


def label_words(phrases: Iterable[str]) -> frozenset[str]:
    """The words of labels, normalised as a message's are."""
    return frozenset(term.value for pattern in phrase_patterns(phrases) for term in pattern)


def phrase_patterns(phrases: Iterable[str]) -> tuple[Pattern, ...]:
    """Plain phrases (labels, names) as word patterns."""
    out = []
    for phrase in phrases:
        written = fold(phrase)
        for contraction, replacement in CONTRACTIONS:  # as analyse() reads what she types
            written = contraction.sub(replacement, written)
        words = [_collapse(w) for w in _WORD.findall(_APOSTROPHE.sub("", written))]
        if words:
            out.append(tuple(Term("word", w) for w in words))
    return tuple(out)


def meaning_patterns(
    phrases: Iterable[str], lexicon: Lexicon, concepts: Iterable[str]
) -> tuple[Pattern, ...]:
    """The concepts among `concepts` that `phrases` (an option's label and words) name, as
    patterns: "Ndihmë juridike" brings in the concept legal, so "avokat" picks it."""
    out: list[Pattern] = []
    texts = [analyse(p, lexicon) for p in phrases]
    for concept in concepts:
        # A short word that is a word of a phrase counts only alone, as in a message: the
        # "Në" of "Në mëngjes" is not the Serbian no.
        if any(_whole_only_ok(t, h, lexicon) for t in texts for h in find(t, concept, lexicon)):
            out.append((Term("concept", concept),))
    return tuple(out)


_ALTERNATIVES = re.compile(r"\s*/\s*|\s+(?:ose|or|ili)\s+", re.IGNORECASE)


def label_alternatives(label: str) -> list[str]:
    """The names a label offers as alternatives ("Burri / partneri", "Burri ose partneri"), each
    a label of its own; [] when it offers one."""
    parts = [p.strip() for p in _ALTERNATIVES.split(label) if p.strip()]
    return parts if len(parts) > 1 else []


# -- places -------------------------------------------------------------------------------------


def place_forms(name: str) -> list[tuple[str, ...]]:
    """A place name as people write it: indefinite, definite and genitive (Tiranë, Tirana,
    Tiranës), with the Albanian ë dropped before a last consonant (Shkodër, Shkodra), and without
    the article of a longer name (Vau i Dejës, vau dejes)."""
    words = [_collapse(w) for w in _WORD.findall(_APOSTROPHE.sub("", fold(name)))]
    if not words:
        return []
    last = words[-1]
    ends = {last}
    if len(last) > 3 and last.endswith("e"):
        stem = last[:-1]  # and the Serbian locative: Štrpce -> u Štrpcu
        ends |= {stem, stem + "a", stem + "es", stem + "en", stem + "et", stem + "s", stem + "u"}
    elif len(last) > 2 and last[-1] not in "aeiouy":
        ends |= {last + "i", last + "it", last + "in", last + "a", last + "e", last + "u"}
        if len(last) > 4 and last[-2] == "e":
            short = last[:-2] + last[-1]
            ends |= {short + "a", short + "es", short + "en", short + "e", short + "it"}
    elif last.endswith("i") and len(last) > 3:
        stem = last[:-1]  # Hani -> Hanit, Hanin
        ends |= {stem + "it", stem + "in", stem + "u"}
    elif last.endswith("a") and len(last) > 3:
        stem = last[:-1]  # a definite form (Mitrovica): the stem takes the other endings, and
        # the Serbian locative (u Mitrovici; u Severnoj Mitrovici)
        ends |= {stem, stem + "e", stem + "es", stem + "en", stem + "et", last + "n", last + "s"}
        ends |= {stem + "i", stem + "oj"}
    heads = [tuple(words[:-1])]
    articles = {"i", "e", "te", "se"}
    if len(words) > 2 and any(w in articles for w in words[:-1]):
        heads.append(tuple(w for w in words[:-1] if w not in articles))
        # In the genitive the article becomes "të": Hanit të Elezit.
        heads.append(tuple("te" if w in ("i", "e") else w for w in words[:-1]))
    forms = [(*head, end) for head in heads for end in sorted(ends)]
    if len(words) > 1:
        # "Mitrovicën e Veriut", "Fushë-Krujën": the first word takes the case ending instead.
        firsts = {f[-1] for f in place_forms(words[0])}
        rests = {tuple(words[1:]), tuple("te" if w in ("i", "e") else w for w in words[1:])}
        forms += [(first, *rest) for first in sorted(firsts) for rest in sorted(rests)]
        if len(words) == 2:
            # A Serbian adjective and noun both take the case: u Severnoj Mitrovici.
            forms += [(first, end) for first in sorted(firsts) for end in sorted(ends)]
    return forms


PlaceIndex = Mapping[str, Sequence[tuple[tuple[str, ...], str]]]


def place_index(
    places: Iterable[tuple[str, Iterable[str]]],
) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """(slug, names) pairs as an index: first word of a name's form -> [(form, slug)]."""
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for slug, names in places:
        for name in names:
            # Kosovo texters write ç as q: Deçan as "Deqan", Korçë as "Korq".
            qs = [name.replace("ç", "q").replace("Ç", "Q")] if "ç" in name.lower() else []
            for form in (f for n in (name, *qs) for f in place_forms(n)):
                index.setdefault(form[0], []).append((form, slug))
    return index


def read_place(text: str | Text, index: PlaceIndex, lexicon: Lexicon) -> str | None:
    """The slug of the place a message names, 'unknown' for a place outside our municipalities,
    None when none is named. Where she is now wins over where she is from ("nga Korça, tani
    Tiranë"). `index` comes from place_index()."""
    t = text if isinstance(text, Text) else analyse(text, lexicon)
    hits: list[tuple[int, int, str]] = []
    words = t.words
    for i, word in enumerate(words):
        for form, slug in index.get(word, ()):
            if tuple(words[i : i + len(form)]) == form:
                hits.append((i, len(form), slug))
    # A longer name wins over a shorter one inside it (Mitrovica e Veriut over Mitrovica).
    hits = [
        h
        for h in hits
        if not any(o[0] <= h[0] and h[0] + h[1] <= o[0] + o[1] and o[1] > h[1] for o in hits)
    ]
    slugs = {h[2] for h in hits}
    if len(slugs) == 1 and find(t, NORTH, lexicon):
        # "në veri të Mitrovicës": the northern municipality of a divided town, where one is.
        north = next(iter(slugs)) + "-e-veriut"
        if any(slug == north for forms in index.values() for _, slug in forms):
            return north
    if len(slugs) > 1:
        origin = {w for p in lexicon.patterns(FROM) for w in (p[0].value,)}
        now = [h for h in hits if not (h[0] > 0 and words[h[0] - 1] in origin)]
        if now:
            hits = now
        hits.sort()
        return hits[-1][2]
    if slugs:
        return slugs.pop()
    if any(w in lexicon.outside_places for w in words):
        return "unknown"
    return None


# Letters as typed: "pri" is Prishtinë and Prizren, "prisht" only Prishtinë; four letters are too
# often a word of their own that starts a name ("bëra", I did: Berat; "gram": Gramsh; "drop").
CLIPPED_MIN = 5
CLIPPED_WORDS_MAX = 4  # words in an answer that may hold a clipped name

PlaceNames = Sequence[tuple[tuple[str, ...], str, bool]]


def place_names(places: Iterable[tuple[str, Sequence[str]]], own: int = 3) -> list[
    tuple[tuple[str, ...], str, bool]
]:  # fmt: skip
    """Every name of every place as words ((words), slug, one of its `own` first names), for
    read_clipped_place."""
    out: list[tuple[tuple[str, ...], str, bool]] = []
    for slug, names in places:
        for n, name in enumerate(names):
            words = tuple(_collapse(w) for w in _WORD.findall(_APOSTROPHE.sub("", fold(name))))
            if words:
                out.append((words, slug, n < own))
    return out


def read_clipped_place(
    text: Text, names: PlaceNames, lexicon: Lexicon, typed: Mapping[str, int]
) -> str | None:
    """A place named by the start of its name ("prisht", "mitro", "shkod"): the clipped word must
    be typed with CLIPPED_MIN letters or more and at least half of the name's word, be no word of
    the lexicon nor the start of one ("polic" is not Poliçan), and start one municipality's own
    name and no name of any other (a name of several words only when its other words follow)."""
    vocabulary = _vocabulary(lexicon)[0]
    words = text.words
    unknown = [w for w in words if w not in vocabulary]
    # An answer of a few words whose only unknown word is the clipped one ("jam ne prisht"):
    # in a sentence an unknown word is likelier a word than a place.
    if len(words) > CLIPPED_WORDS_MAX or len(unknown) != 1:
        return None
    for i, word in enumerate(words):
        if word != unknown[0] or typed.get(word, len(word)) < CLIPPED_MIN or not word.isalpha():
            continue
        if any(v.startswith(word) for v in vocabulary):
            continue
        # The words the clipped one may complete, each with what it reads alone: a one-word
        # name's place ("mitrovica": Mitrovicë); a name's first word that is no name alone is
        # nobody's (set()) unless the name's other words follow ("mitro e veriut").
        alone: dict[str, set[str]] = {}
        whole: dict[str, set[str]] = {}
        own_slugs: set[str] = set()
        for name, slug, own in names:
            if name[0] == word or not name[0].startswith(word):
                continue
            rest = name[1:]
            alone.setdefault(name[0], set())
            if not rest:
                alone[name[0]].add(slug)
            elif tuple(words[i + 1 : i + 1 + len(rest)]) == rest:
                whole.setdefault(name[0], set()).add(slug)
            else:
                continue
            if own:
                own_slugs.add(slug)
        readings = whole or alone
        if not readings or any(not slugs for slugs in readings.values()):
            continue
        slugs = set().union(*readings.values())
        if len(slugs) != 1 or not slugs & own_slugs:
            continue
        if len(word) * 2 < min(len(w) for w in readings):
            continue  # "mall" is not Mallakastër
        slug = slugs.pop()
        north = slug + "-e-veriut"  # "mitro veri", as read_place reads "mitrovic veri"
        if find(text, NORTH, lexicon) and any(s == north for _, s, _ in names):
            return north
        return slug
    return None


# -- language -----------------------------------------------------------------------------------

Identify = Callable[[str], Mapping[str, float]]


def _language_concepts(lexicon: Lexicon) -> tuple[tuple[str, str], ...]:
    """(concept, language) of the concepts written per language, in the lexicon's order, once
    per lexicon."""
    return derived(
        lexicon,
        "language_concepts",
        lambda: tuple(
            (concept, lang)
            for concept in lexicon.concepts
            for lang in (concept.rpartition("_")[2],)
            if lang in lexicon.language_words and concept.endswith("_" + lang)
        ),
    )


def read_language(
    text: str | Text, lexicon: Lexicon, identify: Identify | None = None
) -> str | None:
    """The language of a message ('sq', 'en', 'sr'), or None when its words give none ("ok", "2").

    Our own word lists vote first (Albanian typed without ë, Gheg, SMS shorthand are where a
    general detector is weakest); a detector made for short texts decides the rest.
    """
    t = text if isinstance(text, Text) else analyse(text, lexicon)
    if t.cyrillic:
        return "sr"
    words = [w for w in t.words if not w.isdigit()]
    if not words:
        return None
    votes: dict[str, float] = {}
    for word in words:
        langs = [lang for lang, vocab in lexicon.language_words.items() if word in vocab]
        for lang in langs:
            votes[lang] = votes.get(lang, 0.0) + 1.0 / len(langs)
    # Concepts written per language (danger_sq, danger_en…) vote too: "më goditi" is Albanian.
    for concept, lang in _language_concepts(lexicon):
        votes[lang] = votes.get(lang, 0.0) + len(find(t, concept, lexicon))
    if len(words) <= 2:
        greeting = {lexicon.greetings[w] for w in words if w in lexicon.greetings}
        if len(greeting) == 1:
            return greeting.pop()
    total = sum(votes.values())
    detected: Mapping[str, float] = {}
    if identify is not None and len(" ".join(words)) >= 4 and not _votes_decide(votes, total):
        detected = identify(" ".join(words))
    if total == 0:
        best = max(detected.items(), key=lambda kv: kv[1], default=None)
        return best[0] if best is not None and best[1] >= 0.5 else None
    # Our votes weigh more the more words they know; the detector fills in the rest.
    weight = min(0.8, 0.3 + 0.15 * total)
    scores = {
        lang: weight * votes.get(lang, 0.0) / total + (1 - weight) * detected.get(lang, 0.0)
        for lang in {*votes, *detected}
    }
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < 0.1:
        return None
    return ranked[0][0] if ranked[0][1] >= 0.4 else None


def _votes_decide(votes: Mapping[str, float], total: float) -> bool:
    """True when our votes alone give read_language's answer whatever the detector says: the
    leader stays ahead by the margin and over the bar even with all the detector's weight on
    the runner-up ("me rreh burri" in Albanian needs no detector). The detector (~0.5 ms a
    text here) is then not asked; the answer is the same."""
    if total == 0:
        return False
    weight = min(0.8, 0.3 + 0.15 * total)
    ranked = sorted((weight * v / total for v in votes.values()), reverse=True)
    lead, runner_up = ranked[0], ranked[1] if len(ranked) > 1 else 0.0
    # A language our votes leave at 0 can still take the detector's whole weight (1 - weight);
    # a margin of 1e-6 over the thresholds covers the rounding of sums of confidences.
    return lead >= 0.4 + 1e-6 and lead - runner_up - (1 - weight) >= 0.1 + 1e-6


# -- first message ------------------------------------------------------------------------------

THANKS_ONLY = "thanks_only"
ABOUT_OTHER = "about_other"
ABOUT_SELF = "about_self"
TOPICS = "topics"


@dataclass(frozen=True, slots=True)
class FirstReading:
    """What a first message already answers: danger now, whom it is about, what it asks for."""

    danger: bool
    role: str | None = None  # "survivor" | "witness"
    topic: str | None = None  # a concept of `topics` (orders, shelter, legal…)


def _inside(hit: Hit, other: Hit) -> bool:
    """`hit` lies within the longer `other`."""
    return other.start <= hit.start and hit.end <= other.end and other != hit


def read_first(text: str | Text, lexicon: Lexicon) -> FirstReading:
    """Read a first message for disclosure; only what it says clearly is taken as answered."""
    t = text if isinstance(text, Text) else analyse(text, lexicon)
    danger = bool(danger_hits(t, lexicon))
    other = [h for h in find(t, ABOUT_OTHER, lexicon) if not negated(t, h, lexicon)]
    self_ = [h for h in find(t, ABOUT_SELF, lexicon) if not negated(t, h, lexicon)]
    # A relative named inside a longer phrase of the other side is that phrase's: "djali im me
    # rreh" (my son beats me) names who hurts her, not whom she writes about.
    other = [h for h in other if not any(_inside(h, s) for s in self_)]
    self_ = [h for h in self_ if not any(_inside(h, o) for o in other)]
    role = None
    if other and not self_:
        role = "witness"
    elif self_ and not other:
        role = "survivor"
    topic = None
    for p in lexicon.patterns(TOPICS):
        concept = p[0].value if len(p) == 1 and p[0].kind == "concept" else None
        if concept and any(not negated(t, h, lexicon) for h in find(t, concept, lexicon)):
            topic = concept
            break
    if topic is None and not danger and _only(t, THANKS_ONLY, lexicon):
        topic = THANKS_ONLY  # "faleminderit", "ok flm": nothing asked, nothing told
    return FirstReading(danger, role, topic)


def _only(t: Text, concept: str, lexicon: Lexicon) -> bool:
    """Every word of the message is the concept's or a filler's, and the concept is there."""
    hits = find(t, concept, lexicon)
    covered = {j for h in (*hits, *find(t, FILLER, lexicon)) for j in range(h.start, h.end)}
    return bool(hits) and len(covered) == len(t)
