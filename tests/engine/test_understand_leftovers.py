"""The understanding layer's leftovers from the fourth probe, fixed by class and read through the
engine as the corpus measures them: other wordings of each class, not the probe's lines."""

from __future__ import annotations

from typing import Any

import pytest

from bot.understanding_cli import Reader


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.shipped()


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        # A municipality's name clipped, alone or after "në"/"nga": the place, when only one
        # municipality's name starts so.
        ("municipality", "prishti", "prishtine"),
        ("municipality", "jam ne prisht", "prishtine"),
        ("municipality", "nga mitrov", "mitrovice"),
        ("municipality", "mitro veri", "mitrovice-e-veriut"),
        ("municipality", "ne prisht", "prishtine"),
        ("municipality", "kamen", "kamenice"),
        ("municipality", "elbas", "elbasan"),
        # ... and not when it is short, could be two places, or is the start of a word we know.
        ("municipality", "pri", "unknown"),
        ("municipality", "pris", "unknown"),
        ("municipality", "mal", "unknown"),
        ("municipality", "mall", "unknown"),
        ("municipality", "gram", "unknown"),
        ("municipality", "e bera", "unknown"),
        ("municipality", "fush", "unknown"),
        ("municipality", "gjak", "unknown"),
        ("municipality", "nuk e di", "unknown"),
        # An answer that trails off on a "but" is a hedge: asked again, not a yes or a no.
        ("danger_now", "jam ok po...", "unclear"),
        ("danger_now", "jam mire, por", "unclear"),
        ("danger_now", "I'm okay but...", "unclear"),
        ("danger_now", "s'jam ne rrezik po", "unclear"),
        ("safe_to_text", "po por...", "unclear"),
        # ... while a "but" with something after it keeps its reading.
        ("danger_now", "jam mire po ai po vjen", "yes"),
        ("danger_now", "s'jam ne rrezik, po dua te flas", "no"),
        ("consent", "ok po", "yes"),
        ("consent", "policine jo, po strehim po", "no"),
        # A yes with a condition on how she is reached is a yes to the police.
        ("consent", "ok, ama mos me thirrni", "yes"),
        ("consent", "dakord, por mos me thirrni, shkruani", "yes"),
        ("consent", "po, vetem mos me merrni ne telefon", "yes"),
        ("consent", "yes but don't call me, text only", "yes"),
        ("consent", "po, por jo thirrje, vetem mesazh", "yes"),
        # ... a refusal of the police stays a no, a "no" before it too.
        ("consent", "po, por pa polici", "no"),
        ("consent", "jo, mos me thirrni", "no"),
        # "Not that I don't want to, but ..." is a hedge, neither yes nor no.
        ("consent", "jo se nuk dua, po me vjen turp", "unclear"),
        ("consent", "jo qe s'dua, po kam frike nga ai", "unclear"),
        ("yes_no", "jo se s dua, po s kam kohe", "unclear"),
        # ... and "not that he beats me, but ..." still negates what follows.
        ("danger_now", "jo se jam ne rrezik, po dua te flas", "no"),
    ],
)
def test_leftover_classes(reader: Reader, kind: str, text: str, expected: Any) -> None:
    assert reader.read(kind, text) == expected
