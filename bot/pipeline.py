"""The one use case: an inbound message or due timer -> engine -> writes -> commit -> outbox."""

from __future__ import annotations

import asyncio
import enum
import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from bot import engine, safe_times
from bot.channels.base import Recall
from bot.channels.recalls import RECALLS
from bot.data.geo import locate
from bot.data.numbers import country_of_urn
from bot.engine import events as ev
from bot.engine import sysmsgs
from bot.engine.env import ContactView, Env, Place
from bot.engine.keywords import detect_all
from bot.engine.session import Session
from bot.engine.understand import analyse
from bot.flows.library import FlowLibrary
from bot.followups import handlers as followup_handlers
from bot.followups.service import Followups, Prepare
from bot.handlers import cases as case_handlers
from bot.handlers import contact as contact_handlers
from bot.handlers import hub as hub_handlers
from bot.handlers import sessions as session_handlers
from bot.handlers.erasure import Erasure
from bot.handlers.hub import EventSink
from bot.handlers.registry import Committed, Handlers, Turn
from bot.handlers.reply import Reply
from bot.handlers.sessions import FIRE_EXPIRE, FIRE_TIMEOUT
from bot.language import identify as identify_language
from bot.matching import similarity
from bot.messages import Inbound, StatusUpdate, Urn
from bot.referral import handlers as referral_handlers
from bot.referral.service import Referral
from bot.replies import provider_meta
from bot.store.db import Database, UnitOfWork, storage_failure
from bot.store.group_commit import GroupCommit, Unit
from bot.store.records import Case, Contact, Fire, Handoff, Municipality, OutboxItem, StoredSession

log = logging.getLogger(__name__)

START_COMMANDS = frozenset({"/start"})
__all__ = ["FIRE_EXPIRE", "FIRE_TIMEOUT", "EventSink", "Handled", "Pipeline", "places_from"]


def places_from(municipalities: Sequence[Municipality]) -> list[Place]:
    """Municipalities as the engine matches them: name, slug and every alias."""
    return [
        Place(
            slug=m.slug,
            name=m.name,
            country=m.country,
            names=(m.name, m.slug, m.slug.replace("-", " "), *m.aliases),
        )
        for m in municipalities
    ]


class Translator(Protocol):
    """The part of i18n.Catalogs the pipeline needs."""

    def text(self, locale: str, msgid: str, params: Mapping[str, Any] | None = None) -> str:
        """A message in a language, with params filled in."""
        ...


class HandTo(Protocol):
    """The part of the outbox sender a receive hands its replies to (bot/outbox.py)."""

    owner: str
    lease: timedelta

    def take(self, items: Sequence[OutboxItem]) -> None:
        """Committed rows leased to this sender: send them without a claim."""
        ...


class Unread(enum.Enum):
    """Her open case was not read yet in this transaction."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


@dataclass(slots=True)
class Handled:
    """What processing one inbound message did (for channels and tests)."""

    status: str  # processed | duplicate | limited (kept, not answered) | failed
    events: list[ev.Event] = field(default_factory=list)
    case_reference: str | None = None


class Pipeline:
    """Processes inbound messages (several a transaction) and due timers, in order per contact."""

    def __init__(
        self,
        db: Database,
        flows: FlowLibrary,
        catalogs: Translator,
        *,
        places: Sequence[Place] = (),
        numbers: Mapping[str, Mapping[str, str]] | None = None,
        session_ttl: timedelta = timedelta(days=1),
        clock: Callable[[], datetime],
        hub: EventSink | None = None,
        on_commit: Callable[[], None] | None = None,
        hand_to: HandTo | None = None,
        referral: Referral | None = None,
        trigger_flow: str = "first_contact",
        leads: Callable[[], bool] = lambda: True,
        followups: Followups | None = None,
        reply_limit: Callable[[str, str], float | None] | None = None,
        recalls: Mapping[str, Recall] = RECALLS,
    ) -> None:
        self.db = db
        self.flows = flows
        self.catalogs = catalogs
        self.places = list(places)
        self.numbers = dict(numbers or {})
        self.session_ttl = session_ttl
        self.clock = clock
        self.hub = hub
        self.on_commit = on_commit
        # The outbox sender of this process: a reply due at once is written leased to it and
        # handed over once committed, so it sends without claiming (bot/outbox.py take).
        self.hand_to = hand_to
        self.trigger_flow = trigger_flow
        # Several workers: sweeps that must run once run in the elected leader only.
        self.leads = leads
        # Referral: coordinators' commands, alerts, relays (app.py passes the configured one).
        self.referral = referral or Referral(catalogs)
        # Follow-ups: orders registered, check-ins answered (app.py passes the configured one).
        self.followups = followups or Followups(self.referral.ctx)
        # Security: the per-sender limit (bot/web/limits.py ReplyLimiter.reserve): seconds to
        # hold a reply back, None to keep the message unanswered. The intake is never limited.
        self.reply_limit = reply_limit
        self.handlers = self._handlers(recalls)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Performance: the messages arriving together are stored in one transaction, optimistic
        # (no savepoints; run again under one savepoint each if one fails: group_commit.py); a
        # contact's next message waits for her lock, so it is never in the same batch as the
        # one before it.
        self.intake = GroupCommit(db, "receive")

    def _handlers(self, recalls: Mapping[str, Recall]) -> Handlers:
        """Each feature registers its handlers; the order is the order they run in."""
        handlers = Handlers()
        session_handlers.register(handlers)
        case_handlers.register(handlers)  # before those that read the case it opens
        referral_handlers.register(handlers, self.referral)
        followup_handlers.register(handlers, self.followups, self.referral)
        contact_handlers.register(handlers)  # after follow-ups' code words, before the reply
        Reply(self.catalogs.text, self.referral.ctx.places).register(handlers)
        Erasure(recalls, self.catalogs.text).register(
            handlers
        )  # last to write: she is gone after it
        if self.on_commit is not None:
            wake = self.on_commit
            # Not when all the commit queued is in the sender's hands already (a claim would
            # find nothing of it).
            handlers.after_commit(lambda done: wake() if done.claim else None)
        if self.hub is not None:
            hub_handlers.register(handlers, self.hub)
        return handlers

    # -- public ----------------------------------------------------------------------------------

    def env(self, now: datetime) -> Env:
        """The engine's world at `now`."""
        return Env(
            now=now,
            flows=self.flows,
            texts=lambda locale, msgid: self.catalogs.text(locale, msgid),
            places=self.places,
            keywords=self.flows.keywords,
            numbers=self.numbers,
            similarity=similarity,
            identify_language=identify_language,
            session_ttl=self.session_ttl,
            trigger_flow=self.trigger_flow,
        )

    async def receive(self, inbound: Inbound) -> Handled:
        """Process one inbound message; a repeated external id is dropped."""
        async with self._lock(inbound.urn):
            try:
                handled, turn = await self.intake.run(
                    partial(self._receive, inbound), then=self._hand_over
                )
            except Exception as exc:
                # Never lose what the person wrote, and never leave them without an answer.
                if storage_failure(exc) is None:  # a full disk is logged once, by the store
                    log.exception("processing an inbound %s message failed", inbound.channel)
                return await self._record_failure(inbound)
        self._after_commit(inbound.urn, turn)
        return handled

    def _hand_over(self, received: tuple[Handled, Turn | None]) -> None:
        """Committed: what the receive leased to this process's sender goes to it now (also
        when its caller no longer waits, or the rows would wait out their lease)."""
        turn = received[1]
        if turn is not None and turn.handoff is not None and turn.handoff.items:
            assert self.hand_to is not None
            self.hand_to.take(turn.handoff.items)

    async def run_fire(self, fire: Fire) -> None:
        """Resume the session a due timer belongs to (a wait's timeout or the session's expiry)."""
        if fire.kind in self.referral.fire_kinds:  # Referral: alert escalation timers
            await self.referral.run_fire(self.db, fire, self.clock())
            self._after_commit("", None)
            return
        async with self.db.uow() as uow:
            contact = await uow.contacts.get(fire.contact_id)
            stored = await uow.sessions.get(fire.session_id) if fire.session_id else None
            if contact is None or stored is None or stored.status == "ended":
                await uow.fires.done(fire.id)
                await uow.commit()
                return
        async with self._lock(contact.urn):
            async with self.db.uow() as uow:
                # Locked: a message of hers another worker is processing goes first, or after.
                contact = await uow.contacts.get(fire.contact_id, lock=True)
                assert fire.session_id is not None  # checked before the lock
                stored = await uow.sessions.get(fire.session_id)
                turn = None
                if contact is not None and stored is not None and stored.status != "ended":
                    session = Session.from_dict(stored.state)
                    await self._ensure_versions(uow, session)
                    res = (
                        engine.TimeoutResume(fire.seq)
                        if fire.kind == FIRE_TIMEOUT
                        else engine.ExpireResume()
                    )
                    now = self.clock()
                    outcome = engine.resume(session, res, self._view(contact), self.env(now))
                    # Safe times: what a timer says, nobody asked for just now.
                    turn = await self._apply(uow, contact, stored, outcome, now, timer=True)
                    if fire.kind == FIRE_EXPIRE:
                        await session_handlers.rearm_expiry(turn)
                await uow.fires.done(fire.id)
                await uow.commit()
        if contact is not None:
            self._after_commit(contact.urn, turn)

    async def begin(
        self,
        contact_id: int,
        prepare: Prepare,
    ) -> bool:
        """Start a conversation the helpline begins (a follow-up check-in), under the person's
        lock, in one transaction: `prepare(uow, contact, now)` decides (and writes why not);
        the StartResume it returns runs like a message. True when one started."""
        async with self.db.uow() as uow:
            contact = await uow.contacts.get(contact_id)
        if contact is None:
            async with self.db.uow() as uow:
                await prepare(uow, None, self.clock())
                await uow.commit()
            return False
        urn = contact.urn  # the contact read under the lock may be gone (erased meanwhile)
        async with self._lock(urn):
            async with self.db.uow() as uow:
                now = self.clock()
                contact = await uow.contacts.get(contact_id, lock=True)  # across workers too
                start = await prepare(uow, contact, now)
                turn = None
                if start is not None and contact is not None:
                    stored = await uow.sessions.get_active(contact.id)
                    session = Session.from_dict(stored.state) if stored else None
                    if session is not None and not await self._ensure_versions(uow, session):
                        session = None
                    outcome = engine.resume(session, start, self._view(contact), self.env(now))
                    turn = await self._apply(
                        uow, contact, stored, outcome, now, outbox_kind="followup"
                    )
                await uow.commit()
        self._after_commit(urn, turn)
        return start is not None

    async def sweep_fires(self, limit: int = 100, owner: str = "sweeper") -> int:
        """Claim due timers and run them; returns how many ran."""
        now = self.clock()
        async with self.db.uow() as uow:
            fires = await uow.fires.claim_due(now, limit, timedelta(minutes=2), owner)
            await uow.commit()
        for fire in fires:
            try:
                await self.run_fire(fire)
            except Exception:
                log.exception("a %s timer failed", fire.kind)
        if self.leads():
            await self.sweep_referrals()
        return len(fires)

    async def sweep_referrals(self) -> int:
        """Referral: due digests, failed alerts sent the other way, early escalations."""
        try:
            done = await self.referral.sweep(self.db, self.clock())
        except Exception:
            log.exception("the referral sweep failed")
            return 0
        if done:
            self._after_commit("", None)
        return done

    # -- one message -----------------------------------------------------------------------------

    def _lock(self, urn: str) -> asyncio.Lock:
        lock = self._locks.get(urn)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[urn] = lock
        return lock

    async def _receive(self, inbound: Inbound, unit: Unit) -> tuple[Handled, Turn | None]:
        """One message in the unit of work `unit()` opens (its own, or its batch's savepoint)."""
        now = self.clock()
        async with unit() as uow:
            queued = uow.outbox.queued
            # A repeat (the provider retrying) is found by the insert itself, ON CONFLICT.
            # A contact created now was last seen now (no second write of it), and has nothing
            # yet: no outbox rows, no session, no case to look up. Whether a coordinator may
            # write from her address comes with her contact (one statement less a message), and
            # a known person's last_seen_at is set by that statement too (Arrival.seen_now; not
            # for a repeat or a coordinator's address: see contacts.SEEN_BY_HASH).
            arrival = await uow.contacts.arrive(
                inbound.urn, inbound.channel, now, stamp=True, external_id=inbound.external_id
            )
            contact, created = arrival.contact, arrival.created
            message_id = await uow.messages.add_inbound(
                contact.id,
                inbound.channel,
                inbound.external_id,
                inbound.text,
                inbound.received_at,
                chat_message_id=inbound.meta.get("message_id"),
            )
            if message_id is None:
                # Committed though nothing was written: a unit that ends uncommitted makes an
                # optimistic batch run again under savepoints (bot/store/group_commit.py).
                await uow.commit()
                return Handled("duplicate"), None
            # Referral: a coordinator's message is a command, never a conversation with the bot.
            coordinator = (
                await self.referral.coordinator_for(uow, inbound.urn)
                if arrival.coordinator
                else None
            )
            if coordinator is not None:
                await self.referral.handle_coordinator(uow, coordinator, contact, inbound, now)
                # Security: what it said lives on as notes and relays, which erasure and
                # retention reach; a raw copy here would outlive an FSHI of the person named.
                await uow.retention.forget_message_text(message_id, now)
                if not arrival.seen_now:
                    await uow.contacts.touch(contact.id, now)
                await uow.commit()
                return Handled("processed"), None
            # Her waiting session, her open case and whether replies wait for her, in one
            # statement after her lock (never in the locking one: see contacts.STANDING).
            standing = None if created else await uow.contacts.standing(contact.id, now)
            # Safe times: she is at her phone now; what waited for her goes (DIL holds it again).
            held = standing is not None and standing.held
            if held:
                await uow.outbox.release(contact.id, now)
            stored = standing.session if standing is not None else None
            # Referral: while a coordinator's relay is open, the person's words go to them; the
            # flows see only keywords and answers to a keyword's question (FSHI's confirmation).
            session = Session.from_dict(stored.state) if stored else None
            frames = session.frames if session is not None else []
            keywords = self.flows.keywords
            read = analyse(inbound.text, keywords.lexicon)
            hits = tuple(detect_all(read, keywords))
            keyword = hits[0] if hits else None
            flows_too = keyword is not None or (bool(frames) and frames[-1].flow in keywords.flows)
            # Security: over the per-sender limit her message is kept (stored above, after the
            # duplicate check) and the replies are limited: held back, or none in a flood. A
            # keyword (danger, DIL, FSHI) always goes through at once.
            reply_at = now
            if self.reply_limit is not None and keyword is None:
                delay = self.reply_limit(inbound.urn, inbound.external_id)
                if delay is None:
                    if not arrival.seen_now:
                        await uow.contacts.touch(contact.id, now)
                    await uow.commit()
                    return Handled("limited"), None
                reply_at = now + timedelta(seconds=delay)
            # Referral: a relay needs a worked case, and a worked case is open: without an open
            # case (most people) there is nothing to look up. Read once (with her session,
            # nothing of hers written since), used by the turn too.
            case: Case | Unread | None = standing.case if standing is not None else None
            if case is not None and await self.referral.relay_inbound(
                uow, contact, inbound.text, now, flows_too=flows_too
            ):
                if not arrival.seen_now:
                    await uow.contacts.touch(contact.id, now)
                await uow.commit()
                return Handled("processed"), None
            if session is not None and not await self._ensure_versions(uow, session):
                session = None  # its flow versions are gone: start afresh rather than fail
            if contact.opted_out and inbound.channel != "sms":
                # Writing to us again after blocking the bot means they unblocked it.
                await uow.contacts.set_flags(contact.id, opted_out=False)
            start = inbound.text.strip().lower() in START_COMMANDS
            text = inbound.text
            if "latitude" in inbound.meta:
                # A shared location answers "which municipality?" by the nearest seat; the
                # coordinates themselves are never stored or logged, only the slug goes on.
                text = locate(inbound.meta["latitude"], inbound.meta.get("longitude", "")) or ""
            # Follow-ups: her code words (a check-in's answer; her distress word at any time).
            text = await self.followups.read_code_words(uow, contact, session, text, now)
            env = self.env(now)
            same = not start and text == inbound.text and env.keywords is keywords
            resume = engine.MsgResume(
                "" if start else text,
                button=inbound.button,
                start=start,
                media=bool(inbound.meta.get("media")),  # every channel names it (photo, voice...)
                # Her words were read for keywords above: the engine reuses that reading (and
                # the keywords found) when it reads the same words with the same keywords (not
                # a location, a code word taken out, or a reload of the flows meanwhile).
                keywords=hits if same else None,
                read=read if same else None,
            )
            view = self._view(contact, case if isinstance(case, Case) else None)
            # The session was read for this message alone and is not read after this: the
            # engine runs on it, not on a deep copy (~250 bytecodes a message). Its containers
            # are stored.state's, which is read again only when the engine begins a new
            # session, and then the old one's are as loaded: an expired session is ended by
            # setting its attributes, /start leaves it alone (save_session).
            outcome = engine.resume(session, resume, view, env, own=True)
            if text != inbound.text:
                case = UNREAD  # a code word may have opened one (follow-ups' urgent alert)
            # The reply goes to this process's sender in hand, unless what waited for her was
            # just released: those rows go first, by a claim, and her reply after them.
            handoff = None
            if self.hand_to is not None and not held:
                hand_to = self.hand_to
                handoff = Handoff(hand_to.owner, now + hand_to.lease)
            turn = await self._apply(
                uow, contact, stored, outcome, now, reply_at=reply_at, case=case, handoff=handoff
            )
            if not arrival.seen_now:
                await uow.contacts.touch(contact.id, now)
            # Whether anything of this unit waits for the sender's claim.
            turn.claim = uow.outbox.queued != queued
            await uow.commit()
        return Handled("processed", outcome.events, turn.case_reference), turn

    async def _record_failure(self, inbound: Inbound) -> Handled:
        now = self.clock()
        try:
            async with self.db.uow() as uow:
                contact, _ = await uow.contacts.get_or_create(inbound.urn, inbound.channel, now)
                message_id = await uow.messages.add_inbound(
                    contact.id,
                    inbound.channel,
                    inbound.external_id,
                    inbound.text,
                    inbound.received_at,
                )
                if message_id is None:
                    return Handled("duplicate")
                language = contact.language or "sq"
                text = self.catalogs.text(language, sysmsgs.ERROR)
                outbox_id = await uow.outbox.add(
                    contact_id=contact.id,
                    channel=inbound.channel,
                    urn=inbound.urn,
                    text=text,
                    kind="system",
                    due_at=now,
                    now=now,
                    meta=provider_meta(contact, "reply", False, None, inbound.received_at),
                )
                await uow.messages.add_outbound(contact.id, inbound.channel, text, now, outbox_id)
                await uow.commit()
        except Exception as exc:
            if storage_failure(exc) is None:
                log.exception("recording a failed inbound %s message failed too", inbound.channel)
            raise
        self._after_commit(inbound.urn, None)
        return Handled("failed")

    async def _ensure_versions(self, uow: UnitOfWork, session: Session) -> bool:
        """Load older flow versions a session is pinned to; False if one is missing."""
        for name, version in {(f.flow, f.version) for f in session.frames} | set(
            session.pins.items()
        ):
            if self.flows.has_version(name, version):
                continue
            source = await uow.flows.get(name, version)
            if source is None:
                log.warning("flow %s@%s is no longer stored; starting afresh", name, version)
                return False
            self.flows.add_version(name, source)
        return True

    def _view(self, contact: Contact, case: Case | None = None) -> ContactView:
        fields = dict(contact.fields)
        # Her phone's country (+355, +383) picks the numbers until she names a municipality.
        country = country_of_urn(contact.urn)
        if country and "country" not in fields:
            fields["country"] = country
        if case is not None:
            # Her case is still open: a new conversation says so (after the safe-to-text
            # question) and does not ask what the case knows; read, never stored on her.
            fields["open_case"] = "yes"
            if case.reporter:
                fields["case_reporter"] = case.reporter
            if case.municipality:
                fields["municipality"] = case.municipality
                fields["case_place"] = "known"
        return ContactView(language=contact.language, fields=fields, channel=contact.channel)

    # -- events -> writes ------------------------------------------------------------------------

    async def _apply(
        self,
        uow: UnitOfWork,
        contact: Contact,
        stored: StoredSession | None,
        outcome: engine.Outcome,
        now: datetime,
        outbox_kind: str = "reply",
        timer: bool = False,
        reply_at: datetime | None = None,
        case: Case | Unread | None = UNREAD,
        handoff: Handoff | None = None,
    ) -> Turn:
        """Turn the engine's events into rows, in this transaction, through the handlers;
        `case` is her open case when the caller read it already in this transaction."""
        turn = Turn(
            uow,
            contact,
            stored,
            outcome,
            now,
            fields=dict(contact.fields),
            outbox_kind=outbox_kind,
            # Safe times: what a timer says, nobody asked for just now.
            timer=timer,
            reply_at=reply_at,
            handoff=handoff,
        )
        await session_handlers.save_session(turn)
        turn.case = await uow.cases.open_for_contact(contact.id) if case is UNREAD else case
        await self.handlers.apply(turn)
        return turn

    async def record_status(self, update: StatusUpdate) -> None:
        """A provider told us what became of a message we sent."""
        async with self.db.uow() as uow:
            contact_id = await uow.messages.set_status(
                update.channel, update.external_id, update.status, update.error_code
            )
            if contact_id is not None and update.contact_state:
                await uow.contacts.set_flags(
                    contact_id,
                    opted_out=True if update.contact_state == "opted_out" else None,
                    unreachable=True if update.contact_state == "unreachable" else None,
                )
            if update.hold:
                # Refused for WhatsApp's 24 hours after all: hers waits until she writes (not
                # retried before), a coordinator's alert goes another way.
                await uow.outbox.hold_sent(update.channel, update.external_id, update.error_code)
            await uow.commit()

    async def claim_nudge(self, urn: str, now: datetime) -> bool:
        """WhatsApp: True when this address may be sent "a message waits for you" now (none in
        the last 24 hours, by any worker); the claim is recorded."""
        async with self.db.uow() as uow:
            since = now - (safe_times.WINDOW - safe_times.WINDOW_MARGIN)  # as window_open counts
            claimed = await uow.contacts.claim_nudge(urn, now, since)
            await uow.commit()
        return claimed

    async def release_nudge(self, urn: str, now: datetime) -> None:
        """WhatsApp: the announcement claimed at `now` was not sent after all."""
        async with self.db.uow() as uow:
            await uow.contacts.release_nudge(urn, now)
            await uow.commit()

    async def last_heard(self, urn: str) -> datetime | None:
        """When this address last wrote to us (WhatsApp's 24-hour window), None if never."""
        async with self.db.uow() as uow:
            contact = await uow.contacts.find_by_urn(urn)
        return contact.last_seen_at if contact is not None else None

    async def set_opt_out(self, urn: str, opted_out: bool) -> bool:
        """The person opted out of (or back into) messages at the provider (SMS STOP/START);
        True when that changed her state."""
        now = self.clock()
        channel = Urn.parse(urn).channel
        async with self._lock(urn), self.db.uow() as uow:
            contact, _ = await uow.contacts.get_or_create(urn, channel, now)
            await uow.contacts.set_flags(contact.id, opted_out=opted_out)
            await uow.commit()
        return contact.opted_out != opted_out

    def _after_commit(self, urn: str, turn: Turn | None) -> None:
        """The after-commit hooks (the sender's wake, the simulator's panel)."""
        if turn is None:
            self.handlers.committed(Committed(urn))
        else:
            self.handlers.committed(
                Committed(urn, tuple(turn.hub_events), turn.case_reference, turn.claim)
            )
