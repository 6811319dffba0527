"""Dialogue tables for every shipped flow, in Albanian (often typed without ë/ç) and English."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.channels.sms_encoding import segments
from bot.engine import MsgResume
from tests.flows.dialogue import Dialogue, text

SQ_HIGH_RISK = [
    # (she writes, the reply contains these catalog texts)
    # Albanian in the first message: answered in Albanian, English offered in one line.
    ("pershendetje", [("sq", "fc.privacy"), ("sq", "fc.switch_hint"), ("sq", "fc.safe_now")]),
    ("po", [("sq", "fc.danger_now")]),
    ("jo", [("sq", "fc.role")]),
    ("per veten", [("sq", "fc.municipality")]),
    ("tirana", [("sq", "screen.intro"), ("sq", "screen.weapon")]),
    ("jo", [("sq", "screen.firearm")]),
    ("jo", [("sq", "screen.kill")]),
    ("joo", [("sq", "screen.choke")]),
    ("po", [("sq", "screen.sexual")]),  # strangled: a critical red flag
    ("j", [("sq", "screen.order")]),
    ("jo", [("sq", "screen.pregnant")]),
    ("jo", [("sq", "screen.children_home")]),
    ("2", [("sq", "screen.worse")]),
    ("mire", [("sq", "screen.separation")]),  # "mirë" typed without ë means yes
    ("jo", [("sq", "screen.suicide")]),
    ("jo", [("sq", "screen.abuser_suicide")]),
    ("aspak", [("sq", "services.ask"), ("sq", "services.shelter")]),
]


def expect(reply: str, expected: list[tuple[str, str]]) -> None:
    for language, msgid in expected:
        wanted = text(language, msgid).split("{")[0]
        assert wanted in reply, (msgid, reply)


def test_albanian_without_diacritics_to_high_risk_and_a_case():
    talk = Dialogue()
    for says, expected in SQ_HIGH_RISK:
        expect(talk.say(says), expected)
    risk = talk.seen("risk_assessed")[0]
    assert (risk.level, risk.score) == ("high", 20)
    assert set(risk.flags) == {"strangled", "escalating"}
    assert talk.seen("urgency_raised") and talk.seen("referral_requested")[0].urgent
    assert talk.seen("case_opened")[0].info["municipality"] == "tirane"
    assert "112" in text("sq", "screen.high", emergency="112")
    expect(talk.say("strehim"), [("sq", "services.noted"), ("sq", "services.more")])
    assert [(e.service, e.given) for e in talk.seen("consent_recorded")] == [("shelter", True)]
    expect(talk.say("jo"), [("sq", "orders.want")])
    reply = talk.say("po")
    expect(reply, [("sq", "orders.al"), ("sq", "orders.have")])  # Follow-ups: an order already?
    assert "129" in reply  # Albanian police
    reply = talk.say("jo")
    expect(reply, [("sq", "fc.bye_case")])
    assert "R-1234" in reply  # the case number
    assert talk.ended == "completed"


EN_MEDIUM_RISK = (
    [
        ("hi", [("en", "fc.privacy"), ("en", "fc.switch_hint"), ("en", "fc.safe_now")]),
        ("yes", [("en", "fc.danger_now")]),
        ("no", [("en", "fc.role")]),
        ("1", [("en", "fc.municipality")]),
        ("Pristina", [("en", "screen.weapon")]),
        ("no", [("en", "screen.firearm")]),
        ("yes", [("en", "screen.kill")]),  # a gun at home: 5 points, not a red flag alone
    ]
    + [("no", [])] * 4
    + [
        ("no", [("en", "screen.children_home")]),
        ("no", [("en", "screen.worse")]),
        ("no", [("en", "screen.separation")]),
        ("no", [("en", "screen.suicide")]),
        ("no", [("en", "screen.abuser_suicide")]),
        ("no", [("en", "screen.medium"), ("en", "services.ask")]),
        ("nothing now", [("en", "fc.any_time"), ("en", "orders.want")]),
    ]
)


def test_english_to_medium_risk_in_kosovo():
    talk = Dialogue()
    for says, expected in EN_MEDIUM_RISK:
        expect(talk.say(says), expected)
    assert talk.seen("risk_assessed")[0].level == "medium"
    assert not talk.seen("urgency_raised")
    assert not talk.seen("referral_requested")[0].urgent
    reply = talk.say("yes")
    assert text("en", "orders.xk", police="192", line="0800 11112") in reply  # Kosovo's police
    assert "129" not in reply


@pytest.mark.parametrize(
    ("language", "phrase"),
    [
        ("sq", "me rreh tani"),
        ("sq", "ndihmoni, jam ne rrezik"),
        ("en", "he is hitting me"),
        ("sq", "SOS"),
    ],
)
def test_a_danger_phrase_in_the_middle_of_another_question(language, phrase):
    talk = Dialogue(language=language)
    talk.say("hello")
    talk.say("yes" if language == "en" else "po")
    talk.say("no" if language == "en" else "jo")
    talk.say("1")  # now at the municipality question
    reply = talk.say(phrase)
    assert text(language, "danger.call", emergency="112", police="129 (AL) / 192 (KS)") in reply
    assert text(language, "danger.alerted") in reply
    assert reply.endswith(text(language, "fc.municipality"))  # and the question again
    assert talk.seen("urgency_raised") and talk.seen("referral_requested")[0].urgent
    assert talk.node == ("first_contact", "municipality")


def test_danger_now_yes_runs_the_danger_flow_once():
    talk = Dialogue(language="sq")
    talk.say("hi")
    talk.say("po")
    reply = talk.say("po, jam ne rrezik")
    assert reply.count(text("sq", "danger.alerted")) == 1
    assert reply.endswith(text("sq", "fc.role") + "\n1. Për veten\n2. Për dikë tjetër")


def test_not_safe_now_asks_when_and_ends_quietly():
    talk = Dialogue(language="sq")
    talk.say("hi")
    expect(talk.say("jo"), [("sq", "fc.when_safe"), ("sq", "fc.when.evening")])
    expect(talk.say("ne mbremje"), [("sq", "fc.later_ok")])
    assert talk.seen("field_changed")[-1].value == "evening"
    assert talk.ended == "completed"


def test_no_answer_to_is_it_safe_ends_without_a_message():
    talk = Dialogue(language="en")
    talk.say("hi")
    assert talk.timeout(timedelta(hours=1)) == ""
    assert talk.ended == "no_answer"


@pytest.mark.parametrize(("word", "language"), [("DIL", "sq"), ("dil", "sq"), ("Exit", "en")])
def test_quick_exit_anywhere(word, language):
    talk = Dialogue(language=language)
    talk.say("hi")
    talk.say("1")
    assert talk.say(word) == text(language, "exit.done")
    assert talk.ended == "exit"
    expect(talk.say("hello"), [(language, "fc.privacy")])  # writing again starts afresh


def test_erase_asks_once_then_erases():
    talk = Dialogue(language="sq")
    talk.say("hi")
    expect(talk.say("FSHI"), [("sq", "erase.confirm")])
    reply = talk.say("po")
    assert reply == text("sq", "erase.done")
    assert talk.seen("erasure_requested") and talk.ended == "erased"


def test_erase_declined_goes_back_to_the_question():
    talk = Dialogue(language="en")
    talk.say("hi")
    talk.say("delete")
    reply = talk.say("no")
    assert text("en", "erase.kept") in reply and text("en", "fc.safe_now") in reply
    assert not talk.seen("erasure_requested")


def test_switching_language_mid_conversation():
    talk = Dialogue(language="sq")
    talk.say("hi")
    talk.say("po")
    expect(talk.say("gjuha"), [("sq", "fc.language")])
    reply = talk.say("2")
    assert text("en", "sys.resume") in reply and text("en", "fc.danger_now") in reply
    expect(talk.say("no"), [("en", "fc.role")])


def test_witness_path_offers_a_coordinator_only_if_wanted():
    talk = Dialogue(language="en")
    for says in ["hi", "yes", "no", "someone else"]:
        talk.say(says)
    expect(talk.say("Shkoder"), [("en", "witness.advice"), ("en", "witness.contact")])
    expect(talk.say("yes"), [("en", "witness.will_contact"), ("en", "fc.bye_case")])
    assert talk.seen("case_opened")[0].info["reporter"] == "witness"
    assert talk.seen("referral_requested")[0].reason == "witness"


def test_two_misunderstandings_offer_the_options_and_a_person():
    talk = Dialogue(language="sq")
    talk.say("hi")
    expect(talk.say("banane"), [("sq", "sys.not_understood"), ("sq", "fc.safe_now")])
    reply = talk.say("portokall")
    expect(reply, [("sq", "sys.not_understood_again"), ("sq", "fc.safe_now")])
    line = "116 117 (AL, linja për gra dhe vajza) / 0800 11112 (KS)"  # 116 117: for women
    assert text("sq", "sys.reach_person", line=line) in reply


def test_i_dont_know_is_its_own_answer_not_a_no():
    talk = Dialogue(language="sq")
    talk.say("hi")
    reply = talk.say("nuk e di")
    expect(reply, [("sq", "sys.unsure"), ("sq", "fc.safe_now")])
    assert text("sq", "fc.when_safe") not in reply  # not read as "not safe"
    assert talk.node == ("first_contact", "safe_now")


def test_person_keyword_asks_for_a_coordinator():
    talk = Dialogue(language="en", fields={"municipality": "durres"})
    talk.say("hi")
    reply = talk.say("PERSON")
    line = "116 117 (the line for women and girls)"  # never offered to a man as his own line
    assert text("en", "person.will_contact", line=line) in reply
    assert text("en", "fc.safe_now") in reply  # and back to where she was
    assert talk.seen("referral_requested")[0].reason == "asked_person"


@pytest.mark.parametrize(("says", "msgid"), [("", "sys.empty"), ("x" * 1601, "sys.too_long")])
def test_empty_and_overlong_messages_get_a_helpful_answer(says, msgid):
    talk = Dialogue(language="en")
    talk.say("hi")
    assert text("en", msgid) in talk.say(says)
    assert talk.node == ("first_contact", "safe_now")


def test_unknown_municipality_is_accepted():
    talk = Dialogue(language="sq")
    for says in ["hi", "po", "jo", "1"]:
        talk.say(says)
    expect(talk.say("nuk e di"), [("sq", "screen.weapon")])
    assert talk.session.fields["municipality"] is None


def test_free_text_in_the_other_language_is_offered_once_in_that_language():
    talk = Dialogue()
    talk.say("tung")  # Albanian: the conversation is in Albanian
    reply = talk.say("yes I can talk now")
    assert text("en", "sys.switch") in reply  # offered in the language she writes
    assert text("sq", "fc.danger_now") in reply  # and her answer was understood
    reply = talk.say("no I am not in danger")
    assert text("en", "sys.switch") not in reply  # once a conversation
    assert text("sq", "fc.role") in reply


def test_short_answers_say_nothing_of_a_language():
    talk = Dialogue()
    talk.say("tung")
    assert text("en", "sys.switch") not in talk.say("yes")


@pytest.mark.parametrize(
    ("language", "lines"),
    [(None, [("sq", "sys.media"), ("en", "sys.media")]), ("en", [("en", "sys.media")])],
    ids=["unknown: both languages", "known: hers"],
)
def test_a_photo_or_voice_note_first_says_we_read_only_words_and_goes_on(
    language: str | None, lines: list[tuple[str, str]]
) -> None:
    talk = Dialogue(language=language)
    reply = talk._run(MsgResume("", media=True))
    assert reply.startswith("\n\n".join(text(*line) for line in lines) + "\n\n")
    assert segments(reply) <= 3  # one step (tests/flows/test_first_exchange_parts.py)
    # Then the conversation starts as for any first message, and goes on.
    if language is None:
        assert text("sq", "fc.language") in reply
        expect(talk.say("shqip"), [("sq", "fc.privacy"), ("sq", "fc.safe_now")])
    else:
        assert text("en", "fc.privacy") in reply and text("en", "fc.safe_now") in reply
        expect(talk.say("yes"), [("en", "fc.danger_now")])
