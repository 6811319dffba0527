"""Classes of misreadings the fourth held-out probe found (tests/understanding/probes/probe4.jsonl),
each read through the engine as the corpus measures it: other forms of the class, not the probe's
lines."""

from __future__ import annotations

from typing import Any

import pytest

from bot.engine import understand as u
from bot.flows.understanding import shipped_lexicon
from bot.understanding_cli import Reader

LEX = shipped_lexicon()
SQ, SQ_SAFE = {"danger": True, "lang": "sq"}, {"danger": False, "lang": "sq"}
HELP = {"en": ["Police", "Shelter", "Counselling", "Legal aid"],
        "sq": ["Policia", "Strehim", "Këshillim", "Ndihmë juridike"]}  # fmt: skip


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.shipped()


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        # A clitic and a danger verb typed as one word, in a short message.
        ("first", "pomrrah", SQ),
        ("first", "pomkercnon tash", SQ),
        ("first", "vllaumegjuajti", SQ),
        ("anywhere", "pomvrasin", "danger"),
        # ... and what only looks like one: names, places, ordinary words.
        ("first", "pershendetje, jam Armendi", SQ_SAFE),
        ("first", "strehim", SQ_SAFE),
        ("municipality", "struga", "unknown"),
        ("municipality", "mamurras", "kurbin"),
        # "jo se ..., po ..." (not that ..., but ...) negates what follows "jo se".
        ("first", "jo se me qellon, po me shan gjithe diten", SQ_SAFE),
        ("first", "jo qe me rreh, por nuk me jep leke", SQ_SAFE),
        ("danger_now", "jo se kam frike, po dua keshilla", "no"),
        # ... and without a "but" after it, "jo se" stays "no, because".
        ("first", "jo se me vret", SQ),
        # The Gheg future "ka me + participle" of cut and stab.
        ("first", "ish burri tha ka me m pre", SQ),
        ("first", "kunati ka me e there motren", SQ),
        # Coming now to where she is; coming back in minutes.
        ("first", "ish burri vjen tani te puna ime", SQ),
        ("danger_now", "kthehet pas 10 minutash", "yes"),
        ("danger_now", "home in 10 min", "yes"),
        # Sexual harassment said with its adverb.
        ("first", "shefi me ngacmon seksualisht cdo dite", SQ),
        ("first", "my stepdad is sexually harassing me", {"danger": True, "lang": "en"}),
        # SMS and Gheg forms: "rn", "pun", "shkruni", "masanej", "dakrd", "bon", "katr".
        ("danger_now", "not rn sorry", "no"),
        ("danger_now", "ai osht n pun deri n 5", "no"),
        ("safe_to_text", "mos na shkruni tani", "no"),
        ("safe_to_text", "mandej", "no"),
        ("safe_to_text", "she is watching", "no"),
        ("yes_no", "dakrt", "yes"),
        ("yes_no", "ee bon", "yes"),
        ("yes_no", "a bon?", "unclear"),
        # Questions put to us in Albanian after an English greeting; "u" of SMS English.
        ("first", "hello, a flisni anglisht?", SQ_SAFE),
        ("first", "ok thank u", {"danger": False, "lang": "en"}),
    ],
)
def test_a_class_the_fourth_probe_found(
    reader: Reader, kind: str, text: str, expected: Any
) -> None:
    assert reader.read(kind, text) == expected, text


def test_a_name_is_not_words_run_together(reader: Reader) -> None:
    assert reader.read("first", "Armend")["danger"] is False  # not "arm end" (a weapon)


@pytest.mark.parametrize(("text", "expected"), [("katrta", 4), ("pes", 5), ("nr gjasht", 6)])
def test_number_words_without_their_last_vowel(reader: Reader, text: str, expected: int) -> None:
    assert u.read_number(u.analyse(text, LEX), LEX) == expected, text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("deqani", "decan"), ("ne deqan", "decan"), ("jom n korqe", "korce"), ("Deçani", "decan")],
)
def test_q_for_c_in_place_names(reader: Reader, text: str, expected: str) -> None:
    assert reader.read("municipality", text) == expected, text


def test_a_long_message_is_not_searched_for_words_run_together() -> None:
    long = "sot ne mengjes ai me tha pomvret"
    assert "pomvret" in u.analyse(long, LEX).words
    assert u.analyse("ai pomvret", LEX).words == ("ai", "po", "m", "vret")
