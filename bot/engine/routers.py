"""Turning an answer into a route category: options, yes/no, text, municipality, date, number."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.engine.dates import parse_date
from bot.engine.definition import Wait
from bot.engine.env import Place
from bot.engine.normalise import normalise, normalise_phrase

Similarity = Callable[[str, str], float]

# Albanian (with Kosovo forms), English and Serbian; normalised (no diacritics, repeats collapsed).
YES_WORDS = (
    "po", "p", "ok", "okay", "oke", "mire", "ne rregull", "dakord", "patjeter", "sigurisht",
    "ani", "po po", "yes", "y", "yeah", "yep", "sure", "da", "jesam", "vrtet", "vertet",
)  # fmt: skip
NO_WORDS = (
    "jo", "j", "nuk", "nuk dua", "sdua", "aspak", "kurre", "kurr", "jo jo", "no", "n", "nope",
    "nah", "not", "ne", "nisam", "nuk jam",
)  # fmt: skip
# Short words that are also ordinary words inside sentences ("ne" is Albanian "in"/"we",
# Serbian "no"): they answer only when they are the whole message.
WHOLE_ONLY = frozenset({"ne", "da", "ok", "n", "y", "not", "ani", "sure"})
# "I don't know" must never be read as "no" just because it starts with "nuk".
DONT_KNOW = (
    "nuk e di", "se di", "nuk di", "sdi", "nuk jam e sigurt", "nuk jam i sigurt", "ndoshta",
    "i dont know", "dont know", "idk", "not sure", "maybe", "ne znam", "mozda",
)  # fmt: skip
UNKNOWN_PLACE = (
    "nuk e di", "se di", "nuk di", "nuk dua ta them", "nuk dua te them", "nuk e them",
    "sdua ta them", "me mire jo", "i dont know", "dont know", "idk", "rather not say",
    "prefer not to say", "ne znam", "nuk e tregoj",
)  # fmt: skip

FUZZY_MIN = 82.0  # below this a typo is more likely another word
FUZZY_GAP = 6.0  # the best must beat the runner-up by this much to be trusted


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
        # One-letter phrases ("p", "j") only count as the whole answer, never inside a sentence.
        if len(phrase) > 1 and phrase not in whole_only and _contains(words, phrase.split()):
            contained[value] = max(contained.get(value, 0), len(phrase))
    if contained:
        ranked = sorted(contained.items(), key=lambda kv: -kv[1])
        if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
            return ranked[0][0]
        return None
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


def is_dont_know(text: str) -> bool:
    """True for 'I don't know' in any of our languages."""
    norm = normalise(text)
    return any(norm == p or norm.startswith(p + " ") for p in map(normalise_phrase, DONT_KNOW))


def route_options(
    wait: Wait, text: str, button: str | None, labels: Callable[[str], Iterable[str]],
    similarity: Similarity,
) -> Match | None:  # fmt: skip
    """Numbered options: the number, the label in any language, or one of the option's words."""
    values = [o.value for o in wait.options]
    if button is not None and button in values:
        return Match(button, button)
    number = _number(text)
    if number is not None:
        return Match(values[number - 1], values[number - 1]) if 1 <= number <= len(values) else None
    candidates = [
        (o.value, normalise_phrase(phrase))
        for o in wait.options
        for phrase in (*labels(o.label), *o.words, o.value)
    ]
    value = choose(text, candidates, similarity)
    return Match(value, value) if value is not None else None


def route_yes_no(
    text: str, button: str | None, labels: Callable[[str], Iterable[str]], similarity: Similarity
) -> Match | None:
    """Yes or no, by number (1 yes, 2 no), word or button; 'I don't know' is neither."""
    if button in ("yes", "no"):
        return Match(button, button == "yes")
    number = _number(text)
    if number in (1, 2):
        category = "yes" if number == 1 else "no"
        return Match(category, category == "yes")
    if is_dont_know(text):
        return None
    candidates = [("yes", normalise_phrase(w)) for w in (*YES_WORDS, *labels("sys.yes"))]
    candidates += [("no", normalise_phrase(w)) for w in (*NO_WORDS, *labels("sys.no"))]
    category = choose(text, candidates, similarity, WHOLE_ONLY)
    return Match(category, category == "yes") if category else None


def route_municipality(text: str, places: Sequence[Place], similarity: Similarity) -> Match | None:
    """A municipality by name, slug or alias with typos allowed; 'don't know' routes unknown."""
    norm = normalise(text)
    if any(norm == normalise_phrase(p) for p in UNKNOWN_PLACE):
        return Match("unknown", None)
    candidates = [(place.slug, normalise_phrase(name)) for place in places for name in place.names]
    slug = choose(text, candidates, similarity)
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
