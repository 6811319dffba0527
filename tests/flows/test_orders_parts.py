"""The answer about protection orders (bot/flows/orders_info.yaml) fits a cheap phone: every reply
of the flow, from every way in, is at most 3 SMS parts in Albanian (not folded: one ë makes the
SMS UCS-2, 67 characters a part) and in English, counted as the outbox joins one turn's texts.

Ways in: her first message asked (answered right after the two safety questions, with
first_contact's "your question" line ahead of it), the offer at the end of the intake ("do you
want to know?"), and any keyword or menu that enters the flow (reply_rows walks those). A
country we do not know is asked, not answered with both countries' texts.

One reply may be longer, and none of its extra length is ours: "in danger now? yes" after the
question, where the danger numbers come first (first_contact's two steps, 4 parts at most).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.channels.sms_encoding import segments
from bot.i18n_tools import ReplyRow, reply_rows
from tests.flows.dialogue import Dialogue, text

PARTS = 3
TWO_STEPS = 4  # the danger numbers ahead of the answer, in one turn (first_contact)
OURS = ("orders.", "fu.reg.", "fc.question_answer")  # this flow's texts, and what it enters
YES = {"sq": "po", "en": "yes"}
NO = {"sq": "jo", "en": "no"}
QUESTION = {"sq": "si të marr urdhër mbrojtje?", "en": "how do I get a protection order?"}
DANGER_QUESTION = {
    "sq": "më rreh burri, si të marr urdhër mbrojtje?",
    "en": "he hits me, how do I get a protection order?",
}
PLACE = {"AL": "Tirane", "XK": "Ferizaj", None: "nuk e di"}
NONE_OF_THE_SERVICES = {"sq": "aspak", "en": "nothing now"}
MENU_CHOICE = {"AL": "1", "XK": "2"}


def has(reply: str, language: str, msgid: str) -> bool:
    """The catalog text, up to its first placeholder, is in the reply."""
    return text(language, msgid).split("{")[0] in reply


def answer(language: str, country: str) -> str:
    """The answer for one country, with its numbers (bot/data/numbers.yaml)."""
    if country == "AL":
        return text(language, "orders.al", police="129")
    return text(language, "orders.xk", police="192", line="0800 11112")


def answer_turns(
    talk: Dialogue, language: str, country: str | None, has_order: bool, follow: bool
) -> Iterator[str]:
    """From a reply that asks a question of this flow: her answers, each reply yielded."""
    if country is None:  # the flow asks where she is
        yield talk.say(MENU_CHOICE["XK"])
    yield talk.say(YES[language] if has_order else NO[language])  # an order already?
    if has_order:
        yield talk.say(YES[language] if follow else NO[language])  # tell us about it?


def to_the_offer(talk: Dialogue, language: str, country: str | None) -> list[str]:
    """The whole intake, to the question at its end: "do you want to know about orders?"."""
    replies = [talk.say(s) for s in ("hi", YES[language], NO[language], "1", PLACE[country])]
    for _ in range(20):
        reply = talk.say(NO[language])
        replies.append(reply)
        if has(reply, language, "services.ask"):
            break
    replies.append(talk.say(NONE_OF_THE_SERVICES[language]))
    assert has(replies[-1], language, "orders.want"), replies[-1]
    replies.append(talk.say(YES[language]))
    return replies


def conversation(
    entry: str, language: str, country: str | None, has_order: bool, follow: bool
) -> list[str]:
    """Every reply of one way through the flow, from the reply that starts it."""
    fields = {"country": country} if country else {}
    if entry == "offer at the end of the intake":
        talk = Dialogue(language=language, fields={} if country is None else fields)
        replies = to_the_offer(talk, language, country)
        start = next(i for i, r in enumerate(replies) if has(r, language, "orders.want"))
        replies = replies[start:]
    else:
        talk = Dialogue(fields=fields)
        if entry == "question":
            talk.say(QUESTION[language])
            talk.say(YES[language])  # safe to text
            replies = [talk.say(NO[language])]  # not in danger now: the answer
        else:  # "question with danger": the numbers first, the answer after "safe to text"
            talk.say(DANGER_QUESTION[language])
            replies = [talk.say(YES[language])]
        assert replies[0].startswith(text(language, "fc.question_answer")), replies[0]
    return replies + list(answer_turns(talk, language, country, has_order, follow))


@pytest.mark.parametrize(
    ("has_order", "follow"),
    [(True, True), (True, False), (False, False)],
    ids=["has an order, follow it", "has an order, no follow", "no order"],
)
@pytest.mark.parametrize("country", ["AL", "XK", None], ids=["AL", "XK", "no country"])
@pytest.mark.parametrize("language", ["sq", "en"])
@pytest.mark.parametrize(
    "entry", ["question", "question with danger", "offer at the end of the intake"]
)
def test_every_reply_of_the_answer_fits_three_parts(entry, language, country, has_order, follow):
    replies = conversation(entry, language, country, has_order, follow)
    counted = [(segments(r), r) for r in replies]
    assert [(n, r) for n, r in counted if n > PARTS] == []
    said = " ".join(replies)
    # Short, not poorer: who issues it, where, a number; one country only (not
    # "free": DOMAIN.md does not say so for either country).
    mine, other = ("AL", "XK") if country == "AL" else ("XK", "AL")
    assert answer(language, mine) in said and answer(language, other) not in said
    assert ("192" in said) == (country != "AL") and ("129" in said) == (country == "AL")
    assert has(said, language, "orders.breach") == has_order
    assert has(said, language, "orders.follow") == has_order  # the offer, a turn of its own
    assert has(said, language, "fu.reg.kind") == follow


def test_the_answer_after_danger_said_later_keeps_to_two_steps():
    # "in danger now? yes": the numbers come first, then the answer, in one turn.
    talk = Dialogue(fields={"country": "XK"})
    talk.say(QUESTION["sq"])
    talk.say("po")
    reply = talk.say("po")
    assert reply.startswith(text("sq", "danger.call", emergency="112", police="192"))
    assert answer("sq", "XK") in reply
    assert segments(reply) <= TWO_STEPS
    assert segments(reply[reply.index(text("sq", "fc.question_answer")) :]) <= PARTS


def test_what_it_says_is_what_she_needs_to_act():
    for country, line in (("AL", "129"), ("XK", "0800 11112")):
        talk = Dialogue(fields={"country": country})
        talk.say(QUESTION["sq"])
        talk.say("po")
        reply = talk.say("jo")
        assert "gjykata" in reply and "polici" in reply and line in reply
    assert "mbrojtësi i viktimave" in text("sq", "orders.xk")  # Kosovo: the victim advocate
    assert "victim advocate" in text("en", "orders.xk")
    assert "court" in text("en", "orders.al") and "police" in text("en", "orders.al")


@pytest.fixture(scope="module")
def rows() -> list[ReplyRow]:
    return reply_rows()


def test_every_walked_reply_of_the_flow_fits_three_parts(rows: list[ReplyRow]) -> None:
    """Every point of the flows that enters orders_info (a keyword, a menu, the intake's end):
    the largest reply from each of its questions, and each reply that carries its texts."""
    flows = [
        r
        for r in rows
        if r.entry.startswith("orders_info") or any(m.startswith("orders.") for m in r.messages)
    ]
    assert {m for r in flows for m in r.messages} >= {
        "orders.al",
        "orders.xk",
        "orders.have",
        "orders.breach",
        "orders.follow",
    }
    too_long = [r for r in flows if any(m.startswith(OURS) for m in r.messages) and r.sq > PARTS]
    too_long += [r for r in flows if r.en > PARTS]
    assert too_long == []
    # A reply with none of its texts is the intake going on after it: a witness's advice and
    # the close (first_contact's two steps).
    for row in flows:
        if not any(m.startswith(OURS) for m in row.messages):
            assert row.sq <= TWO_STEPS and all(
                m.startswith(("witness.", "fc.bye")) for m in row.messages
            ), row


@pytest.mark.parametrize("language", ["sq", "en"])
def test_a_country_we_do_not_know_is_asked_with_a_menu(language):
    talk = Dialogue()  # no municipality said, a phone of neither country
    talk.say(QUESTION[language])
    talk.say(YES[language])
    reply = talk.say(NO[language])
    assert reply.startswith(text(language, "fc.question_answer"))
    assert has(reply, language, "orders.country")
    assert text(language, "orders.country.al") in reply
    assert text(language, "orders.country.xk") in reply
    assert answer(language, "AL") not in reply and answer(language, "XK") not in reply
    assert segments(reply) <= 2
    assert talk.node == ("orders_info", "which")
    # Her country by name, typed without ë: that country's answer and numbers, nothing else.
    reply = talk.say("kosove")
    assert reply.startswith(answer(language, "XK")), reply
    assert "129" not in reply and answer(language, "AL") not in reply
    assert talk.session.fields["country"] == "XK"  # later numbers are Kosovo's too
    assert has(reply, language, "orders.have")


def test_a_country_chosen_by_number_answers_for_albania():
    talk = Dialogue()
    talk.say(QUESTION["sq"])
    talk.say("po")
    talk.say("jo")
    reply = talk.say("1")
    assert reply.startswith(answer("sq", "AL"))
    assert "192" not in reply and talk.session.fields["country"] == "AL"
    reply = talk.say("po")  # she has one: what to do if he breaks it, Albania's police
    assert reply.startswith(text("sq", "orders.breach", police="129"))
    assert has(reply, "sq", "orders.follow")
