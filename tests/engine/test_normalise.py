"""normalise() collapses repeats by a callable: the same text as re's template r"\\1"."""

from __future__ import annotations

import random
import re

from bot.engine.normalise import _APOSTROPHES, _NOT_WORD, _REPEATS, fold, normalise

ALPHABET = "aabbëeçcrrll  ''’_-.,!?\n\t0112ŠšжЖ😀\u20e3\ufe0f"


def template_way(text: str) -> str:
    """normalise as it was written before: the repeats collapsed by a template."""
    folded = _APOSTROPHES.sub("", fold(text))
    words = _NOT_WORD.sub(" ", folded).replace("_", " ")
    return _REPEATS.sub(r"\1", " ".join(words.split()))


def test_normalise_is_the_template_way_on_many_texts() -> None:
    rng = random.Random(19)
    texts = ["", "pooo", "Rrrreh", "jam  mirë", "I'm   fiiine", "a\n\nb", "__x__"]
    texts += ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    for text in texts:
        assert normalise(text) == template_way(text), text
    assert re.search(r"(.)\1", normalise("pooo  rrreh")) is None
