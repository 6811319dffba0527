"""The understanding layer reads every text as it did when its results were pinned.

The pinned hashes (understand_pinned.json) were made on the code before the layer was made
faster (issue 19): a change for speed must leave every reading of every text the same. See
tests/engine/understand_readings.py for the texts, the readings and how to find a difference.
A change meant to read differently (the lexicon, the flows, the corpus, a reading) re-pins:
`.venv/bin/python -m tests.engine.understand_readings --write`, its diff reviewed with --dump
on the commit before and after.
"""

from __future__ import annotations

import json

import pytest

from tests.engine.understand_readings import PINNED, Readings, all_texts, digest, texts_digest


@pytest.fixture(scope="module")
def pinned() -> dict[str, dict[str, object]]:
    return json.loads(PINNED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def readings() -> Readings:
    return Readings()


@pytest.mark.parametrize("source", ["corpus", "probes", "dev", "variants"])
def test_every_reading_of_every_text_is_the_pinned_one(
    source: str, pinned: dict[str, dict[str, object]], readings: Readings
) -> None:
    texts = all_texts().get(source)
    if texts is None:
        pytest.skip(f"no {source} texts here (../shared is not checked out)")
    assert texts_digest(texts) == pinned["texts"][source], "the texts are not the pinned ones"
    expected = pinned["readings"][source]
    assert isinstance(expected, list)
    differ = [
        (n, text, readings.of(text))
        for n, text in enumerate(texts)
        if digest(readings.of(text)) != expected[n]
    ]
    # The first few that differ, with what they read now (compare with --dump on the old code).
    assert not differ, (
        f"{len(differ)} texts read differently, e.g. {differ[:3]}; if meant, re-pin (see the"
        " module's docstring)"
    )
