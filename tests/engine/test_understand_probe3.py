"""Classes of misreadings the third held-out probe found (tests/understanding/probes/probe3.jsonl),
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
WHO = {"en": ["Husband", "Ex-husband", "Father", "Someone else"],
       "sq": ["Burri", "Ish-burri", "Babai", "Dikush tjetër"]}  # fmt: skip
WHO_MINE = {"en": ["My husband", "My ex-husband", "My father", "Someone else"],
            "sq": ["Burri im", "Ish-burri im", "Babai im", "Dikush tjetër"]}  # fmt: skip
WHO_OR = {"en": ["Husband / partner", "Ex-husband / ex-partner", "A relative", "Someone else"],
          "sq": ["Burri ose partneri", "Ish-burri ose ish-partneri", "Një i afërm",
                 "Dikush tjetër"]}  # fmt: skip
WHEN = {"en": ["Morning", "Afternoon", "Evening", "Never"],
        "sq": ["Në mëngjes", "Pasdite", "Në mbrëmje", "Kurrë"]}  # fmt: skip
KIDS = {"en": ["Yes, with me", "Yes, not with me", "No", "I'd rather not say"],
        "sq": ["Po, me mua", "Po, jo me mua", "Jo", "Nuk dua të them"]}  # fmt: skip


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.shipped()


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        # The subjunctive and future of kill, strangle, stab, cut, find.
        ("first", "tha qe do na mbyse te gjitheve", SQ),
        ("first", "ai i tha vajzes do te mbysi", SQ),
        ("first", "me tha do me there sonte", SQ),
        ("first", "ka than qe ma pret fytin", SQ),
        ("first", "ish-i me shkruan qe do me gjeje kudo te shkoj", SQ),
        # Grabbed by the hair or the throat, any tense, Gheg clitics.
        ("first", "m'ka kap per fyti", SQ),
        ("first", "e kapi per floket motren time", SQ),
        # "me forc" (by force) typed without its vowel; forced to sleep with him, Gheg too.
        ("first", "me mori me forc ne dhome", SQ),
        ("first", "me ka detyru me fjet me te", SQ),
        # A plea overheard: "mos më rrih" is a beating.
        ("first", "degjoj fqinjen duke thene mos me godit", SQ),
        ("first", "the neighbour keeps crying stop hitting me", {"danger": True, "lang": "en"}),
        ("anywhere", "mos me rrih", "danger"),
        # Touching against her will or at night: sexual abuse without its name.
        ("first", "kunati me prek pa dashjen time", SQ),
        ("first", "xhaxhai e prek naten vajzen", SQ),
        ("first", "her uncle touched her and she is 12", {"danger": True, "lang": "en"}),
        # Waiting for her where she goes (stalking); not let go home; held like a slave.
        ("first", "ish burri me pret para shkolles se djalit cdo dite", SQ),
        ("first", "po me pret ne dalje te punes", SQ),
        ("first", "nuk me le te kthehem te prinderit", SQ),
        ("first", "vjehrra me mban si skllave", SQ),
        # The imperfect is what used to happen; with "now/again" it still is.
        ("first", "babai e rrihte nenen, tani jane te ndare", SQ_SAFE),
        ("first", "ai me godiste shpesh, jemi ndare", SQ_SAFE),
        ("first", "me rrihte dhe sot me rrahu prap", SQ),
        # A past year ("in 2015") against "since 2020", which goes on.
        ("first", "ne 2018 me ka goditur ish burri, a ka afat per kallezim?", SQ_SAFE),
        ("first", "qe nga 2020 me rreh", SQ),
        # Women in general; fear of the future or of the court.
        ("first", "a eshte e vertete qe ndihmoni grate qe i rreh burri?", SQ_SAFE),
        ("first", "kam frike per te ardhmen e femijeve", SQ_SAFE),
        ("anywhere", "kam frike nga gjyqi", "none"),
        ("first", "kam frike nga burri", SQ),
        # Serbian "ne" with the verb and its clitic: not any more.
        ("first", "ne bije me vise", {"danger": False, "lang": "sr"}),
        # A yes that tells of danger going on is not safe to text.
        ("safe_to_text", "po, tani po me qellon", "no"),
        ("safe_to_text", "po po me rreh", "no"),
        ("safe_to_text", "yes he is hitting me now", "no"),
        ("safe_to_text", "po, me rrahu dje, tani jam vetem", "yes"),
        ("safe_to_text", "po, tani nuk me rreh", "yes"),
        # "po" opening a clause after a no is "but", not yes; "po tash" keeps its reading.
        ("danger_now", "jo s'jam ne rrezik, po dua te flas me dike", "no"),
        ("danger_now", "nuk jam ne rrezik, po kam nevoje per keshilla", "no"),
        ("danger_now", "jo, po femijet po i rreh", "yes"),
        ("danger_now", "jo. po tash po vjen", "yes"),
        # A leading "po" before what she says of him or herself is a yes.
        ("danger_now", "po ai eshte i dehur", "yes"),
        ("yes_no", "po jam ketu", "yes"),
        # Made to have sex; showing up where she is.
        ("first", "he made me have sex with him when i said no", {"danger": True, "lang": "en"}),
        ("first", "he keeps showing up at my work", {"danger": True, "lang": "en"}),
        # Help asked to find or understand something is a request; a plea for help stays one.
        ("first", "me ndihmoni te gjej nje avokat", SQ_SAFE),
        ("first", "me ndihmo te kuptoj te drejtat e mia", SQ_SAFE),
        ("first", "can you help me find a lawyer", {"danger": False, "lang": "en"}),
        ("first", "me ndihmoni ju lutem", SQ),
        ("first", "please help me", {"danger": True, "lang": "en"}),
        # Albanian words a vote missed.
        ("first", "sa kushton?", SQ_SAFE),
    ],
)
def test_a_class_the_third_probe_found(reader: Reader, kind: str, text: str, expected: Any) -> None:
    assert reader.read(kind, text) == expected, text


@pytest.mark.parametrize(
    ("options", "text", "expected"),
    [
        # The exact label wins over a label that merely contains it; "ish" picks the ex.
        (WHO, "burri", 1),
        (WHO, "ish burri", 2),
        (WHO, "ish-burri im", 2),
        (WHO, "ishi", 2),
        (WHO_MINE, "burri", 1),
        (WHO_MINE, "ish burri", 2),
        (WHO_MINE, "babai", 3),
        (WHO_OR, "burri", 1),
        (WHO_OR, "partneri", 1),
        (WHO_OR, "ish partneri", 2),
        (WHO_OR, "ex", 2),  # a short word of one label only
        (WHO_OR, "my ex", 2),
        # A label is its option's own name: it beats another option's meaning of the same words.
        (WHO, "dikush tjeter", 4),
        (WHO, "babai", 3),
        (WHO, "babi", 3),
        (KIDS, "jo", 3),
        (KIDS, "po, jo me mua", 2),
        (KIDS, "s'dua te them", 4),
        (KIDS, "po me mua", 1),
        # "Në" of a label is Albanian "in", not the Serbian no.
        (WHEN, "kurre", 4),
        (WHEN, "never", 4),
        (WHEN, "ne mengjes", 1),
    ],
)
def test_menus_whose_labels_share_words(
    reader: Reader, options: dict[str, list[str]], text: str, expected: int
) -> None:
    assert reader.read("menu", text, options) == expected, text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ne veri te mitrovices", "mitrovice-e-veriut"),
        ("pjesa veriore e mitrovices", "mitrovice-e-veriut"),
        ("mitrovica jug", "mitrovice"),
        ("ne mitrovice", "mitrovice"),
    ],
)
def test_the_north_of_a_divided_town(reader: Reader, text: str, expected: str) -> None:
    assert reader.read("municipality", text) == expected, text


def test_a_year_is_past_only_after_in() -> None:
    t = u.analyse("ne 2015 me rrahu", LEX)
    hit = u.find(t, u.DANGER, LEX)[0]
    assert u.in_past(t, hit, LEX)
    t = u.analyse("prej 2015 me rreh", LEX)
    assert not u.in_past(t, u.find(t, u.DANGER, LEX)[0], LEX)


def test_label_alternatives() -> None:
    assert u.label_alternatives("Burri / partneri") == ["Burri", "partneri"]
    assert u.label_alternatives("Burri ose partneri") == ["Burri", "partneri"]
    assert u.label_alternatives("Husband or partner") == ["Husband", "partner"]
    assert u.label_alternatives("Policia") == []
    assert u.label_alternatives("Mosha") == []  # "ose" inside a word is no "or"
