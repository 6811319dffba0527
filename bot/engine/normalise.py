"""Text normalisation for matching: lower case, no diacritics, no punctuation, no repeats."""

from __future__ import annotations

import operator
import re
import unicodedata
from functools import lru_cache

_APOSTROPHES = re.compile(r"['’`´]")
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)
_REPEATS = re.compile(r"(.)\1+")
_first_group = operator.itemgetter(1)


def fold(text: str) -> str:
    """Lower case without diacritics: 'Tiranë' -> 'tirane', 'Ç' -> 'c'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():
        return decomposed  # no combining marks in ASCII: no walk over every letter
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise(text: str) -> str:
    """The form both sides of a comparison are reduced to.

    Repeated letters collapse ("pooo" -> "po", "rreh" -> "reh") on both sides, so the doubled
    Albanian letters rr/ll still compare equal while stretched words match.
    """
    folded = _APOSTROPHES.sub("", fold(text))
    words = _NOT_WORD.sub(" ", folded).replace("_", " ")
    # The repeated letter by a callable: a template (r"\1") runs re's Python _subx each call.
    return _REPEATS.sub(_first_group, " ".join(words.split()))


@lru_cache(maxsize=16384)
def normalise_phrase(phrase: str) -> str:
    """normalise() for the helpline's own words (labels, option words, place names), cached.

    Never for what a person wrote: the cache would keep her words in memory. Matching one
    answer against the 99 municipalities' names normalised ~400 phrases a message.
    """
    return normalise(phrase)


def tokens(text: str) -> list[str]:
    """Normalised words of a text."""
    return normalise(text).split()
