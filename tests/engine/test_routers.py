"""Case tables for the routers: what an answer means to each kind of question."""

from __future__ import annotations

from datetime import date

import pytest

from bot.engine.definition import Option, Route, Wait
from bot.engine.routers import (
    choose,
    route_date,
    route_municipality,
    route_number,
    route_options,
    route_text,
    route_yes_no,
)
from bot.flows.understanding import shipped_lexicon
from bot.matching import similarity

from .conftest import PLACES, TEXTS

LEXICON = shipped_lexicon()
LABELS = {"t.shelter": ("Strehim", "Shelter"), "t.police": ("Policia", "Police")}


def labels(msgid):
    return LABELS.get(msgid, ()) or tuple(t for (lang, m), t in TEXTS.items() if m == msgid)


WAIT = Wait(
    text="t.q",
    router="options",
    routes={"shelter": Route("a"), "police": Route("b")},
    options=(
        Option("shelter", "t.shelter", ("strehe", "shtepi e sigurt")),
        Option("police", "t.police", ("polici",)),
    ),
)


@pytest.mark.parametrize(
    ("text", "button", "expected"),
    [
        ("1", None, "shelter"),
        (" 2 ", None, "police"),
        ("2.", None, "police"),
        ("3", None, None),
        ("0", None, None),
        ("strehim", None, "shelter"),
        ("STREHIM", None, "shelter"),
        ("Shelter", None, "shelter"),  # the label in the other language counts too
        ("strehë", None, "shelter"),
        ("shtëpi e sigurt", None, "shelter"),
        ("dua strehim ju lutem", None, "shelter"),
        ("policia", None, "police"),
        ("policja", None, "police"),  # a typo
        ("polica", None, "police"),
        ("strehim ose policia", None, None),  # two answers: ask again
        ("banana", None, None),
        ("", None, None),
        ("whatever", "police", "police"),  # a pressed button wins
    ],
)
def test_options(text, button, expected):
    match = route_options(WAIT, text, button, labels, similarity, LEXICON)
    assert (match.category if match else None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("po", "yes"),
        ("Po", "yes"),
        ("POOO", "yes"),
        ("p", "yes"),
        ("1", "yes"),
        ("mirë", "yes"),
        ("ne rregull", "yes"),
        ("dakord", "yes"),
        ("ani", "yes"),
        ("yes", "yes"),
        ("Yes please", "yes"),
        ("da", "yes"),
        ("jo", "no"),
        ("J", "no"),
        ("2", "no"),
        ("nuk dua", "no"),
        ("s'dua", "no"),
        ("aspak", "no"),
        ("kurrë", "no"),
        ("no", "no"),
        ("ne", "no"),  # Serbian "no", as a whole answer
        ("jam ne shtepi", None),  # "ne" inside Albanian is "in", not "no"
        ("nuk e di", "unsure"),  # "I don't know" is its own answer, never a no
        ("nuk jam e sigurt", "unsure"),
        ("po, por jo tani", "no"),  # "but" corrects: yes, but not now
        ("po, jo", None),  # both: ask again
        ("3", None),
        ("banana", None),
    ],
)
def test_yes_no(text, expected):
    match = route_yes_no(text, None, labels, similarity, LEXICON)
    assert (match.category if match else None) == expected
    if match and expected in ("yes", "no"):
        assert match.value is (expected == "yes")


@pytest.mark.parametrize(
    ("text", "category", "slug"),
    [
        ("Tiranë", "found", "tirane"),
        ("tirane", "found", "tirane"),
        ("tirana", "found", "tirane"),
        ("TIRANA", "found", "tirane"),
        ("tiranë", "found", "tirane"),
        ("jam ne tirane", "found", "tirane"),
        ("shkodra", "found", "shkoder"),
        ("shkoder", "found", "shkoder"),
        ("Prishtina", "found", "prishtine"),
        ("prishtna", "found", "prishtine"),  # a typo
        ("Pristina", "found", "prishtine"),
        ("vau i dejes", "found", "vau-i-dejes"),
        ("Vau i Dejës", "found", "vau-i-dejes"),
        ("nuk e di", "unknown", None),
        ("nuk dua ta them", "unknown", None),
        ("I don't know", "unknown", None),
        ("london", "unknown", None),  # outside Albania and Kosovo: not a guess
        ("po", None, None),
    ],
)
def test_municipality(text, category, slug):
    match = route_municipality(text, PLACES, similarity, LEXICON)
    assert (match.category if match else None) == category
    if match:
        assert match.value == slug


TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23.11.2026", "2026-11-23"),
        ("1/2/2026", "2026-02-01"),
        ("2026-11-02", "2026-11-02"),
        ("5.3.26", "2026-03-05"),
        ("20.11", "2026-11-20"),
        ("30.12", "2025-12-30"),  # without a year: the latest past one
        ("sot", "2026-11-23"),
        ("Today", "2026-11-23"),
        ("dje", "2026-11-22"),
        ("pardje", "2026-11-21"),
        ("31.02.2026", None),
        ("nesër ndoshta", None),
        ("hello", None),
    ],
)
def test_date(text, expected):
    match = route_date(text, TODAY)
    assert (match.value if match else None) == expected


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ("3", 1, 5, 3),
        ("0", 1, 5, None),
        ("6", 1, 5, None),
        ("x", None, None, None),
        ("12", None, None, 12),
    ],
)
def test_number(text, low, high, expected):
    match = route_number(text, low, high)
    assert (match.value if match else None) == expected


def test_text_keeps_the_words_and_marks_them_free_text():
    match = route_text("  he took my phone  ")
    assert match.category == "any" and match.value == "he took my phone" and match.free_text
    assert route_text("   ") is None


def test_choose_refuses_a_tie():
    assert choose("abcd", [("a", "abce"), ("b", "abcf")], similarity) is None
