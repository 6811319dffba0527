"""Global keywords: whole-message words (DIL, FSHI...) and danger phrases inside any message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.engine.definition import Keyword, KeywordSet
from bot.engine.normalise import normalise

FUZZY_WORD_MIN = 85.0  # per-word typo tolerance for danger phrases ("rrezk" ~ "rrezik")
NEGATION_WINDOW = 2  # a negation this many words before a phrase cancels it


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """A keyword found in a message; `language` is the phrase's language when it has one."""

    keyword: Keyword
    language: str | None


def _word_matches(
    text_word: str, phrase_word: str, similarity: Callable[[str, str], float]
) -> bool:
    if text_word == phrase_word:
        return True
    return (
        len(phrase_word) >= 5
        and len(text_word) >= 4
        and similarity(text_word, phrase_word) >= FUZZY_WORD_MIN
    )


def _phrase_at(words: list[str], phrase: list[str], similarity: Callable[[str, str], float]):
    n = len(phrase)
    for i in range(len(words) - n + 1):
        if all(_word_matches(words[i + k], phrase[k], similarity) for k in range(n)):
            yield i


def detect(
    text: str, keywords: KeywordSet, similarity: Callable[[str, str], float]
) -> KeywordHit | None:
    """The keyword this message triggers, whole-message keywords first; None when none."""
    norm = normalise(text)
    if not norm:
        return None
    for keyword in keywords.keywords:
        if keyword.mode != "whole":
            continue
        for language, phrases in keyword.phrases.items():
            if norm in phrases:
                return KeywordHit(keyword, language or None)
    words = norm.split()
    for keyword in keywords.keywords:
        if keyword.mode != "phrase":
            continue
        for language, phrases in keyword.phrases.items():
            for phrase in phrases:
                for start in _phrase_at(words, phrase.split(), similarity):
                    before = words[max(0, start - NEGATION_WINDOW) : start]
                    if not keywords.negations.intersection(before):
                        return KeywordHit(keyword, language or None)
    return None


def build(raw: list[dict], negations: list[str]) -> KeywordSet:
    """Normalise keyword data loaded from keywords.yaml into a KeywordSet."""
    items = []
    for entry in raw:
        phrases = entry.get("phrases") or {"": entry.get("words") or []}
        if isinstance(phrases, list):
            phrases = {"": phrases}
        items.append(
            Keyword(
                intent=str(entry["intent"]),
                flow=str(entry["flow"]),
                mode=str(entry.get("mode", "whole")),
                phrases={
                    str(lang): tuple(normalise(str(p)) for p in words if normalise(str(p)))
                    for lang, words in phrases.items()
                },
            )
        )
    return KeywordSet(tuple(items), frozenset(normalise(str(n)) for n in negations))
