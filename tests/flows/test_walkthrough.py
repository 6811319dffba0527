"""What new users met when they tried the helpline end to end (the walkthrough of session 11),
each shown on the shipped flows with the real catalogs."""

from __future__ import annotations

from tests.flows.dialogue import Dialogue, text


def test_a_witness_whose_first_words_paged_a_coordinator_is_not_asked_whether_she_wants_one():
    # "My sister is beaten by her husband": the danger path paged a coordinator ("we are
    # alerting the coordinator"); the witness path then asked "would you like a coordinator to
    # contact you?" and answered her "no" with "that's fine", though the page had gone.
    talk = Dialogue()
    first = talk.say("motra ime rrihet nga burri i saj")
    assert text("sq", "danger.alerted") in first
    talk.say("po")  # safe to text now
    reply = talk.say("Durres")
    assert text("sq", "witness.advice") in reply
    assert text("sq", "witness.contact") not in reply
    assert text("sq", "witness.alerted") in reply
    assert talk.ended == "completed"
    assert [e.reason for e in talk.seen("referral_requested")] == ["danger_now"]


def test_danger_said_while_another_question_waits_is_not_asked_about_again():
    # "jom n rrezik" in answer to "is it safe to text?" ran the danger path; three questions
    # later she was asked "are you in danger now?" as if she had not said it.
    talk = Dialogue()
    talk.say("pershendetje")
    assert text("sq", "danger.alerted") in talk.say("jom n rrezik")
    reply = talk.say("po")
    assert text("sq", "fc.danger_now") not in reply
    assert text("sq", "fc.role") in reply
    assert len(talk.seen("referral_requested")) == 1


def test_i_will_write_myself_is_answered_with_what_we_will_do():
    # She chose "I'll write myself"; the answer was "we won't write to you outside this time",
    # which names no time. Nothing is sent until she writes (bot/safe_times.py): say that.
    talk = Dialogue()
    talk.say("pershendetje")
    talk.say("jo")
    reply = talk.say("4")
    assert reply == text("sq", "fc.later_self", emergency="112")
    assert "derisa të na shkruani" in reply
    assert talk.seen("field_changed")[-1].value == "any"
    evening = Dialogue(language="en")
    evening.say("hi")
    evening.say("no")
    assert evening.say("3") == text("en", "fc.later_ok", emergency="112")


def test_erasing_without_a_case_is_not_told_her_case_stays():
    # FSHI two messages in, no case: "Deleted. Only your case stays, for your safety." told her
    # there was a case about her (in English: "if you have them" was said; in Albanian not).
    talk = Dialogue()
    talk.say("pershendetje")
    talk.say("po")
    talk.say("FSHI")
    reply = talk.say("po")
    assert talk.seen("case_opened") == []
    assert reply == text("sq", "erase.done")
    assert "Mbeti vetëm rasti" not in reply and "nëse ka" in reply
    assert "If you have a case" in text("en", "erase.done")
