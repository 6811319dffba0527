"""Classes of misreadings a held-out probe found (/work/notes/probe.jsonl), each read through
the engine as the corpus measures it: forms of the class, not only the probe's line."""

from __future__ import annotations

from typing import Any

import pytest

from bot.engine import understand as u
from bot.flows.understanding import shipped_lexicon
from bot.understanding_cli import Reader

LEX = shipped_lexicon()
POLICE = {"en": ["Police", "Shelter", "Counselling", "Legal aid"],
          "sq": ["Policia", "Strehim", "Këshillim psikologjik", "Ndihmë juridike"]}  # fmt: skip
WHEN = {"en": ["Morning", "Afternoon", "Evening", "Any time"],
        "sq": ["Në mëngjes", "Pasdite", "Në mbrëmje", "Në çdo kohë"]}  # fmt: skip
YES_NO = {"en": ["Yes", "No", "Later", "Stop"], "sq": ["Po", "Jo", "Më vonë", "Ndalo"]}


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.shipped()


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        # A whole-only word ("ok", "da", "ne") with only thanks or please beside it.
        ("yes_no", "ok flm", "yes"),
        ("yes_no", "da hvala", "yes"),
        ("yes_no", "ok faleminderit shume", "yes"),
        ("yes_no", "nuk jam ne shtepi", "unclear"),  # Albanian "ne" (in) is still no Serbian no
        # Gheg drops the last ë: von (vonë), nji (një), mbrëma (mbrëmje).
        ("safe_to_text", "me von", "no"),
        ("safe_to_text", "ma von pak", "no"),
        ("menu", "nji", 1),
        ("menu", "ma von", 3),
        ("menu", "mbrema", 3),
        ("menu", "mbramje", 3),
        # Serbian "sad" for "sada" (now); "upomoć" (help!).
        ("safe_to_text", "ne sad", "no"),
        ("anywhere", "upomoć", "danger"),
        ("anywhere", "УПОМОЋ", "danger"),
        # "can write / can talk" in Gheg infinitives.
        ("safe_to_text", "po mundesh me shkru", "yes"),
        ("safe_to_text", "mundesh me fol tash", "yes"),
        ("safe_to_text", "s'mundesh me shkru tash", "no"),
        # A time with its unit stuck on.
        ("safe_to_text", "only after 8pm", "no"),
        ("safe_to_text", "pas ores 9pm", "no"),
        # The clitic run into the verb without an apostrophe: mrreh, mrrahu, mkercnon.
        ("first", "burri po mrreh", {"danger": True, "lang": "sq"}),
        ("first", "ai mrrahu sonte", {"danger": True, "lang": "sq"}),
        ("first", "ish burri mkercnon", {"danger": True, "lang": "sq"}),
        # përndjek (stalk) beside ndjek.
        ("first", "ish-i im me perndjek kudo qe shkoj", {"danger": True, "lang": "sq"}),
        ("first", "me perndoqi deri ne shtepi", {"danger": True, "lang": "sq"}),
        # "mbylla derën" is I closed the door; he locked it still is danger.
        ("anywhere", "mbylla deren", "none"),
        ("anywhere", "e mbylla", "none"),
        ("anywhere", "ma mbylli deren dhe s'me le te dal", "danger"),
        ("first", "babi e ka mbyll deren e dhomes me mamin brenda", {"danger": True, "lang": "sq"}),
        # Weeks ago is past, unless the clause says now.
        (
            "first",
            "burri me kercenoi para nje jave por tani eshte ne burg",
            {"danger": False, "lang": "sq"},
        ),
        (
            "first",
            "he hit me last week, now i live with my parents",
            {"danger": False, "lang": "en"},
        ),
        ("first", "me rrahu javen e kaluar dhe sot prap", {"danger": True, "lang": "sq"}),
        # "po" inside a clause before tash/tani/sot is "but".
        (
            "first",
            "me kercenoi para 2 vjetesh po tash jetojme ndaras",
            {"danger": False, "lang": "sq"},
        ),
        ("first", "me rrahu para 3 vitesh po sot prap me kercnoi", {"danger": True, "lang": "sq"}),
        ("safe_to_text", "po tani", "yes"),  # at the start, still yes
        # Daughter in Gheg (çikë), herself (vetja).
        ("role", "per qiken time", "other"),
        ("role", "per cikat e mia", "other"),
        ("role", "vetja", "self"),
        # Keyword filler: "I want", "can I speak".
        ("anywhere", "dua shqip", "language"),
        ("anywhere", "du anglisht", "language"),
        ("anywhere", "a mund te flas anglisht?", "language"),
        ("anywhere", "can i speak english", "language"),
        ("anywhere", "nuk dua te fshij asgje", "none"),
        # Place names: both words of a Serbian name in the locative; a typed doubled letter.
        ("municipality", "u severnoj mitrovici", "mitrovice-e-veriut"),
        ("municipality", "jam ne durrs", "durres"),
        ("municipality", "bera gabim", "unknown"),  # four letters: not read as Berat
        # Gheg Tironë, and Golem (a former commune of Kavajë), as aliases of their municipality.
        ("municipality", "nga shkodra po tash n'tirone", "tirane"),
        ("municipality", "golem", "kavaje"),
        # "po" then only "now" or "today": yes, now (not the progressive "po").
        ("danger_now", "po tash", "yes"),
        ("danger_now", "po sot", "yes"),
        ("yes_no", "po tani", "yes"),
        # Round 3: abbreviations of time, a question about "what if", Gheg "jok", where he is.
        ("first", "he beat me up 10 yrs ago", {"danger": False, "lang": "en"}),
        ("first", "qka duhet me bo nese burri me rreh", {"danger": False, "lang": "sq"}),
        ("first", "what should i do if he hits me again", {"danger": False, "lang": "en"}),
        ("first", "po me rreh, qka duhet me bo", {"danger": True, "lang": "sq"}),
        ("yes_no", "jok", "no"),
        ("danger_now", "ai osht n'dhome tjeter", "yes"),
        ("danger_now", "hes in the next room", "yes"),
        ("safe_to_text", "ai eshte ne dhomen tjeter", "no"),
        ("safe_to_text", "po per pak minuta", "yes"),
        ("safe_to_text", "po vetem per 5 min", "yes"),
        ("role", "its me", "self"),
        ("menu", "opsioni i trete", 3),
        ("menu", "e dyte", 2),
        ("menu", "kurdohere", 4),
        ("menu", "naten", 3),
        # Round 4: where he is in the home; locked in a room with the object between.
        ("danger_now", "ai osht n'kuzhine", "yes"),
        ("danger_now", "he is in the kitchen", "yes"),
        ("danger_now", "ai nuk eshte ne kuzhine, ka dal", "no"),
        ("safe_to_text", "osht n'sallon", "no"),
        ("first", "babi e ka mbyllur mamin ne dhome dhe po bertet", {"danger": True, "lang": "sq"}),
        ("anywhere", "mbylla deren e dhomes", "none"),
        # Gheg qka for çka in the erase keyword's filler.
        ("anywhere", "fshij krejt qka kom shkru", "erase"),
    ],
)
def test_a_class_the_probe_found(reader: Reader, kind: str, text: str, expected: Any) -> None:
    options = {"menu": POLICE}.get(kind)
    if kind == "menu":
        when = text.startswith(("mbr", "kurdo", "nat"))
        options = WHEN if when else YES_NO if "von" in text else POLICE
    assert reader.read(kind, text, options) == expected, text


def test_a_time_unit_is_split_from_its_number() -> None:
    assert u.analyse("pas 8pm, 10h", LEX).words == ("pas", "8", "pm", "10", "h")
    assert u.analyse("1st", LEX).words == ("1st",)  # an ordinal stays one word


def test_po_before_now_ends_a_clause_as_but() -> None:
    t = u.analyse("me kercenoi para 2 vjetesh po tash jetojme ndaras", LEX)
    assert "po" not in t.words
    assert t.clauses[t.words.index("tani")] in t.buts
    assert t.clauses[0] != t.clauses[-1]


# A second, independent probe round (/work/notes/probe2.jsonl): witnesses and relatives, in-laws,
# Gheg and SMS forms, answers that reverse or hedge. Each class in forms other than the probe's.
@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        # "sikur po ..." (as if he is ...) reports what is heard; "sikur të ..." supposes.
        ("first", "degjoj zera nga lart, sikur po e rrah dikush", {"danger": True, "lang": "sq"}),
        ("first", "sikur te me rrahe prape, ku te shkoj?", {"danger": False, "lang": "sq"}),
        ("anywhere", "ndigjoj zera, sikur po e mbyt dikush", "danger"),
        # What a witness hears.
        ("first", "i can hear the woman next door screaming", {"danger": True, "lang": "en"}),
        ("first", "po degjoj te bertitura nga shtepia e komshiut", {"danger": True, "lang": "sq"}),
        ("first", "i ndigjoj qe bertasin te fqinjet", {"danger": True, "lang": "sq"}),
        # Kept locked in, said of someone else.
        ("first", "vjehrra e mban nusen te mbyllur ne dhome", {"danger": True, "lang": "sq"}),
        # Gheg najsen (once, some time ago) is past.
        ("first", "burri m'ka qellu najsen, tash jetoj vet", {"danger": False, "lang": "sq"}),
        # A threat to find her; hands put on her.
        ("first", "tha qe do me gjej kudo qe te shkoj", {"danger": True, "lang": "sq"}),
        ("first", "he texted that he will find me", {"danger": True, "lang": "en"}),
        ("first", "i vuri duart motres sime", {"danger": True, "lang": "sq"}),
        # Serbian "ne" before the verb negates it ("ne" is also Albanian "in").
        ("anywhere", "on me više ne tuče", "none"),
        ("first", "муж ме више не туче, треба ми информација", {"danger": False, "lang": "sr"}),
        # "nuk dua të dal nga biseda" is not "he won't let me out".
        ("anywhere", "nuk dua te dal nga kjo bisede", "none"),
        ("anywhere", "nuk me le te dale nga shtepia", "danger"),
        # In-laws and the Gheg boy are someone else.
        ("role", "per nusen time", "other"),
        ("role", "per vjehrrin", "other"),
        ("role", "per cunin", "other"),
        # Gheg a'a is no.
        ("yes_no", "a’a", "no"),
        # A "jo" spent on the phrase before it: "later no" is no answer of its own.
        ("safe_to_text", "tani po, me vone jo", "yes"),
        # A negation that begins a yes reaches no further ("s'kam problem me policinë").
        ("consent", "nuk kam problem me policine", "yes"),
        ("consent", "s'kam kundershtim per polici", "yes"),
        ("safe_to_text", "s'ka asnje problem", "yes"),
        ("safe_to_text", "osht n'rregull", "yes"),
        # "I don't know if ..." is unsure, not a no to what follows.
        ("consent", "s'e di a duhet", "unclear"),
        ("yes_no", "nuk e di a dua", "unclear"),
        ("consent", "i would rather not", "no"),
        # A refused number on a menu; numeral nouns.
        ("menu", "jo e treta, e katerta", 4),
        ("menu", "not 2, 3", 3),
        ("menu", "2 jo, 1", 1),
        ("menu", "dyshin", 2),
        ("menu", "treshi", 3),
        # "po" with only words of address or thanks; Kosovo "hajde", "ee ani".
        ("yes_no", "po zemer", "yes"),
        ("yes_no", "hajde", "yes"),
        ("yes_no", "ee ani", "yes"),
        # Serbian "mogu" (I can), "ne mogu" (I can't).
        ("safe_to_text", "mogu", "yes"),
        ("safe_to_text", "ne mogu", "no"),
        # Keyword filler: "from here", "everything".
        ("anywhere", "dil nga ktu", "exit"),
        ("anywhere", "fshij cdo gje", "erase"),
    ],
)
def test_a_class_the_second_probe_found(
    reader: Reader, kind: str, text: str, expected: Any
) -> None:
    assert reader.read(kind, text, POLICE if kind == "menu" else None) == expected, text


WHO = {"en": ["Husband or partner", "Ex-husband or ex-partner", "Family member", "Someone else"],
       "sq": ["Burri ose partneri", "Ish-burri ose ish-partneri", "Anëtar i familjes",
              "Dikush tjetër"]}  # fmt: skip


# "Someone else" is the catch-all: a relative is a family member, a friend or neighbour is
# someone else (on main both tied, and nothing was chosen).
@pytest.mark.parametrize(
    ("text", "expected"),
    [("motra", 3), ("djali", 3), ("babi", 3), ("my brother", 3), ("vjehrra ime", 3),
     ("shoqja", 4), ("fqinji", 4), ("a neighbour", 4), ("dikush tjeter", 4)],
)  # fmt: skip
def test_a_relative_is_a_family_member_before_someone_else(
    reader: Reader, text: str, expected: int
) -> None:
    assert reader.read("menu", text, WHO) == expected, text
