"""Language identification of short texts with lingua (Albanian, English, Serbian).

The engine reads a first message with its own word lists first; this detector, made for short
and mixed texts, decides what they leave open. Latin-script Serbian is often scored as Bosnian or
Croatian: in Kosovo those are the same readers, so they count as Serbian.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

_CODES = {
    Language.ALBANIAN: "sq",
    Language.ENGLISH: "en",
    Language.SERBIAN: "sr",
    Language.BOSNIAN: "sr",
    Language.CROATIAN: "sr",
}


@lru_cache(maxsize=1)
def detector() -> LanguageDetector:
    """The detector, built once per process (its models ship in the wheel)."""
    return LanguageDetectorBuilder.from_languages(*_CODES).build()


def warm_up() -> None:
    """Load the models now, not at the first message.

    lingua loads its models on first use: about 1 s of CPU here, holding the GIL, so the
    first message after a start (hers, perhaps urgent) and every request behind it waited
    that long. Run at start-up, before the server takes requests.
    """
    identify("pershendetje, si jeni")  # a short text: all the n-gram orders short texts use


def identify(text: str) -> Mapping[str, float]:
    """Confidence per language code ('sq', 'en', 'sr'), summing to 1 (empty for no text)."""
    if not text.strip():
        return {}
    scores: dict[str, float] = {}
    for confidence in detector().compute_language_confidence_values(text):
        code = _CODES[confidence.language]
        scores[code] = scores.get(code, 0.0) + confidence.value
    return scores
