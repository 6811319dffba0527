"""Her code words in a check-in answer: found, taken out before the flow reads the answer
(pure; the words come from her contact row, encrypted, and are never logged)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.normalise import normalise

MIN_LENGTH = 3  # shorter words ("po", "ok") are answers, not code words
# What the flow reads when her message was nothing but a code word: the first option, the
# ordinary answer ("yes, now is fine" / "all as it should be"), so nothing on her screen differs.
ORDINARY_ANSWER = "1"


@dataclass(frozen=True, slots=True)
class Reading:
    """What a message held: the answer without the code words, and which words were in it."""

    text: str
    gave_code: bool = False
    gave_distress: bool = False


def word_of(typed: object) -> str | None:
    """The code word she typed, as stored: its first word normalised; None when unusable."""
    if not isinstance(typed, str):
        return None
    words = normalise(typed).split()
    if not words or len(words[0]) < MIN_LENGTH or words[0].isdigit():
        return None
    return words[0]


def read(text: str, code: str | None, distress: str | None) -> Reading:
    """Find her code words in `text` and take them out."""
    kept: list[str] = []
    gave_code = gave_distress = False
    for raw in text.split():
        word = normalise(raw)
        if code and word == code:
            gave_code = True
        elif distress and word == distress:
            gave_distress = True
        else:
            kept.append(raw)
    if not (gave_code or gave_distress):
        return Reading(text)
    rest = " ".join(kept)
    return Reading(rest if normalise(rest) else ORDINARY_ANSWER, gave_code, gave_distress)
