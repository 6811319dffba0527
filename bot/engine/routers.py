"""Turning an answer into a route category: options, yes/no, text, municipality, date, number.

Every reading goes through the understanding layer (bot/engine/understand.py); rapidfuzz's
similarity (injected) only catches typos of a whole answer that nothing else understood.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.engine import understand as u
from bot.engine.dates import parse_date
from bot.engine.definition import UNSURE, Option, Wait
from bot.engine.env import Place
from bot.engine.frozen import quick_init
from bot.engine.lexicon import Lexicon, LexiconError, Pattern, parse_pattern
from bot.engine.normalise import normalise, normalise_phrase

Similarity = Callable[[str, str], float]

UNKNOWN_PLACE = (
    "nuk e di", "se di", "nuk di", "nuk dua ta them", "nuk dua te them", "nuk e them",
    "sdua ta them", "me mire jo", "i dont know", "dont know", "idk", "rather not say",
    "prefer not to say", "ne znam", "nuk e tregoj", "nuk e tregoj dot", "s e them",
)  # fmt: skip

FUZZY_MIN = 82.0  # below this a typo is more likely another word
FUZZY_GAP = 6.0  # the best must beat the runner-up by this much to be trusted


@quick_init  # built for every answer read: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Match:
    """A routed answer: the category, the value to save, and whether it is free text."""

    category: str
    value: Any
    free_text: bool = False


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return any(list(haystack[i : i + n]) == list(needle) for i in range(len(haystack) - n + 1))


def choose(
    text: str,
    candidates: Iterable[tuple[str, str]],
    similarity: Similarity,
    whole_only: frozenset[str] = frozenset(),
) -> str | None:
    """The value whose phrase `text` means: exact, then contained words, then close typos.

    `candidates` are (value, phrase) pairs, phrases already normalised; phrases in `whole_only`
    count only as the whole answer. Returns None when nothing matches or two values tie.
    """
    norm = normalise(text)
    if not norm:
        return None
    pairs = [(v, p) for v, p in candidates if p]
    exact = {v for v, p in pairs if p == norm}
    if len(exact) == 1:
        return exact.pop()
    if len(exact) > 1:
        return None
    words = norm.split()
    contained: dict[str, int] = {}
    for value, phrase in pairs:
        if len(phrase) > 1 and phrase not in whole_only and _contains(words, phrase.split()):
            contained[value] = max(contained.get(value, 0), len(phrase))
    if contained:
        ranked = sorted(contained.items(), key=lambda kv: -kv[1])
        if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
            return ranked[0][0]
        return None
    return fuzzy(norm, pairs, similarity)


def fuzzy(norm: str, pairs: Sequence[tuple[str, str]], similarity: Similarity) -> str | None:
    """The value whose phrase is a close typo of the whole answer, if one clearly is."""
    best: dict[str, float] = {}
    for value, phrase in pairs:
        if len(phrase) < 4 or len(norm) < 4:
            continue
        score = similarity(norm, phrase)
        best[value] = max(best.get(value, 0.0), score)
    if not best:
        return None
    ranked_scores = sorted(best.items(), key=lambda kv: -kv[1])
    top_value, top = ranked_scores[0]
    runner_up = ranked_scores[1][1] if len(ranked_scores) > 1 else 0.0
    if top >= FUZZY_MIN and top - runner_up >= FUZZY_GAP:
        return top_value
    return None


def _number(text: str) -> int | None:
    norm = normalise(text)
    return int(norm) if norm.isdigit() and len(norm) <= 6 else None


def is_dont_know(text: str | u.Text, lexicon: Lexicon) -> bool:
    """True for 'I don't know' in any of our languages."""
    return u.is_unsure(text if isinstance(text, u.Text) else u.analyse(text, lexicon), lexicon)


def _negation_free(t: u.Text, lexicon: Lexicon) -> bool:
    refusing = {
        p[0].value
        for concept in (u.NEGATION, u.REFUSAL)
        for p in lexicon.patterns(concept)
        if len(p) == 1
    }
    return not any(w in refusing for w in t.words)


_ChoicesKey = tuple[tuple[Option, ...], tuple[tuple[str, ...], ...]]
_CHOICES: dict[_ChoicesKey, tuple[Lexicon, tuple[u.Choice, ...]]] = {}


def _choices(
    wait: Wait, labels: Callable[[str], Iterable[str]], lexicon: Lexicon
) -> tuple[u.Choice, ...]:
    """The options of a wait as the reader sees them: labels in every language, the option's
    own words (patterns), and the meanings those bring in. Cached per options and label texts
    (what they are made of, not the wait's identity: a menu built anew for each answer, as
    `helpline understand eval` builds its menus, is filed once too; ~1.5 ms a menu here)."""
    texts = tuple(tuple(labels(o.label)) for o in wait.options)
    key = (wait.options, texts)
    cached = _CHOICES.get(key)
    if cached is not None and cached[0] is lexicon:
        return cached[1]
    out = []
    for option, label_texts in zip(wait.options, texts, strict=True):
        own: list[Pattern] = []
        for word in option.words:
            try:
                own.append(parse_pattern(word, lexicon.concepts))
            except LexiconError:
                own.extend(u.phrase_patterns([word]))
        # Its labels, and the names a label offers as alternatives ("Burri ose partneri").
        names = u.phrase_patterns(
            [*label_texts, *(alt for text in label_texts for alt in u.label_alternatives(text))]
        )
        plain = [*label_texts, option.value.replace("_", " ")]
        meanings = u.meaning_patterns(
            [*plain, *(w for w in option.words if "@" not in w and "*" not in w)],
            lexicon,
            lexicon.option_concepts,
        )
        out.append(
            u.Choice(
                option.value,
                (*names, *u.phrase_patterns(plain[-1:]), *own, *meanings),
                u.label_words(label_texts),
                tuple(tuple(t.value for t in p) for p in names),
            )
        )
    if len(_CHOICES) > 512:
        _CHOICES.clear()
    _CHOICES[key] = (lexicon, tuple(out))
    return tuple(out)


def route_options(
    wait: Wait, text: str, button: str | None, labels: Callable[[str], Iterable[str]],
    similarity: Similarity, lexicon: Lexicon | None = None, read: u.Text | None = None,
) -> Match | None:  # fmt: skip
    """Numbered options: the number (digits, words, ordinals), the label in any language, one of
    the option's words, or a word of the same meaning; a refused option is never chosen.
    `read` is `text` analysed already (with this lexicon), if the caller has it."""
    lexicon = lexicon or Lexicon()
    values = [o.value for o in wait.options]
    if button is not None and button in values:
        return Match(button, button)
    choices = _choices(wait, labels, lexicon)
    t = read if read is not None else u.analyse(text, lexicon)
    if u.read_number(t, lexicon) is None and u.is_unsure(t, lexicon):
        return Match(UNSURE, None)
    value = u.read_choice(t, choices, lexicon)
    if value is None and _number(text) is None:
        value = _language_answer(t, values, lexicon)
    if value is None and _number(text) is None and _negation_free(t, lexicon):
        pairs = [
            (o.value, normalise_phrase(phrase))
            for o in wait.options
            for phrase in (*labels(o.label), *o.words, o.value)
            if "@" not in phrase and "*" not in phrase
        ]
        value = fuzzy(normalise(text), pairs, similarity)
    return Match(value, value) if value is not None else None


def _language_answer(t: u.Text, values: Sequence[str], lexicon: Lexicon) -> str | None:
    """At a menu of languages (its values are the lexicon's language codes), an answer written
    in one of them picks it: "po", "jo", "mire" are Albanian, "yes", "no" English. Our own word
    lists only (no detector): a word both languages share ("ok") picks none."""
    if len(values) < 2 or not all(v in lexicon.language_words for v in values):
        return None
    language = u.read_language(t, lexicon)
    return language if language in values else None


def route_yes_no(
    text: str, button: str | None, labels: Callable[[str], Iterable[str]], similarity: Similarity,
    lexicon: Lexicon | None = None, sense: str | None = None, read: u.Text | None = None,
) -> Match | None:  # fmt: skip
    """Yes or no, read for the question asked (`sense`): by number (1 yes, 2 no), word or
    button; 'I don't know' is its own answer, never a no. `read`: as route_options'."""
    if button in ("yes", "no"):
        return Match(button, button == "yes")
    reading = u.read_yes_no(read if read is not None else text, lexicon or Lexicon(), sense)
    if reading == u.UNCLEAR:
        return Match(UNSURE, None)
    if reading in (u.YES, u.NO):
        return Match(reading, reading == u.YES)
    if _number(text) is not None:
        return None
    pairs = [("yes", normalise_phrase(w)) for w in labels("sys.yes")]
    pairs += [("no", normalise_phrase(w)) for w in labels("sys.no")]
    category = fuzzy(normalise(text), pairs, similarity)
    return Match(category, category == "yes") if category else None


def _place_index(places: Sequence[Place]) -> u.PlaceIndex:
    """Every case form of every name, indexed once per list of places."""
    return u.derived(places, "index", lambda: u.place_index((p.slug, p.names) for p in places))


def _place_names(places: Sequence[Place]) -> u.PlaceNames:
    """Every name of every place as words, once per list of places; a place's own names are
    its name and slug (not the aliases, where villages are)."""
    return u.derived(places, "names", lambda: u.place_names((p.slug, p.names) for p in places))


def index_places(places: Sequence[Place]) -> None:
    """Build the municipality index of this list of places now (at start-up), not at the first
    municipality answer, where it held every message waiting behind it (~20 ms of CPU)."""
    _place_index(places)


def route_municipality(
    text: str, places: Sequence[Place], similarity: Similarity, lexicon: Lexicon | None = None,
    read: u.Text | None = None,
) -> Match | None:  # fmt: skip
    """A municipality by name (any case form), town, alias or typo; 'don't know' or a place
    outside Albania and Kosovo routes unknown. `read`: as route_options'."""
    lexicon = lexicon or Lexicon()
    norm = normalise(text)
    if any(norm == normalise_phrase(p) for p in UNKNOWN_PLACE):
        return Match("unknown", None)
    t = read if read is not None else u.analyse(text, lexicon)
    if is_dont_know(t, lexicon):
        return Match("unknown", None)
    slug = u.read_place(t, _place_index(places), lexicon)
    if slug == "unknown":
        return Match("unknown", None)
    if slug is None:
        candidates = [(p.slug, normalise_phrase(name)) for p in places for name in p.names]
        slug = fuzzy(norm, candidates, similarity)
        if slug is None:
            # A typo of one word of a longer answer ("jam ne gjakov"): against municipalities'
            # own names only, so an everyday word is not read as a village's alias.
            own = [(p.slug, normalise_phrase(name)) for p in places for name in p.names[:3]]
            # Five letters as typed: "durrs" is "durs" once doubled letters collapse.
            typed = u.typed_lengths(text)
            for word in norm.split():
                slug = fuzzy(word, own, similarity) if typed.get(word, len(word)) >= 5 else None
                if slug is not None:
                    break
            if slug is None:
                # A clipped name ("prisht", "mitro"), when it can be only one municipality.
                slug = u.read_clipped_place(t, _place_names(places), lexicon, typed)
    return Match("found", slug) if slug else None


def route_date(text: str, today: date) -> Match | None:
    """A date as people write it, saved as an ISO string."""
    parsed = parse_date(text, today)
    return Match("valid", parsed.isoformat()) if parsed else None


def route_number(text: str, low: int | None, high: int | None) -> Match | None:
    """A whole number within the wait's bounds."""
    number = _number(text)
    if number is None:
        return None
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return Match("valid", number)


def route_text(text: str) -> Match | None:
    """Any non-empty text, kept as a free-text answer."""
    stripped = text.strip()
    return Match("any", stripped, free_text=True) if stripped else None


# -- a first message ----------------------------------------------------------------------------

HERE_IN = "here_in"  # "jam në", "I live in": the place right after is hers
HERE_AFTER = "here_after"  # "(nga) Shkodra jam": the place right before, at a clause's start
ASKS = "asks"  # "si të marr…", "how do I…": the first message asks something


def read_own_place(text: str | u.Text, places: Sequence[Place], lexicon: Lexicon) -> str | None:
    """The municipality a first message says she is in ("jam në Ferizaj", "I live in Fier") or
    from ("nga Shkodra jam"): only a place her own words frame counts, and only one. None when
    none does ("motra jeton në Fier", "ka ikur në Tiranë"), or two do: then she is asked."""
    t = text if isinstance(text, u.Text) else u.analyse(text, lexicon)
    words, clauses = t.words, t.clauses
    index = _place_index(places)
    spans = [
        (i, i + len(form), slug)
        for i, word in enumerate(words)
        for form, slug in index.get(word, ())
        if tuple(words[i : i + len(form)]) == form
    ]
    # A longer name wins over a shorter one inside it (Mitrovica e Veriut over Mitrovica).
    spans = [
        h
        for h in spans
        if not any(o[0] <= h[0] and h[1] <= o[1] and o[1] - o[0] > h[1] - h[0] for o in spans)
    ]
    if not spans:
        return None
    origin_words = {p[0].value for p in lexicon.patterns(u.FROM) if len(p) == 1}
    supposed = {t.clauses[h.start] for h in u.find(t, u.HYPOTHETICAL, lexicon)}
    before = {h.end: h for h in u.find(t, HERE_IN, lexicon) if not u.negated(t, h, lexicon)}
    after = {h.start: h for h in u.find(t, HERE_AFTER, lexicon) if not u.negated(t, h, lexicon)}
    now: set[str] = set()
    origin: set[str] = set()
    for start, end, slug in spans:
        clause = clauses[start]
        if clause in supposed:
            continue  # "if I am in Tirana"
        if start in before and clauses[start - 1] == clause:
            (origin if words[start - 1] in origin_words else now).add(slug)
            continue
        if end not in after or clauses[end] != clause:
            continue
        head = start
        if (
            start > 0
            and clauses[start - 1] == clause
            and words[start - 1] in (origin_words | {"ne", "n", "in"})
        ):
            head = start - 1
        if head == 0 or clauses[head - 1] != clause:  # "ka ikur ne Tirane jam vetem": not hers
            (origin if head < start and words[head] in origin_words else now).add(slug)
    chosen = now or origin  # where she is now wins over where she is from
    return next(iter(chosen)) if len(chosen) == 1 else None


def asks(text: str, read: u.Text, lexicon: Lexicon) -> bool:
    """True when a message asks something: a question mark, or words that ask ("si të…")."""
    return "?" in text or "？" in text or bool(u.find(read, ASKS, lexicon))
