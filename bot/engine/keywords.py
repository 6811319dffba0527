"""Global keywords: whole-message words (DIL, FSHI...) and phrases (danger) inside any message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.engine import understand as u
from bot.engine.definition import Keyword, KeywordSet
from bot.engine.lexicon import Lexicon, Pattern, parse_pattern

# Words that may stand around a whole-message keyword without changing it: "dil tani",
# "fshini gjithcka", "delete my data", "english please".
KEYWORD_FILLER = "keyword_filler"
WHOLE_MAX = 10  # words: a longer message is not a keyword command, whatever its last clause


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """A keyword found in a message; `language` is the phrase's language when it has one."""

    keyword: Keyword
    language: str | None


def _whole(text: u.Text, starts: u.Filed, lexicon: Lexicon) -> bool:
    """True when the patterns `starts` files cover every word that is not filler, in the whole
    message or in its last clause ("nuk dua me fol, dil")."""
    last = text.clauses[-1]
    if last != text.clauses[0]:
        start = text.clauses.index(last)
        tail = u.Text(text.words[start:], tuple(0 for _ in text.words[start:]))
        if _whole(tail, starts, lexicon):
            return True
    # The keyword's own words first: most messages have none of them, and then the filler
    # around them needs no reading (8 keyword-languages a message: with analyse, 34-82 µs
    # a message of the bench became 19-44).
    hits = u.find_starts(text, starts, lexicon)
    if not hits:
        return False
    covered = [False] * len(text.words)
    for concept in (u.FILLER, KEYWORD_FILLER):
        for h in u.find(text, concept, lexicon):
            covered[h.start : h.end] = [True] * (h.end - h.start)
    for h in hits:
        covered[h.start : h.end] = [True] * (h.end - h.start)
    return all(covered)


def detect(
    text: str, keywords: KeywordSet, similarity: Callable[[str, str], float] | None = None
) -> KeywordHit | None:
    """The keyword this message triggers, whole-message keywords first; None when none."""
    hits = detect_all(text, keywords)
    return hits[0] if hits else None


def detect_all(text: str | u.Text, keywords: KeywordSet) -> list[KeywordHit]:
    """Every keyword this message triggers, in the order they are tried: a whole-message one
    alone, else each phrase keyword that matches.

    A phrase keyword (danger) counts where it is said now: not negated ("nuk jam ne rrezik"),
    not clearly in the past ("me rrihte para dy vitesh").
    """
    lexicon = keywords.lexicon
    t = text if isinstance(text, u.Text) else u.analyse(text, lexicon)
    if not t.words:
        return []
    filed = _filed(keywords)
    if len(t.words) == 1 and t.words[0] in filed.alone_words:
        # Most messages are one word ("po", "shqip"): one of the lexicon's is read from a
        # table made with the filing, ~800 bytecodes fewer a message that starts some pattern
        # (~190 a message of bench/instructions.py's conversation).
        return list(filed.alone.get(t.words[0], ()))
    return _detect(t, filed)


def _detect(t: u.Text, filed: _Filed) -> list[KeywordHit]:
    """detect_all's reading, word by word."""
    lexicon = filed.keywords.lexicon
    # A keyword none of whose patterns can start at any of the words is not looked for: most
    # messages start none (the tries of ~15 keyword-languages were ~40 % of the layer's
    # bytecodes a message of the bench).
    if len(t.words) <= WHOLE_MAX and filed.whole.may_start(t):
        for keyword, language, starts in filed.wholes:
            if starts.may_start(t) and _whole(t, starts, lexicon):
                return [KeywordHit(keyword, language)]
    hits: list[KeywordHit] = []
    if not filed.phrase.may_start(t):
        return hits
    for keyword, languages in filed.phrases:
        for language, starts in languages:
            if any(u.said_now(t, h, lexicon) for h in u.find_starts(t, starts, lexicon)):
                hits.append(KeywordHit(keyword, language))
                break
    return hits


@dataclass(frozen=True, slots=True)
class _Filed:
    """A keyword set's patterns filed once: (keyword, language, patterns) of the whole-message
    keywords in order; each phrase keyword's (language, patterns); and all the patterns of
    each mode together, to see at once that a message can start none of them."""

    keywords: KeywordSet
    wholes: tuple[tuple[Keyword, str | None, u.Filed], ...]
    phrases: tuple[tuple[Keyword, tuple[tuple[str | None, u.Filed], ...]], ...]
    whole: u.Filed
    phrase: u.Filed
    alone_words: frozenset[str]  # the lexicon's plain words (u._Index.alone_words)
    # Each of alone_words that triggers keywords as a message of its own -> its hits: filled
    # by _file for all the words at once (so it holds nothing anyone wrote).
    alone: dict[str, tuple[KeywordHit, ...]]


# The keyword set filed last: one set reads every message (u.derived's look-up cost ~40
# bytecodes a message; this one ~10).
_LAST: list[_Filed] = []


def warm_up(keywords: KeywordSet) -> None:
    """File the keywords and build the lexicon's tables now (start-up), not during the first
    message after it (~44 ms of CPU then)."""
    _filed(keywords)
    u.warm_up(keywords.lexicon)


def _filed(keywords: KeywordSet) -> _Filed:
    """The keyword set's _Filed, made once per keyword set."""
    if _LAST and _LAST[0].keywords is keywords:
        return _LAST[0]
    filed = u.derived(keywords, "keywords filed", lambda: _file(keywords))
    _LAST[:] = [filed]
    return filed


def _file(keywords: KeywordSet) -> _Filed:
    """The keyword set's patterns filed."""
    lexicon = keywords.lexicon
    by_mode: dict[str, list[Keyword]] = {"whole": [], "phrase": []}
    for keyword in keywords.keywords:
        if keyword.mode in by_mode:
            by_mode[keyword.mode].append(keyword)
    wholes = tuple(
        (keyword, language or None, u.file_patterns(patterns, lexicon))
        for keyword in by_mode["whole"]
        for language, patterns in keyword.phrases.items()
    )
    phrases = tuple(
        (
            keyword,
            tuple(
                (language or None, u.file_patterns(patterns, lexicon))
                for language, patterns in keyword.phrases.items()
            ),
        )
        for keyword in by_mode["phrase"]
    )

    def together(mode: str) -> u.Filed:
        patterns = tuple(p for k in by_mode[mode] for ps in k.phrases.values() for p in ps)
        return u.file_patterns(patterns, lexicon)

    alone_words = u._index(lexicon).alone_words
    filed = _Filed(
        keywords, wholes, phrases, together("whole"), together("phrase"), alone_words, {}
    )
    for word in sorted(alone_words):
        t = u.Text((word,), (0,))
        # A word that can start no pattern triggers nothing: not read.
        if filed.whole.may_start(t) or filed.phrase.may_start(t):
            hits = _detect(t, filed)
            if hits:
                filed.alone[word] = tuple(hits)
    return filed


def build(raw: list[dict[str, Any]], lexicon: Lexicon) -> KeywordSet:
    """Keyword data loaded from keywords.yaml as patterns over the lexicon's concepts."""
    items = []
    for entry in raw:
        phrases = entry.get("phrases") or {"": entry.get("words") or []}
        if isinstance(phrases, list):
            phrases = {"": phrases}
        compiled: dict[str, tuple[Pattern, ...]] = {}
        for lang, words in phrases.items():
            compiled[str(lang)] = tuple(
                parse_pattern(str(p), lexicon.concepts) for p in words if str(p).strip()
            )
        items.append(
            Keyword(
                intent=str(entry["intent"]),
                flow=str(entry["flow"]),
                mode=str(entry.get("mode", "whole")),
                phrases=compiled,
            )
        )
    return KeywordSet(tuple(items), lexicon)
