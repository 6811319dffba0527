"""The engine: (session, resume, contact, env) -> new session and events. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.engine import events as ev
from bot.engine import sysmsgs
from bot.engine.actions import REGISTRY as ACTIONS
from bot.engine.definition import (
    FINAL_END_REASONS,
    LANGUAGES,
    UNSURE,
    Action,
    Flow,
    Route,
    Wait,
)
from bot.engine.env import ContactView, Env
from bot.engine.keywords import KeywordHit, detect_all
from bot.engine.resumes import ExpireResume, MsgResume, Resume, StartResume, TimeoutResume
from bot.engine.routers import (
    Match,
    asks,
    read_own_place,
    route_date,
    route_municipality,
    route_number,
    route_options,
    route_text,
    route_yes_no,
)
from bot.engine.session import Frame, Session
from bot.engine.understand import THANKS_ONLY, Text, analyse, read_first, read_language

DANGER_FLOW = "danger"
ESCAPES = frozenset({"exit", "erase"})
SWITCH_MIN_WORDS = 3  # keywords that win over any answer to the question
_STOP = object()  # the run stopped: a wait started or the session ended
_DEFERRED_REFS = ("@case.reference",)  # resolved by the pipeline once the case row exists
# A yes/no question's options, the same every time (frozen: one tuple shared by its events).
_YES_NO = (ev.OptionOut(1, sysmsgs.YES, "yes"), ev.OptionOut(2, sysmsgs.NO, "no"))

MISS_MESSAGES = {
    "options": sysmsgs.NOT_UNDERSTOOD,
    "yes_no": sysmsgs.NOT_UNDERSTOOD,
    "date": sysmsgs.BAD_DATE,
    "number": sysmsgs.BAD_NUMBER,
    "municipality": sysmsgs.BAD_MUNICIPALITY,
    "text": sysmsgs.ASK_TEXT,
}


def labels_of(env: Env) -> Callable[[str], Iterable[str]]:
    """A label in every language, so an answer in the other language still counts."""

    def labels(msgid: str) -> Iterable[str]:
        for language in LANGUAGES:
            text = env.texts(language, msgid)
            if text and text != msgid:
                yield text

    return labels


def route(
    wait: Wait, text: str, button: str | None, env: Env, read: Text | None = None
) -> Match | None:
    """How the engine reads an answer to `wait` (also `helpline understand`'s reading); `read`
    is `text` analysed with the env's lexicon already, if the caller has it."""
    sim, lexicon = env.similarity, env.keywords.lexicon
    if wait.router == "options":
        return route_options(wait, text, button, labels_of(env), sim, lexicon, read)
    if wait.router == "yes_no":
        return route_yes_no(text, button, labels_of(env), sim, lexicon, wait.sense, read)
    if wait.router == "municipality":
        return route_municipality(text, env.places, sim, lexicon, read)
    if wait.router == "date":
        return route_date(text, env.now.date())
    if wait.router == "number":
        return route_number(text, wait.min, wait.max)
    if wait.router == "text":
        return route_text(text if button is None else button)
    raise EngineError(f"unknown router {wait.router!r}")


class EngineError(Exception):
    """A flow could not be run (a loop without waits, a missing flow); never personal data."""


@dataclass(slots=True)
class Outcome:
    """The engine's answer: the session to keep and what happened, in order."""

    session: Session | None
    events: list[ev.Event] = field(default_factory=list)
    new_session: bool = False
    ended_previous: bool = False  # an old session was ended (expired) before a new one began


def resume(
    session: Session | None,
    resume_with: Resume,
    contact: ContactView,
    env: Env,
    *,
    own: bool = False,
) -> Outcome:
    """Run the conversation forward from `resume_with`; the input session is not modified,
    unless the caller gives it up (`own`: a session it built for this call and reads no more,
    with containers no one else reads), when the engine runs on it rather than on a copy."""
    run = _Run(contact, env)
    if session is not None and not own:
        session = session.copy()
    return run.go(session, resume_with)


class _Run:
    """One call of the engine."""

    s: Session  # the session being run: set by go() once there is one

    def __init__(self, contact: ContactView, env: Env) -> None:
        self.contact = contact
        self.env = env
        self.events: list[ev.Event] = []
        self.steps = 0
        self.danger_ran = False
        self._also: set[str] = set()
        self._hits: tuple[KeywordHit, ...] | None = None  # the caller's reading of the keywords
        self._expiry: str | None = None  # see _expires_at

    # -- entry ---------------------------------------------------------------------------------

    def go(self, session: Session | None, res: Resume) -> Outcome:
        now_iso = self.env.now.isoformat()
        if isinstance(res, ExpireResume):
            if session and session.status != "ended" and session.expired(self.env.now):
                self.s = session
                self._end_session("expired")
                return Outcome(session, self.events)
            return Outcome(session, [])
        if isinstance(res, TimeoutResume):
            if not session or not session.waiting or res.seq != session.wait_seq:
                return Outcome(session, [])  # a stale timer: the person answered meanwhile
            self.s = session
            self._timeout()
            self._touch(now_iso)
            return Outcome(session, self.events)
        if isinstance(res, StartResume):
            return self._start(res, now_iso)
        self._hits = res.keywords
        ended_previous = False
        if session is not None and session.status != "ended" and session.expired(self.env.now):
            self.s = session
            self._end_session("expired")
            ended_previous = True
        if res.start or session is None or session.status == "ended":
            self._new_session(now_iso)
            self._first_message(res)
            self._touch(now_iso)
            return Outcome(self.s, self.events, new_session=True, ended_previous=ended_previous)
        self.s = session
        self._message(res)
        self._touch(now_iso)
        return Outcome(self.s, self.events)

    def _start(self, res: StartResume, now_iso: str) -> Outcome:
        """A conversation the helpline begins: a fresh session in `res.flow` (the caller made
        sure no conversation is in progress; a stale one is replaced)."""
        self.s = Session(
            language=self.contact.language,
            fields=dict(self.contact.fields),
            results=dict(res.results),
            started_at=now_iso,
            updated_at=now_iso,
        )
        frame = self._push(res.flow, mode="wait")
        self._go(self._flow(frame).start)
        self._touch(now_iso)
        return Outcome(self.s, self.events, new_session=True)

    def _new_session(self, now_iso: str) -> None:
        self.s = Session(
            language=self.contact.language,
            fields=dict(self.contact.fields),
            started_at=now_iso,
            updated_at=now_iso,
        )
        self._push(self.env.trigger_flow, mode="start")

    def _touch(self, now_iso: str) -> None:
        self.s.updated_at = now_iso
        if self.s.status != "ended":
            self.s.expires_at = self._expires_at()

    def _expires_at(self) -> str:
        """When the session expires if nothing more happens: now plus its time to live, as text.

        Made once a call: a question asked and the session touched after it both set it, and
        an aware datetime's isoformat costs ~11,000 instructions (callgrind, Python 3.11): a
        message of bench/instructions.py 1,853,141 -> 1,844,759."""
        if self._expiry is None:
            self._expiry = (self.env.now + self.env.session_ttl).isoformat()
        return self._expiry

    # -- messages ------------------------------------------------------------------------------

    def _first_message(self, res: MsgResume) -> None:
        # One reading of her words for the language, the disclosure and the keywords.
        text: str | Text = self._read(res)
        if not res.start and res.text.strip():
            self._read_first(text, res.text)
        elif res.media and not res.start:
            # A photo, voice note or sticker first: say we read only words (in her language
            # when known, else in both), then the conversation starts as for any first message.
            for language in (self.s.language,) if self.s.language else LANGUAGES:
                self.events.append(ev.MsgCreated(sysmsgs.MEDIA, language, {}))
        hit = None if res.start else self._keyword(text)
        if hit is not None:
            self._start_keyword(hit, parent_mode="start")
            return
        frame = self.s.frames[-1]
        frame.mode = "wait"
        self._go(self._flow(frame).start)

    def _message(self, res: MsgResume) -> None:
        s = self.s
        frame = s.frames[-1]
        node = self._flow(frame).node(frame.node)
        wait = node.wait
        if wait is None:  # a session saved mid-run (should not happen): start its node again
            self._go(node.id)
            return
        if res.media and not res.text.strip():
            self.events.append(ev.InputRejected("media", s.misses))
            self.say(sysmsgs.MEDIA)
            self._ask(node.id, wait)
            return
        if not res.text.strip() and res.button is None:
            self.events.append(ev.InputRejected("empty", s.misses))
            self.say(sysmsgs.EMPTY)
            self._ask(node.id, wait)
            return
        if len(res.text) > self.env.max_text:
            self.events.append(ev.InputRejected("too_long", s.misses))
            self.say(sysmsgs.TOO_LONG)
            return
        # One reading of her words for the language, the keywords and the answer.
        read = self._read(res) if res.button is None else None
        if read is not None:
            self._offer_switch(read)
        hit = self._keyword(read) if read is not None else None
        match = self._route(wait, res.text, res.button, read)
        if hit is not None and hit.keyword.mode == "whole":
            # "shqip" at the language question answers it; DIL and FSHI always leave.
            if match is None or match.category == UNSURE or hit.keyword.intent in ESCAPES:
                self._start_keyword(hit, parent_mode="reask")
                return
            hit = None
        if hit is not None:  # a danger phrase inside an answer: help first, then go on
            if match is not None:
                self._save_answer(wait, match)
                self._start_keyword(hit, parent_mode="route", route=match.category)
            else:
                self._start_keyword(hit, parent_mode="reask")
            return
        if match is None or (match.category == UNSURE and UNSURE not in wait.routes):
            self._miss(node.id, wait, unsure=match is not None)
            return
        s.misses = 0
        self._save_answer(wait, match)
        self._follow(wait.routes.get(match.category) or self._fallback_route(wait, match))

    def _read(self, res: MsgResume) -> Text:
        """Her words analysed: the caller's reading if it has one, else read now."""
        if res.read is not None:
            return res.read
        return analyse(res.text, self.env.keywords.lexicon)

    def _offer_switch(self, words: Text) -> None:
        """She writes free text in the other language: offer it, in that language, once a
        conversation (three words at least: "ok", "yes" say nothing of a language)."""
        s, lexicon = self.s, self.env.keywords.lexicon
        if s.results.get("switch_offered") or self.env.identify_language is None:
            return
        if len(words) < SWITCH_MIN_WORDS:
            return
        language = read_language(words, lexicon, self.env.identify_language)
        if language in LANGUAGES and language != self._language():
            s.results["switch_offered"] = "yes"
            self.events.append(ev.MsgCreated(sysmsgs.SWITCH, language, {}))

    def _fallback_route(self, wait: Wait, match: Match) -> Route:
        # A municipality router without an `unknown` route treats "don't know" like a found one.
        if match.category == "unknown" and "found" in wait.routes:
            return wait.routes["found"]
        raise EngineError(f"no route for category {match.category!r}")

    def _read_first(self, text: str | Text, raw: str) -> None:
        """What a first message already says: its language, danger, who it is about, where she
        is (her municipality: first_contact does not ask it again, a page goes to its duty), and
        what it asks (answered right after the safety questions)."""
        s, lexicon = self.s, self.env.keywords.lexicon
        text = text if isinstance(text, Text) else analyse(text, lexicon)
        language = read_language(text, lexicon, self.env.identify_language)
        if s.language is None and language in LANGUAGES:
            self.set_language(language)
            self._result("language_detected", "yes")
        self._result("first_language", language)
        reading = read_first(text, lexicon)
        if reading.danger:
            self._result("danger_now", True, "yes")
        if reading.role is not None:
            self._result("role", reading.role)
        if reading.topic is not None:
            self._result("first_topic", reading.topic)
            if reading.topic != THANKS_ONLY and asks(raw, text, lexicon):
                self._result("first_question", reading.topic)
        place = read_own_place(text, self.env.places, lexicon)
        if place is not None:
            self._result("place_said", "yes")
            self.set_field("municipality", place)

    def _result(self, name: str, value: Any, category: str = "set") -> None:
        self.s.results[name] = value
        self.events.append(ev.ResultSaved(name, value, category))

    def _keyword(self, text: str | Text) -> KeywordHit | None:
        hits = list(self._hits) if self._hits is not None else detect_all(text, self.env.keywords)
        # The keywords found beside the one that runs: the child path pages urgently only when
        # danger was said too (@results.said_danger).
        self._also = {h.keyword.intent for h in hits[1:]}
        return hits[0] if hits else None

    def _start_keyword(self, hit: KeywordHit, parent_mode: str, route: str | None = None) -> None:
        s = self.s
        self.events.append(ev.KeywordMatched(hit.keyword.intent))
        if s.language is None and hit.language in LANGUAGES:
            self.set_language(hit.language)
        # "english please": the language flow sets it without asking (None asks).
        s.results["keyword_language"] = hit.language
        for intent in self._also:
            s.results[f"said_{intent}"] = "yes"
        parent = s.frames[-1]
        parent.mode = parent_mode
        parent.route = route
        s.misses = 0
        child = self._push(hit.keyword.flow, mode="wait")
        if hit.keyword.flow == DANGER_FLOW:
            self.danger_ran = True
        self._go(self._flow(child).start)

    def _timeout(self) -> None:
        frame = self.s.frames[-1]
        wait = self._flow(frame).node(frame.node).wait
        route = wait.routes.get("timeout") if wait else None
        if route is None:
            return
        self.s.timeout_at = None
        self._follow(route)

    def _miss(self, node_id: str, wait: Wait, unsure: bool = False) -> None:
        s = self.s
        s.misses += 1
        self.events.append(ev.InputRejected("unsure" if unsure else "not_understood", s.misses))
        if "other" in wait.routes:
            self._follow(wait.routes["other"])
            return
        params = {"min": wait.min, "max": wait.max} if wait.router == "number" else {}
        if unsure:
            self.say(sysmsgs.UNSURE)
        elif s.misses >= 2 and wait.router in ("options", "yes_no"):
            self.say(sysmsgs.NOT_UNDERSTOOD_AGAIN)
        else:
            self.say(MISS_MESSAGES[wait.router], params)
        self._ask(node_id, wait)
        if s.misses >= 2:
            self.say(sysmsgs.REACH_PERSON, {"line": self._number("line")})

    # -- routing -------------------------------------------------------------------------------

    def _route(
        self, wait: Wait, text: str, button: str | None, read: Text | None = None
    ) -> Match | None:
        return route(wait, text, button, self.env, read)

    def _save_answer(self, wait: Wait, match: Match) -> None:
        s = self.s
        if wait.result:
            s.results[wait.result] = match.value
            self.events.append(
                ev.ResultSaved(wait.result, match.value, match.category, match.free_text)
            )
        if wait.field:
            self.set_field(wait.field, match.value)

    def _follow(self, route: Route) -> None:
        for action in route.actions:
            self._act(action)
            if self.s.status == "ended":
                return
        self._go(route.goto)

    # -- running nodes -------------------------------------------------------------------------

    def _go(self, node_id: str | None) -> None:
        """Run nodes in the top frame from `node_id` until a wait starts or the session ends."""
        target: Any = node_id
        while True:
            if target is _STOP or self.s.status == "ended":
                return
            if target is None:
                target = self._finish_frame("completed")
                continue
            self.steps += 1
            if self.steps > self.env.max_steps:
                frame = self.s.frames[-1]
                raise EngineError(f"flow {frame.flow} ran {self.steps} steps without a wait")
            frame = self.s.frames[-1]
            node = self._flow(frame).node(target)
            frame.node, frame.mode, frame.route = node.id, "wait", None
            for action in node.actions:
                self._act(action)
                if self.s.status == "ended":
                    return
            if node.wait is not None:
                self._ask(node.id, node.wait)
                return
            if node.enter is not None:
                if node.enter == DANGER_FLOW and self.danger_ran:
                    target = node.next  # the danger flow already ran for this message
                    continue
                frame.mode = "enter"
                child = self._push(node.enter, mode="wait")
                if node.enter == DANGER_FLOW:
                    self.danger_ran = True
                target = self._flow(child).start
                continue
            if node.next is not None:
                target = node.next
                continue
            if node.split is not None:
                value = self._split_value(node.split)
                route = node.cases.get(value, node.default)
                if route is None:
                    target = None
                    continue
                for action in route.actions:
                    self._act(action)
                target = route.goto
                continue
            if node.end is not None:
                target = self._finish_frame(node.end)
                continue
            raise EngineError(f"node {node.id} of {frame.flow} does nothing")

    def _finish_frame(self, reason: str) -> Any:
        """End the top flow; return the node to run next in the parent, None or _STOP."""
        s = self.s
        if reason in FINAL_END_REASONS or len(s.frames) <= 1:
            self._end_session(reason)
            return _STOP
        s.frames.pop()
        parent = s.frames[-1]
        flow = self._flow(parent)
        if parent.mode == "start":
            parent.mode = "wait"
            return flow.start
        node = flow.node(parent.node)
        if parent.mode == "enter":
            return node.next
        if parent.mode == "route" and node.wait is not None and parent.route is not None:
            route = node.wait.routes.get(parent.route)
            parent.mode, parent.route = "wait", None
            if route is not None:
                for action in route.actions:
                    self._act(action)
                return route.goto
        # "reask": ask the question that was waiting, in the (maybe new) language.
        parent.mode, parent.route = "wait", None
        if node.wait is None:
            return node.next
        self.say(sysmsgs.RESUME)
        self._ask(node.id, node.wait)
        return _STOP

    def _end_session(self, reason: str) -> None:
        s = self.s
        s.status = "ended"
        s.ended_reason = reason
        s.frames = []
        s.timeout_at = None
        self.events.append(ev.SessionEnded(reason))

    def _ask(self, node_id: str, wait: Wait) -> None:
        s = self.s
        options: tuple[ev.OptionOut, ...] = ()
        if wait.router == "options":
            options = tuple(
                ev.OptionOut(i, o.label, o.value) for i, o in enumerate(wait.options, start=1)
            )
        elif wait.router == "yes_no":
            options = _YES_NO
        self.events.append(
            ev.MsgCreated(wait.text, self._language(), self._params(wait.params), options)
        )
        s.status = "waiting"
        s.wait_seq += 1
        s.timeout_at = (self.env.now + wait.timeout).isoformat() if wait.timeout else None
        s.expires_at = self._expires_at()
        frame = s.frames[-1]
        self.events.append(
            ev.WaitStarted(frame.flow, node_id, s.wait_seq, s.timeout_at, s.expires_at)
        )

    # -- frames and flows ----------------------------------------------------------------------

    def _push(self, name: str, mode: str) -> Frame:
        s = self.s
        version = s.pins.get(name)
        try:
            flow = self.env.flows.get(name, version)
        except KeyError as exc:
            raise EngineError(f"flow {name!r} (version {version}) is not available") from exc
        s.pins.setdefault(name, flow.version)
        frame = Frame(flow=name, version=flow.version, node=flow.start, mode=mode)
        s.frames.append(frame)
        return frame

    def _flow(self, frame: Frame) -> Flow:
        try:
            return self.env.flows.get(frame.flow, frame.version)
        except KeyError as exc:
            raise EngineError(f"flow {frame.flow}@{frame.version} is not available") from exc

    # -- actions -------------------------------------------------------------------------------

    def _act(self, action: Action) -> None:
        kind = ACTIONS.get(action.kind)
        if kind is None:
            raise EngineError(f"unknown action {action.kind!r}")
        kind.run(self, self.s, action.args)

    # What actions run with (bot/engine/actions.py's Context).

    def say(self, msgid: str, params: Mapping[str, Any] | None = None) -> None:
        """Send a message in the session's language."""
        self.events.append(ev.MsgCreated(msgid, self._language(), self._params(params or {})))

    def set_language(self, language: str) -> None:
        """Switch the session's language, reported once."""
        if self.s.language != language:
            self.s.language = language
            self.events.append(ev.LanguageChanged(language))

    def set_field(self, name: str, value: Any) -> None:
        """Save a contact field; the municipality is also the case's."""
        s = self.s
        s.fields[name] = value
        self.events.append(ev.FieldChanged(name, value))
        if name == "municipality":
            s.case_info["municipality"] = value
            if s.case_open:
                self.events.append(ev.CaseUpdated({"municipality": value}))

    # -- values --------------------------------------------------------------------------------

    def _language(self) -> str:
        return self.s.language or self.env.default_language

    def _country(self) -> str | None:
        slug = self.s.fields.get("municipality")
        for place in self.env.places:
            if place.slug == slug:
                return place.country
        # No municipality yet: the country of her phone number (the pipeline's `country` field).
        country = self.s.fields.get("country")
        return str(country) if country else None

    def _number(self, name: str) -> str:
        numbers = self.env.numbers
        table = numbers.get(self._country() or "default") or numbers.get("default") or {}
        # A variant in the reader's language names who a line is for ("116 117, for women...").
        return str(table.get(f"{name}_{self._language()}", table.get(name, "")))

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.resolve(v) for k, v in params.items()}

    def _split_value(self, ref: str) -> str:
        if ref == "@case.reference":
            return "open" if self.s.case_open else ""
        value = self.resolve(ref)
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "" if value is None else str(value)

    def resolve(self, value: Any) -> Any:
        """Literal values pass; `@root.name` references are looked up."""
        if not isinstance(value, str) or not value.startswith("@"):
            return value
        if value in _DEFERRED_REFS:
            return value
        root, _, name = value[1:].partition(".")
        s = self.s
        if root == "results":
            return s.results.get(name)
        if root == "fields":
            return s.fields.get(name)
        if root == "contact":
            return (s.language or "") if name == "language" else None
        if root == "numbers":
            return self._number(name)
        if root == "municipality":
            slug = s.fields.get("municipality")
            place = next((p for p in self.env.places if p.slug == slug), None)
            if place is None:
                return None
            return {"name": place.name, "country": place.country, "slug": place.slug}.get(name)
        if root == "risk":
            return (s.risk or {}).get(name)
        if root == "case":
            return ("yes" if s.case_open else "no") if name == "open" else None
        return None
