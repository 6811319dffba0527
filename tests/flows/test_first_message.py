"""What a first message already says is taken: where she is (the municipality question is not
asked again) and a question about protection orders (answered right after the two safety
questions, not after the whole screening). The walkthrough of session 11, on the shipped flows."""

from __future__ import annotations

import pytest

from tests.flows.dialogue import Dialogue, text


def municipality_asked(talk: Dialogue) -> bool:
    return any(e.text == "fc.municipality" for e in talk.seen("msg_created") if hasattr(e, "text"))


@pytest.mark.parametrize(
    ("first", "language", "slug"),
    [
        ("më rreh burri, jam në Ferizaj", "sq", "ferizaj"),
        ("me rrah burri jam ne ferizaj", "sq", "ferizaj"),  # no diacritics, no comma
        ("nga Shkodra jam, burri me kercenon", "sq", "shkoder"),
        ("jom n'Pejë, burri m rreh", "sq", "peje"),  # Gheg
        ("im in Gjakova, my husband hits me", "en", "gjakove"),
    ],
)
def test_a_municipality_in_the_first_message_is_hers_and_not_asked_again(first, language, slug):
    talk = Dialogue()
    reply = talk.say(first)
    assert text(language, "danger.alerted") in reply
    assert talk.session.fields["municipality"] == slug
    # The page opened the case with her municipality (its duty coordinator is paged).
    [opened] = talk.seen("case_opened")
    assert opened.info["municipality"] == slug
    reply = talk.say("po" if language == "sq" else "yes")  # safe to text now
    assert text(language, "fc.municipality") not in reply
    assert text(language, "screen.intro") in reply  # straight on to the screening
    assert not municipality_asked(talk)


def test_the_numbers_in_the_first_reply_are_her_municipalitys_countrys():
    # Ferizaj is in Kosovo: its police (192), not both countries' numbers.
    reply = Dialogue().say("më rreh burri, jam në Ferizaj")
    assert reply.startswith(text("sq", "danger.call", emergency="112", police="192"))


@pytest.mark.parametrize(
    "first",
    [
        "my sister lives in Fier, her husband hits her",  # someone else's place
        "burri ka ikur në Tiranë, më kërcënon në telefon",  # where he went
        "më rreh burri, s'jam më në Tiranë",  # where she is not
        "jam në Tiranë por jetoj në Durrës, burri më rreh",  # two: ask
    ],
)
def test_a_place_that_is_not_clearly_hers_is_not_taken_and_she_is_asked(first):
    talk = Dialogue()
    talk.say(first)
    assert "municipality" not in talk.session.fields
    assert all(e.info.get("municipality") is None for e in talk.seen("case_opened"))
    replies = [talk.say(answer) for answer in ("po", "po", "1")]  # safe; danger or role...
    assert municipality_asked(talk), replies


def test_a_witness_who_says_where_she_is_goes_on_without_the_question():
    talk = Dialogue()
    talk.say("jam në Durrës, motra ime rrihet nga burri i saj")
    assert talk.session.fields["municipality"] == "durres"
    reply = talk.say("po")
    assert text("sq", "witness.advice") in reply
    assert not municipality_asked(talk)


def test_a_protection_order_question_is_heard_at_once_and_answered_after_the_safety_questions():
    talk = Dialogue(fields={"country": "AL"})  # a +355 phone (no country: asked, test_orders_*)
    first = talk.say("si te marr urdher mbrojtje?")
    # One short line, before the safety question; it names no order (the phone may be seen).
    assert text("sq", "fc.question_later") in first
    assert "urdh" not in text("sq", "fc.question_later").lower()
    assert first.index(text("sq", "fc.question_later")) < first.index(text("sq", "fc.safe_now"))
    assert text("sq", "fc.danger_now") in talk.say("po")  # safe to text
    reply = talk.say("jo")  # not in danger now
    assert reply.startswith(text("sq", "fc.question_answer"))
    assert text("sq", "orders.al", police="129") in reply
    assert text("sq", "orders.want") not in reply  # she asked: no "do you want to know?"
    assert text("sq", "screen.weapon") not in reply
    assert text("sq", "fc.role") in talk.say("jo")  # no order yet: the intake goes on
    # ...and at the end of the intake the information is not offered a second time.
    for answer in ["1", "Tirane", *["jo"] * 12, "8"]:
        reply = talk.say(answer)
    assert talk.ended == "completed"
    assert text("sq", "orders.want") not in reply
    said = [e.text for e in talk.seen("msg_created") if hasattr(e, "text")]
    assert said.count("orders.al") == 1 and "orders.want" not in said


def test_an_english_question_with_danger_gets_the_numbers_first_and_the_answer_next():
    talk = Dialogue(fields={"country": "XK"})  # a +383 phone, no municipality said
    first = talk.say("he hits me, how do I get a protection order?")
    assert first.startswith(text("en", "danger.call", emergency="112", police="192"))
    assert text("en", "fc.question_later") not in first  # the danger reply stays short
    reply = talk.say("yes")  # safe to text; danger said already: no "in danger now?"
    assert text("en", "fc.danger_now") not in reply
    assert reply.startswith(text("en", "fc.question_answer"))
    xk = text("en", "orders.xk", police="192", line="0800 11112")
    assert xk in reply and "129" not in reply
    assert len(talk.seen("referral_requested")) == 1


def test_not_safe_to_text_gets_no_answer_about_orders():
    talk = Dialogue()
    talk.say("how do I get a protection order?")
    reply = talk.say("no")
    assert text("en", "orders.al") not in reply and text("en", "fc.when_safe") in reply


def test_a_mention_of_an_order_that_asks_nothing_keeps_the_usual_order():
    # "he broke the protection order" is danger, not a question: no early answer.
    talk = Dialogue()
    talk.say("e shkeli urdhrin e mbrojtjes, erdhi ne shtepi")
    assert "first_question" not in talk.session.results
    assert text("sq", "fc.question_answer") not in talk.say("po")
