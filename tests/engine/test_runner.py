"""Case tables for the engine: what each message does to a session, with a fixed clock."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.engine import (
    ContactView,
    EngineError,
    ExpireResume,
    MsgResume,
    Session,
    TimeoutResume,
    resume,
    sysmsgs,
)
from bot.engine import events as ev
from bot.engine.definition import KeywordSet
from bot.engine.keywords import detect_all
from bot.engine.understand import analyse
from bot.flows.library import FlowLibrary
from bot.flows.loader import parse_flow

from .conftest import NOW, make_env


class Talk:
    """Drives one conversation and keeps the last events."""

    def __init__(self, env, contact=None):
        self.env = env
        self.contact = contact or ContactView()
        self.session: Session | None = None
        self.events: list[ev.Event] = []

    def say(self, text, button=None, start=False):
        outcome = resume(self.session, MsgResume(text, button, start), self.contact, self.env)
        self.session, self.events = outcome.session, outcome.events
        return self

    def resume(self, res):
        outcome = resume(self.session, res, self.contact, self.env)
        self.session, self.events = outcome.session, outcome.events
        return self

    @property
    def sent(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, ev.MsgCreated)]

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def node(self):
        return self.session.frames[-1].node if self.session.frames else None


# (user says, messages the bot sends, node waiting afterwards)
HAPPY_PATH = [
    ("hello", ["t.lang"], "lang"),
    ("shqip", ["t.safe"], "safe"),
    ("po", ["t.where"], "where"),
    ("tirana", ["t.weapon"], "q_weapon"),
    ("po", ["t.choke"], "q_choke"),
    ("jo", ["t.high", "t.when"], "when"),
    ("dje", ["t.story"], "story"),
    ("he broke the door", ["t.thanks"], None),
]


def test_happy_path_table(env):
    talk = Talk(env)
    for says, sent, node in HAPPY_PATH:
        talk.say(says)
        assert talk.sent == sent, says
        if node:
            assert talk.node == node and talk.session.status == "waiting"
    assert talk.session.status == "ended" and talk.session.ended_reason == "completed"
    assert talk.session.results["incident_date"] == "2026-11-22"
    assert talk.session.results["story"] == "he broke the door"
    assert talk.session.fields["municipality"] == "tirane"
    assert talk.session.risk == {"level": "high", "score": 10, "flags": ["weapon"]}


def test_risk_events_and_case(env):
    talk = Talk(env)
    for says in ["hi", "1", "1", "tirane", "jo"]:
        talk.say(says)
    talk.say("po")  # choking: 4 points, medium
    assessed = talk.of(ev.RiskAssessed)
    assert assessed == [ev.RiskAssessed("medium", 4, ("strangled",))]
    opened = talk.of(ev.CaseOpened)
    assert opened[0].info["risk_level"] == "medium"
    assert opened[0].info["municipality"] == "tirane"
    assert not talk.of(ev.UrgencyRaised)
    level = next(m for m in talk.of(ev.MsgCreated) if m.text == "t.level")
    assert level.params == {"level": "medium"}


def test_high_risk_raises_urgency_and_requests_referral(env):
    talk = Talk(env)
    for says in ["hi", "1", "1", "tirane", "po"]:
        talk.say(says)
    talk.say("po")
    assert [e.type for e in talk.events][:5] == [
        "risk_assessed",
        "urgency_raised",
        "case_opened",
        "referral_requested",
        "msg_created",
    ]
    assert talk.of(ev.ReferralRequested) == [ev.ReferralRequested("high_risk", True)]
    assert talk.of(ev.MsgCreated)[0].params == {"police": "129"}  # Tirana is in Albania


def test_danger_phrase_in_the_middle_of_another_question_helps_then_asks_again(env):
    talk = Talk(env)
    for says in ["hi", "shqip", "po"]:
        talk.say(says)
    talk.say("me rreh tani")  # at the municipality question
    assert talk.types()[:4] == [
        "keyword_matched",
        "urgency_raised",
        "case_opened",
        "referral_requested",
    ]
    assert talk.sent == ["t.danger", "sys.resume", "t.where"]
    assert talk.node == "where"
    assert talk.of(ev.MsgCreated)[0].params == {"emergency": "112"}
    talk.say("tirane")
    assert talk.sent == ["t.weapon"]


def test_danger_phrase_that_also_answers_goes_on_with_that_answer(env):
    talk = Talk(env)
    for says in ["hi", "shqip", "po", "tirane"]:
        talk.say(says)
    talk.say("po, jam ne rrezik")  # weapon question: yes, and in danger
    assert talk.sent == ["t.danger", "t.choke"]
    assert talk.session.flags == ["weapon"]


def test_negated_danger_phrase_is_not_an_alarm(env):
    talk = Talk(env)
    for says in ["hi", "shqip", "po"]:
        talk.say(says)
    talk.say("nuk jam ne rrezik")
    assert "keyword_matched" not in talk.types()
    assert talk.sent == ["sys.bad_municipality", "t.where"]


def test_danger_as_the_very_first_message_sets_the_language_and_then_starts(env):
    talk = Talk(env).say("I'm in danger")
    assert talk.session.language == "en"
    assert talk.sent == ["t.danger", "t.lang"]
    assert talk.of(ev.MsgCreated)[0].language == "en"


def test_exit_anywhere_ends_everything(env):
    talk = Talk(env)
    for says in ["hi", "shqip", "po"]:
        talk.say(says)
    talk.say("DIL")
    assert talk.sent == ["t.exit"]
    assert talk.session.status == "ended" and talk.session.ended_reason == "exit"
    assert talk.session.frames == []
    talk.say("hello again")  # a new message starts a new conversation
    assert talk.sent == ["t.lang"]


def test_the_callers_reading_of_the_keywords_is_the_one_used(env):
    # The pipeline reads her words for keywords before the engine runs and passes what it found.
    talk = Talk(env)
    for says in ["hi", "shqip", "po"]:
        talk.say(says)
    found = detect_all("DIL", env.keywords)
    assert [h.keyword.intent for h in found] == ["exit"]
    session = talk.session
    read = resume(session, MsgResume("DIL", keywords=tuple(found)), talk.contact, env)
    assert read.session.ended_reason == "exit"
    # Told there is none, the engine does not read them again: "DIL" is then an answer.
    unread = resume(session, MsgResume("DIL", keywords=()), talk.contact, env)
    assert unread.session.status != "ended"
    assert not [e for e in unread.events if isinstance(e, ev.KeywordMatched)]


def test_the_callers_analysis_of_her_words_is_the_one_read(env):
    # The pipeline analyses her words once; the engine reads that analysis for the answer.
    talk = Talk(env)
    for says in ["hi", "shqip"]:
        talk.say(says)
    lexicon = env.keywords.lexicon
    own = resume(talk.session, MsgResume("po"), talk.contact, env)
    given = resume(talk.session, MsgResume("po", read=analyse("po", lexicon)), talk.contact, env)
    assert given.events == own.events and given.session == own.session
    # A different analysis is taken at its word: proof the engine did not read "po" again.
    other = resume(talk.session, MsgResume("po", read=analyse("jo", lexicon)), talk.contact, env)
    assert other.events != own.events


def test_exit_with_diacritics_and_case(env):
    talk = Talk(env).say("hi").say("  Dil! ")
    assert talk.session.ended_reason == "exit"


def test_switching_language_asks_the_waiting_question_again_in_the_new_language(env):
    talk = Talk(env)
    for says in ["hi", "shqip", "po"]:
        talk.say(says)
    talk.say("gjuha")
    assert talk.sent == ["t.lang"]
    talk.say("english")
    assert talk.sent == ["sys.resume", "t.where"]
    assert all(m.language == "en" for m in talk.of(ev.MsgCreated))
    assert talk.of(ev.LanguageChanged) == [ev.LanguageChanged("en")]


def test_misunderstanding_twice_offers_options_and_a_person(env):
    talk = Talk(env).say("hi").say("shqip")
    talk.say("banana")
    assert talk.sent == ["sys.not_understood", "t.safe"]
    talk.say("kiwi")
    assert talk.sent == ["sys.not_understood_again", "t.safe", "sys.reach_person"]
    assert talk.of(ev.MsgCreated)[-1].params == {"line": "116 117"}
    talk.say("po")
    assert talk.sent == ["t.where"] and talk.session.misses == 0


def test_empty_and_too_long_messages(env):
    talk = Talk(env).say("hi").say("shqip")
    talk.say("   ")
    assert talk.sent == ["sys.empty", "t.safe"]
    talk.say("a" * 1601)
    assert talk.sent == ["sys.too_long"] and talk.node == "safe"
    assert talk.of(ev.InputRejected)[0].reason == "too_long"


def test_wait_timeout_routes_and_stale_timers_do_nothing(env, library):
    talk = Talk(env).say("hi").say("shqip")
    seq = talk.session.wait_seq
    wait = talk.of(ev.WaitStarted)[0]
    assert wait.timeout_at == (NOW + timedelta(hours=1)).isoformat()
    later = make_env(library, NOW + timedelta(hours=1))
    stale = resume(talk.session, TimeoutResume(seq - 1), talk.contact, later)
    assert stale.events == []
    talk.env = later
    talk.resume(TimeoutResume(seq))
    assert talk.sent == [] and talk.session.ended_reason == "no_answer"


def test_session_expiry(env, library):
    talk = Talk(env).say("hi").say("shqip")
    talk.env = make_env(library, NOW + timedelta(hours=23))
    assert resume(talk.session, ExpireResume(), talk.contact, talk.env).events == []
    talk.env = make_env(library, NOW + timedelta(days=1, minutes=1))
    talk.resume(ExpireResume())
    assert talk.types() == ["session_ended"] and talk.session.ended_reason == "expired"


def test_a_message_after_expiry_starts_afresh(env, library):
    talk = Talk(env).say("hi").say("shqip")
    talk.env = make_env(library, NOW + timedelta(days=2))
    outcome = resume(talk.session, MsgResume("po"), talk.contact, talk.env)
    assert outcome.new_session and outcome.ended_previous
    assert [e.text for e in outcome.events if isinstance(e, ev.MsgCreated)] == ["t.lang"]


def test_returning_contact_keeps_language(env):
    talk = Talk(env, ContactView(language="en", fields={"municipality": "prishtine"}))
    talk.say("hi")
    assert talk.of(ev.MsgCreated)[0].language == "en"


def test_numbers_follow_the_country(env):
    talk = Talk(env, ContactView(language="sq", fields={"municipality": "prishtine"}))
    talk.say("hi").say("SOS")
    assert talk.of(ev.MsgCreated)[0].params == {"emergency": "112"}
    assert talk.session.fields["municipality"] == "prishtine"


def test_a_session_stays_on_its_flow_version(env, library):
    talk = Talk(env).say("hi")
    old_version = talk.session.frames[-1].version
    source = library.sources["main"].replace("t.safe", "t.safe_v2")
    new = parse_flow("main.yaml", source)
    assert new.version != old_version

    class Source:
        def get(self, name, version=None):
            if name == "main" and version in (None, new.version):
                return new
            return library.get(name, version)

    pinned_env = replace(env, flows=Source())
    talk.env = pinned_env
    talk.say("shqip")
    assert talk.sent == ["t.safe"]  # the old version
    fresh = Talk(pinned_env).say("hi").say("shqip")
    assert fresh.sent == ["t.safe_v2"]


def test_the_input_session_is_not_modified(env):
    talk = Talk(env).say("hi")
    before = talk.session.to_dict()
    resume(talk.session, MsgResume("shqip"), talk.contact, env)
    assert talk.session.to_dict() == before


def test_session_round_trips_through_plain_data(env):
    talk = Talk(env).say("hi").say("shqip").say("po")
    again = Session.from_dict(talk.session.to_dict() | {"unknown_future_key": 1})
    assert again == talk.session


def test_a_loop_without_waits_is_an_engine_error(env, library):
    looping = parse_flow(
        "loop.yaml",
        "flow: loop\nstart: a\nnodes:\n  a:\n    next: b\n  b:\n    next: a\n",
    )

    class Source:
        def get(self, name, version=None):
            return looping if name == "loop" else library.get(name, version)

    loop_env = replace(env, flows=Source(), trigger_flow="loop")
    with pytest.raises(EngineError, match="without a wait"):
        resume(None, MsgResume("hi"), ContactView(), loop_env)


def test_a_keyword_sets_flows_are_known_once(library: FlowLibrary) -> None:
    """The pipeline asks on every message whether her conversation is in a keyword's flow."""
    keywords = library.keywords
    assert keywords.flows == {k.flow for k in keywords.keywords} and keywords.flows
    assert KeywordSet().flows == frozenset()


CONVERSATIONS = [
    [said for said, _, _ in HAPPY_PATH],
    ["hi", "shqip", "po", "he has a knife and will kill me", "po", "jo"],
    ["hi", "english", "asdf", "qwerty", "zzz", "exit"],
    ["më rrahu burri dje", "po", "/start", "hi", "", "x" * 2000, "tirana"],
]


@pytest.mark.parametrize("words", CONVERSATIONS)
def test_a_session_given_up_runs_as_its_copy_would(env, library, words):
    """own=True (the pipeline's session, read for the one call): the same outcome as a copy,
    and the stored state it was read from unchanged whenever a new session begins (the old one
    is read from it again then: handlers/sessions.save_session)."""
    state = None
    for i, said in enumerate([*words, "later"]):
        now = NOW + timedelta(minutes=i) if said != "later" else NOW + timedelta(days=3)
        step_env = make_env(library, now)
        res = MsgResume("" if said == "/start" else said, start=said == "/start")
        kept = resume(Session.from_dict(state) if state else None, res, ContactView(), step_env)
        before = copy.deepcopy(state)
        given = Session.from_dict(state) if state else None
        mine = resume(given, res, ContactView(), step_env, own=True)
        assert mine.session is given or given is None or mine.new_session
        assert mine.events == kept.events
        assert (mine.new_session, mine.ended_previous) == (kept.new_session, kept.ended_previous)
        assert mine.session is not None and kept.session is not None
        assert mine.session.to_dict() == kept.session.to_dict()
        if mine.new_session:
            assert state == before
        state = mine.session.to_dict()


def test_a_yes_no_question_carries_its_two_options_as_built_anew(env):
    """Performance: the options of a yes/no question are one tuple, shared (frozen); equal to
    the ones the engine built for each question, with their message ids and values."""
    talk = Talk(env).say("hello").say("shqip")
    asked = [e for e in talk.of(ev.MsgCreated) if e.options]
    assert asked and asked[-1].text == "t.safe"
    built = (ev.OptionOut(1, sysmsgs.YES, "yes"), ev.OptionOut(2, sysmsgs.NO, "no"))
    assert asked[-1].options == built
    assert [(o.number, o.label, o.value) for o in asked[-1].options] == [
        (1, "sys.yes", "yes"),
        (2, "sys.no", "no"),
    ]


def test_every_question_and_the_session_expire_a_time_to_live_after_each_message(env, library):
    """The expiry is made once a call (performance): each question asked in it and the session
    carry now + the time to live of that call, the next call's its own."""
    talk = Talk(env).say("hi").say("shqip")
    for minutes in (5, 70):
        now = NOW + timedelta(minutes=minutes)
        talk.env = replace(make_env(library, now), session_ttl=timedelta(hours=minutes))
        talk.say("me rreh tani")  # the danger flow's question, then the one waiting again
        expires = (now + timedelta(hours=minutes)).isoformat()
        waits = talk.of(ev.WaitStarted)
        assert len(waits) >= 1 and {w.expires_at for w in waits} == {expires}
        assert talk.session.expires_at == expires and talk.session.updated_at == now.isoformat()
