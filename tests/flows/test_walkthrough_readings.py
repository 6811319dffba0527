"""Misreadings a new-user walkthrough found (session 11), each shown on the shipped flows: what she
wrote, at which question, and what it should have been read as."""

from __future__ import annotations

import pytest

from tests.flows.dialogue import Dialogue, text


@pytest.mark.parametrize(
    "first",
    [
        "djali im me rreh, jam plake",  # my son beats me: the son is who hurts her
        "vajza ime po me kercenon",
        "my son hits me",
    ],
)
def test_a_relative_who_hurts_her_is_not_whom_she_writes_about(first: str) -> None:
    # "me rreh" (beats ME) says she writes for herself; "djali im" named the abuser, and the
    # role question (for yourself or someone else?) was asked anyway.
    talk = Dialogue()
    talk.say(first)
    reply = talk.say("po" if not first.startswith("my") else "yes")  # safe to text now
    assert talk.session.results.get("role") == "survivor"
    assert text(talk.contact.language, "fc.role") not in reply


@pytest.mark.parametrize("first", ["motra ime, burri e rreh", "djali im eshte i rrezikuar"])
def test_a_relative_named_as_the_one_hurt_is_still_someone_else(first: str) -> None:
    talk = Dialogue()
    talk.say(first)
    assert talk.session.results.get("role") != "survivor"


@pytest.mark.parametrize(
    ("answer", "window"),
    [
        ("pas ores 5", "evening"),
        ("pas 5", "evening"),
        ("mbas ores 17", "evening"),
        ("pas ores 2", "afternoon"),
        ("pas ores 9", "morning"),
        ("after 6pm", "evening"),
    ],
)
def test_a_time_of_day_picks_the_window_it_falls_in(answer: str, window: str) -> None:
    talk = Dialogue(language="en" if answer.startswith("after") else None)
    talk.say("hi" if answer.startswith("after") else "pershendetje")
    talk.say("no" if answer.startswith("after") else "jo")  # not safe to text now
    talk.say(answer)
    assert talk.seen("field_changed")[-1].value == window
    assert talk.ended == "completed"


@pytest.mark.parametrize("answer", ["pas 5 minutash", "pas 2 oresh"])
def test_a_while_from_now_is_not_a_time_of_day(answer: str) -> None:
    talk = Dialogue()
    talk.say("pershendetje")
    talk.say("jo")
    reply = talk.say(answer)
    assert text("sq", "fc.when_safe") in reply and talk.ended is None


def _at_services(talk: Dialogue) -> None:
    """Walk to "Çfarë ndihme dëshironi?" the way a survivor does."""
    for says in ("pershendetje", "po", "jo", "1", "Tirane"):
        talk.say(says)
    while talk.node and talk.node[0] == "screening":
        talk.say("jo")
    assert talk.node == ("services", "ask"), talk.node


@pytest.mark.parametrize("answer", ["jo", "no", "jo faleminderit", "jo flm", "asgje"])
def test_a_bare_no_to_what_help_do_you_want_is_nothing_now(answer: str) -> None:
    talk = Dialogue()
    _at_services(talk)
    reply = talk.say(answer)
    assert talk.session.results.get("service") == "none" or talk.seen("result_saved")[-1]
    assert text("sq", "fc.any_time") in reply
    assert text("sq", "sys.not_understood") not in reply


@pytest.mark.parametrize("answer", ["jo polici", "policia jo"])
def test_a_refused_option_at_what_help_is_still_not_nothing(answer: str) -> None:
    talk = Dialogue()
    _at_services(talk)
    assert text("sq", "sys.not_understood") in talk.say(answer)


@pytest.mark.parametrize(
    ("answer", "language"),
    [("po", "sq"), ("jo", "sq"), ("mire", "sq"), ("yes", "en"), ("no", "en"), ("shqip", "sq")],
)
def test_a_bare_yes_or_no_at_the_language_menu_picks_its_language(answer: str, language: str):
    # "po" is the Albanian yes: a sign she reads Albanian; "yes" never picks Albanian.
    talk = Dialogue()
    assert text("sq", "fc.language") in talk.say("ok")
    talk.say(answer)
    assert talk.contact.language == language
    assert talk.node == ("first_contact", "safe_now")


def _finished(talk: Dialogue) -> None:
    for says in ("pershendetje", "jo", "4"):  # not safe now; "I'll write myself": goodbye
        talk.say(says)
    assert talk.ended == "completed"


@pytest.mark.parametrize("thanks", ["faleminderit", "ok", "ok flm", "Faleminderit shume!"])
def test_a_thank_you_after_the_goodbye_starts_no_new_intake(thanks: str) -> None:
    # "faleminderit"/"ok" after the goodbye began a new intake, and "ok" was read as "safe to
    # text" to its first question.
    talk = Dialogue()
    _finished(talk)
    reply = talk.say(thanks)
    assert reply == text("sq", "fc.any_time")
    assert talk.ended == "completed"


@pytest.mark.parametrize("says", ["faleminderit, kam edhe nje pyetje", "ok. burri po me rreh"])
def test_more_than_thanks_after_the_goodbye_is_a_new_conversation(says: str) -> None:
    talk = Dialogue()
    _finished(talk)
    reply = talk.say(says)
    assert text("sq", "fc.any_time") not in reply and talk.ended is None


def test_a_first_ever_thank_you_is_answered_with_the_intake() -> None:
    talk = Dialogue()
    reply = talk.say("faleminderit")
    assert text("sq", "fc.safe_now") in reply and talk.ended is None
