"""What new users met when they tried the helpline end to end (the walkthrough of session 11),
each shown on the shipped flows with the real catalogs."""

from __future__ import annotations

from tests.flows.dialogue import Dialogue, text


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
