"""Case tables for the understanding layer: forms, negation scope, senses, numbers, language."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import understand as u
from bot.engine.lexicon import Term
from bot.flows.understanding import shipped_lexicon
from bot.language import identify

LEX = shipped_lexicon()


def words(text: str) -> tuple[str, ...]:
    return u.analyse(text, LEX).words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tiranë", ("tirane",)),
        ("s'është", ("s", "eshte")),  # the clitic s' is a negation of its own
        ("m'ka mshel n'shpi", ("m", "ka", "mshel", "n", "shtepi")),  # Gheg shpi -> shtepi
        ("jom mir tash", ("jam", "mire", "tani")),  # Gheg forms read as standard ones
        ("sjam", ("s", "jam")),  # run together in SMS
        ("I'm fine", ("i", "am", "fine")),
        ("he's here", ("he", "is", "here")),
        ("don't", ("do", "not")),
        ("jooo", ("jo",)),  # stretched letters
        ("Помоћ", ("pomoc",)),  # Serbian Cyrillic read as Latin
        ("2️⃣", ("2",)),  # keycap emoji
    ],
)
def test_words_are_normalised_and_standardised(text, expected):
    assert words(text) == expected


def test_clauses_end_at_punctuation_and_but():
    t = u.analyse("jo, tani jam mire por kam frike", LEX)
    assert t.clauses == (0, 1, 1, 1, 2, 2)


@pytest.mark.parametrize(
    "text",
    [
        "me rrah burri",  # rrah (aorist stem)
        "burri po më rreh",  # rreh (present)
        "më rrahu sonte",  # -u
        "e rrahën vëllezërit",  # -ën
        "më qëlloi",
        "më goditi",
        "ka një thikë",
        "mori thikën",  # case ending on a noun
        "my husband hits me",
        "help me",
        "m'kërcnon me thikë",  # Gheg
        "ka me na vra",
        "s'po muj me dal",  # a negation that is part of the danger
        "m'ka mshel n'shpi",
        "Помоћ, закључао ме је у кући",
        "burri po më rreh, ndihmoni",
        "im not ok he hit me again",  # a new subject ends the negation's reach
        "he has a gun and says he'll kill me if i leave",  # the "if" is not where the threat is
    ],
)
def test_danger_now_is_found_in_any_form(text):
    assert u.read_danger(text, LEX), text


@pytest.mark.parametrize(
    "text",
    [
        "nuk jam ne rrezik",  # negation before
        "s'më rreh më",  # s' before, "any more"
        "burri m'bërtet shumë po s'm'ka rrah kurrë",  # clitics between negation and verb
        "I'm not in danger, I just want information",
        "no one is hurting me",
        "më rrihte para dy vitesh, tani jam mirë",  # clearly in the past
        "he used to hit me years ago",
        "ndihme",  # asking for help is not danger by itself
        "Hello, I need some help please",
        "si i ndihmoni grate?",  # "how do you help", not "help!"
        "dua informacion per urdhrin e mbrojtjes",
        "hi there",  # "there" is not Albanian "therr" (stab)
        "ai nuk më lë të punoj",  # control, not confinement
        "nese dikush e shkel urdhrin, cfare denimi merr?",  # supposes: a question about the law
        "me vrau merzia ketu ne fshat",  # bored to death: an idiom
        "a ka strehimore ne Gjakove?",  # "gjak" (blood) is not in Gjakovë
    ],
)
def test_negated_past_or_benign_is_not_danger(text):
    assert not u.read_danger(text, LEX), text


def test_negation_scope_stops_at_a_clause():
    # "nuk" refuses what follows it in its clause only.
    assert u.read_danger("nuk e di, po me rreh", LEX)
    assert not u.read_danger("nuk po me rreh", LEX)


@pytest.mark.parametrize(
    ("text", "sense", "expected"),
    [
        ("jam mirë", "danger_now", "no"),
        ("mirë", "danger_now", "no"),  # fine, to "are you in danger?"
        ("mirë", None, "yes"),  # fine, to an ordinary yes/no question
        ("ok", "danger_now", "no"),
        ("jo jam mire", "danger_now", "no"),
        ("nuk jam ne rrezik", "danger_now", "no"),
        ("nuk jam mire", "danger_now", "yes"),  # "I'm not OK": a fine-word negated
        ("ka ikur", "danger_now", "no"),
        ("ai eshte ketu", "danger_now", "yes"),
        ("ndihme", "danger_now", "yes"),
        ("nuk e di, mund te kthehet", "danger_now", "unclear"),
        ("nuk jam e sigurt", "safe_to_text", "no"),  # not safe, to "safe to text?"
        ("nuk jam e sigurt", None, "unclear"),  # not sure, elsewhere
        ("s'është", "safe_to_text", "no"),
        ("më vonë", "safe_to_text", "no"),
        ("po, jam vetem", "safe_to_text", "yes"),
        ("jo polici", "consent", "no"),
        ("nuk dua polici", "consent", "no"),
        ("pa polici", "consent", "no"),
        ("policia jo", "consent", "no"),  # the refusal after the noun
        ("policine mos e lajmeroni", "consent", "no"),
        ("po, policine po", "consent", "yes"),
        ("po, por mos vini me sirena", "consent", "yes"),  # "mos" refuses the sirens only
        ("s'ka problem", None, "yes"),  # an idiom with a negation in it
        ("s'du", None, "no"),
        ("jo jo", None, "no"),
        ("po, por jo tani", None, "no"),  # a "but" clause corrects what came before
        ("po, jo", None, None),  # both, nothing corrects: asked again
        ("ka dal po tha kthehem shpejt", "danger_now", "yes"),  # both: safety first
        ("po fle ne krah timin", "safe_to_text", "no"),  # asleep, but next to her
        ("hmm jo, akoma jo", "consent", "no"),
        ("nuk e di", None, "unclear"),  # its own answer, never a no
        ("dy", None, "no"),  # option 2
        ("nje", None, "yes"),
        ("ee", None, "yes"),  # Gheg yes
        ("da", None, "yes"),
        ("jam ne shtepi", None, None),  # Albanian "ne" is "in", not Serbian "no"
    ],
)
def test_yes_no_is_read_for_the_question_asked(text, sense, expected):
    assert u.read_yes_no(text, LEX, sense) == expected


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("2", 2),
        ("nr 2", 2),
        ("opsioni 4", 4),
        ("3.", 3),
        ("2️⃣", 2),
        ("dy", 2),
        ("tre ju lutem", 3),
        ("e dyta", 2),
        ("i pari", 1),
        ("second", 2),
        ("the third one", 3),
        ("druga", 2),  # Serbian
        ("dy ose tre", None),  # two numbers: not one choice
        ("dy femije", None),  # a number inside a sentence is not a choice
    ],
)
def test_numbers_words_and_ordinals(text, number):
    assert u.read_number(u.analyse(text, LEX), LEX) == number


MENU = [
    u.Choice("police", u.phrase_patterns(["Policia", "Police"])),
    u.Choice("shelter", u.phrase_patterns(["Strehim", "Shelter"])),
    u.Choice("legal", u.phrase_patterns(["Ndihmë juridike", "Legal aid"])),
]
MENU = [
    u.Choice(c.value, c.patterns + u.meaning_patterns(
        [" ".join(t.value for t in p) for p in c.patterns], LEX, LEX.option_concepts
    ))
    for c in MENU
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("policia", "police"),
        ("strehim", "shelter"),
        ("avokat", "legal"),  # a word of the same meaning as the label
        ("dua nje vend ku te fle", "shelter"),
        ("jo polici", None),  # refused: never picked
        ("policine jo, strehim po", "shelter"),
        ("2", "shelter"),
        ("e treta", "legal"),
        ("nuk e di", None),
    ],
)
def test_choices_by_label_meaning_number_and_refusal(text, value):
    assert u.read_choice(text, MENU, LEX) == value


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("Tiranë", "tiranes"),
        ("Tiranë", "tirana"),
        ("Tiranë", "tiranen"),
        ("Shkodër", "shkodra"),  # ë dropped before the last consonant
        ("Shkodër", "shkodres"),
        ("Kamëz", "kamza"),
        ("Durrës", "durresit"),
        ("Vau i Dejës", "vau dejes"),  # the article dropped
        ("Mitrovica e Veriut", "mitrovicen e veriut"),  # the first word declined
    ],
)
def test_place_names_in_their_case_forms(name, typed):
    assert words(typed) in u.place_forms(name)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("burri po me rreh", "sq"),
        ("më goditi", "sq"),
        ("jom n'shpi vet", "sq"),
        ("Hello, I need some help please", "en"),
        ("my husband hits me", "en"),
        ("hi", "en"),
        ("tung", "sq"),
        ("Muž me tuče, pomozite", "sr"),
        ("Помоћ", "sr"),
        ("ok", None),  # no language in it: the menu asks
        ("2", None),
    ],
)
def test_language_of_a_first_message(text, language):
    assert u.read_language(text, LEX, identify) == language


def test_patterns_take_clause_start_and_end():
    t = u.analyse("si i ndihmoni grate", LEX)
    pattern = (Term("start"), Term("word", "ndihmoni"))
    assert u.find_patterns(t, [pattern], LEX) == []
    t = u.analyse("burri me rreh, ndihmoni ju lutem", LEX)
    assert u.find_patterns(t, [pattern], LEX) == [u.Hit(3, 4)]


def test_the_patterns_a_word_may_start_are_each_filed_pattern_whose_keys_fit() -> None:
    """_Starts files a concept-led pattern (the danger keyword's) under each of its keys: a word
    finds the patterns a test of every pattern's keys finds, each once."""
    from bot.engine.understand import _ANY, PREFIX_KEY, _index, _starts
    from bot.flows.library import FlowLibrary

    shipped = FlowLibrary(Path(u.__file__).parents[1] / "flows")
    assert shipped.reload().ok
    keywords = shipped.keywords
    assert any(k.intent == "danger" for k in keywords.keywords)
    index = _index(keywords.lexicon)
    # Every word a concept's pattern starts with, and words beginning with each filed prefix.
    words = {w for filed in index.exact.values() for w in filed}
    words |= {f"{p}{end}" for filed in index.prefix.values() for p in filed for end in ("", "ej")}
    words |= {"x", "babi", "sot"}
    assert len(words) > 500
    for keyword in keywords.keywords:
        for patterns in keyword.phrases.values():
            keys = [(p, index._first(p, set())) for p in patterns]
            starts = _starts(patterns, keywords.lexicon)
            for word in words:
                fits = {("w", word), ("p", word[:PREFIX_KEY]), _ANY}
                expected = [id(p) for p, k in keys if k & fits]
                found = [id(p) for p in starts.candidates(word)]
                assert sorted(found) == sorted(expected), (keyword.intent, word)


@pytest.mark.parametrize(
    "text",
    [
        "no one is hurting me",  # the one contraction without an apostrophe
        "No One  knows, i'm scared",
        "i can’t leave, he won't let me",
        "s'm'ka rrah, n`shpi, t´ia",  # clitics with each kind of apostrophe
        "it's five o'clock, rock’n’roll",  # apostrophes inside words go
        "Tiranë, Shkodër; Ç'është kjo?",
        "мене бије",  # Cyrillic
        "po",
        "",
        "2\ufe0f\u20e3",  # keycaps: only a text with one runs their expression
        "opsioni 3\u20e3, jo 1\ufe0f\u20e3",
        "\u20e3 4 \ufe0f\u20e3",
        "nr3\u20e3 jo",  # a keycap without its variation selector, stuck to a word
    ],
)
def test_a_reading_skips_only_what_cannot_match(text: str) -> None:
    """Performance: without an apostrophe the contractions that need one and the clitics are not
    run, without a keycap its expression (a template: re's Python _subx) is not, and ASCII is
    not walked for combining marks; the reading is the one the long way gives."""
    import unicodedata

    from bot.engine.lexicon import CONTRACTIONS
    from bot.engine.normalise import fold

    folded = unicodedata.normalize("NFKD", text.casefold())
    assert fold(text) == "".join(ch for ch in folded if not unicodedata.combining(ch))
    long_way = fold(u._KEYCAP.sub(r" \1 ", text))
    if u._HAS_CYRILLIC.search(long_way):
        long_way = long_way.translate(u._CYRILLIC)
    for pattern, replacement in CONTRACTIONS:
        long_way = pattern.sub(replacement, long_way)
    long_way = u._APOSTROPHE.sub("", u._CLITIC.sub(r"\1 ", long_way))
    words = [u._collapse(w) for part in u._BOUNDARY.split(long_way) for w in u._WORD.findall(part)]
    boundary = u._single_words(LEX, u.BOUNDARY_WORDS)
    expected = [s for w in words if w not in boundary for s in LEX.variants.get(w, (w,))]
    assert list(u.analyse(text, LEX).words) == expected
