"""The one use case: an inbound message or due timer -> engine -> writes -> commit -> outbox."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from bot import engine, safe_times
from bot.data.geo import locate
from bot.data.numbers import country_of_urn
from bot.engine import events as ev
from bot.engine import sysmsgs
from bot.engine.env import ContactView, Env, Place
from bot.engine.keywords import detect
from bot.engine.session import Session
from bot.flows.library import FlowLibrary
from bot.followups.service import Followups
from bot.language import identify as identify_language
from bot.matching import similarity
from bot.messages import Inbound, StatusUpdate
from bot.referral.service import Referral, with_lines
from bot.rendering import render
from bot.store.db import storage_failure
from bot.store.group_commit import GroupCommit, Unit

log = logging.getLogger(__name__)

START_COMMANDS = frozenset({"/start"})
FIRE_TIMEOUT = "wait_timeout"
FIRE_EXPIRE = "session_expire"
# Bots may delete messages of a private chat for 48 hours only
# (https://core.telegram.org/bots/api#deletemessage).
TELEGRAM_DELETE_WINDOW = timedelta(hours=48)
# Twilio refuses to delete a message it is still processing (error 20009); wait a little first.
TWILIO_DELETE_DELAY = timedelta(minutes=2)
# Events the simulator shows beside the chat; messages themselves arrive through the outbox.
HUB_EVENTS = frozenset(
    {
        "case_opened",
        "case_updated",
        "risk_assessed",
        "urgency_raised",
        "referral_requested",
        "consent_recorded",
        "language_changed",
        "keyword_matched",
        "session_ended",
        "followup_started",
        "followup_answered",
        "erasure_requested",
        "input_rejected",
    }
)


def places_from(municipalities: Sequence[Any]) -> list[Place]:
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


class EventSink(Protocol):
    """Where engine events are published after commit (the simulator's hub)."""

    def publish_event(self, urn: str, event: dict[str, Any]) -> None:
        """Hand one event to whoever watches this URN."""
        ...


@dataclass(slots=True)
class Handled:
    """What processing one inbound message did (for channels and tests)."""

    status: str  # processed | duplicate | limited (kept, not answered) | failed
    events: list[ev.Event] = field(default_factory=list)
    case_reference: str | None = None


@dataclass(slots=True)
class _Applied:
    case_reference: str | None = None
    hub_events: list[dict[str, Any]] = field(default_factory=list)


class Pipeline:
    """Processes inbound messages (several a transaction) and due timers, in order per contact."""

    def __init__(
        self,
        db: Any,
        flows: FlowLibrary,
        catalogs: Translator,
        *,
        places: Sequence[Place] = (),
        numbers: Mapping[str, Mapping[str, str]] | None = None,
        session_ttl: timedelta = timedelta(days=1),
        clock: Callable[[], datetime],
        hub: EventSink | None = None,
        on_commit: Callable[[], None] | None = None,
        referral: Referral | None = None,
        trigger_flow: str = "first_contact",
        leads: Callable[[], bool] = lambda: True,
        followups: Followups | None = None,
        reply_limit: Callable[[str], float | None] | None = None,
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
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # Performance: the messages arriving together are stored in one transaction, each under
        # its own savepoint (bot/store/group_commit.py); a contact's next message waits for her
        # lock, so it is never in the same batch as the one before it.
        self.intake = GroupCommit(db, "receive")

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
                handled, applied = await self.intake.run(partial(self._receive, inbound))
            except Exception as exc:
                # Never lose what the person wrote, and never leave them without an answer.
                if storage_failure(exc) is None:  # a full disk is logged once, by the store
                    log.exception("processing an inbound %s message failed", inbound.channel)
                return await self._record_failure(inbound)
        self._after_commit(inbound.urn, applied)
        return handled

    async def run_fire(self, fire: Any) -> None:
        """Resume the session a due timer belongs to (a wait's timeout or the session's expiry)."""
        if fire.kind in self.referral.fire_kinds:  # Referral: alert escalation timers
            await self.referral.run_fire(self.db, fire, self.clock())
            self._after_commit("", _Applied())
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
                stored = await uow.sessions.get(fire.session_id)
                applied = _Applied()
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
                    applied = await self._apply(uow, contact, stored, outcome, now, timer=True)
                await uow.fires.done(fire.id)
                await uow.commit()
        if contact is not None:
            self._after_commit(contact.urn, applied)

    async def begin(
        self,
        contact_id: int,
        prepare: Callable[[Any, Any, datetime], Awaitable[engine.StartResume | None]],
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
        async with self._lock(contact.urn):
            async with self.db.uow() as uow:
                now = self.clock()
                contact = await uow.contacts.get(contact_id, lock=True)  # across workers too
                start = await prepare(uow, contact, now)
                applied = _Applied()
                if start is not None and contact is not None:
                    stored = await uow.sessions.get_active(contact.id)
                    session = Session.from_dict(stored.state) if stored else None
                    if session is not None and not await self._ensure_versions(uow, session):
                        session = None
                    outcome = engine.resume(session, start, self._view(contact), self.env(now))
                    applied = await self._apply(
                        uow, contact, stored, outcome, now, outbox_kind="followup"
                    )
                await uow.commit()
        self._after_commit(contact.urn, applied)
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
            self._after_commit("", _Applied())
        return done

    # -- one message -----------------------------------------------------------------------------

    def _lock(self, urn: str) -> asyncio.Lock:
        lock = self._locks.get(urn)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[urn] = lock
        return lock

    async def _receive(self, inbound: Inbound, unit: Unit) -> tuple[Handled, _Applied]:
        """One message in the unit of work `unit()` opens (its own, or its batch's savepoint)."""
        now = self.clock()
        async with unit() as uow:
            # A repeat (the provider retrying) is found by the insert itself, ON CONFLICT.
            contact, _ = await uow.contacts.get_or_create(inbound.urn, inbound.channel, now)
            message_id = await uow.messages.add_inbound(
                contact.id,
                inbound.channel,
                inbound.external_id,
                inbound.text,
                inbound.received_at,
                chat_message_id=inbound.meta.get("message_id"),
            )
            if message_id is None:
                return Handled("duplicate"), _Applied()
            # Referral: a coordinator's message is a command, never a conversation with the bot.
            coordinator = await self.referral.coordinator_for(uow, inbound.urn)
            if coordinator is not None:
                await self.referral.handle_coordinator(uow, coordinator, contact, inbound, now)
                # Security: what it said lives on as notes and relays, which erasure and
                # retention reach; a raw copy here would outlive an FSHI of the person named.
                await uow.retention.forget_message_text(message_id, now)
                await uow.contacts.touch(contact.id, now)
                await uow.commit()
                return Handled("processed"), _Applied()
            # Safe times: she is at her phone now; what waited for her goes (DIL holds it again).
            await uow.outbox.release(contact.id, now)
            stored = await uow.sessions.get_active(contact.id)
            # Referral: while a coordinator's relay is open, the person's words go to them; the
            # flows see only keywords and answers to a keyword's question (FSHI's confirmation).
            frames = Session.from_dict(stored.state).frames if stored else []
            keyword_flows = {k.flow for k in self.flows.keywords.keywords}
            keyword = detect(inbound.text, self.flows.keywords, similarity)
            flows_too = keyword is not None or (bool(frames) and frames[-1].flow in keyword_flows)
            # Security: over the per-sender limit her message is kept (stored above, after the
            # duplicate check) and the replies are limited: held back, or none in a flood. A
            # keyword (danger, DIL, FSHI) always goes through at once.
            reply_at = now
            if self.reply_limit is not None and keyword is None:
                delay = self.reply_limit(inbound.urn)
                if delay is None:
                    await uow.contacts.touch(contact.id, now)
                    await uow.commit()
                    return Handled("limited"), _Applied()
                reply_at = now + timedelta(seconds=delay)
            if await self.referral.relay_inbound(
                uow, contact, inbound.text, now, flows_too=flows_too
            ):
                await uow.contacts.touch(contact.id, now)
                await uow.commit()
                return Handled("processed"), _Applied()
            session = Session.from_dict(stored.state) if stored else None
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
            resume = engine.MsgResume(
                "" if start else text,
                button=inbound.button,
                start=start,
                media=bool(inbound.meta.get("media") or inbound.meta.get("num_media")),
            )
            outcome = engine.resume(session, resume, self._view(contact), self.env(now))
            applied = await self._apply(uow, contact, stored, outcome, now, reply_at=reply_at)
            await uow.contacts.touch(contact.id, now)
            await uow.commit()
        return Handled("processed", outcome.events, applied.case_reference), applied

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
                )
                await uow.messages.add_outbound(contact.id, inbound.channel, text, now, outbox_id)
                await uow.commit()
        except Exception as exc:
            if storage_failure(exc) is None:
                log.exception("recording a failed inbound %s message failed too", inbound.channel)
            raise
        if self.on_commit:
            self.on_commit()
        return Handled("failed")

    async def _ensure_versions(self, uow: Any, session: Session) -> bool:
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

    def _view(self, contact: Any) -> ContactView:
        fields = dict(contact.fields)
        # Her phone's country (+355, +383) picks the numbers until she names a municipality.
        country = country_of_urn(contact.urn)
        if country and "country" not in fields:
            fields["country"] = country
        return ContactView(language=contact.language, fields=fields, channel=contact.channel)

    # -- events -> writes ------------------------------------------------------------------------

    async def _apply(
        self,
        uow: Any,
        contact: Any,
        stored: Any,
        outcome: engine.Outcome,
        now: datetime,
        outbox_kind: str = "reply",
        timer: bool = False,
        reply_at: datetime | None = None,
    ) -> _Applied:
        """Turn the engine's events into rows, in this transaction."""
        applied = _Applied()
        session = outcome.session
        session_id = stored.id if stored else None
        if outcome.new_session and stored is not None:
            if stored.status != "ended":
                old = Session.from_dict(stored.state)
                old.status, old.ended_reason = "ended", old.ended_reason or "replaced"
                await uow.sessions.save(contact.id, stored.id, old.to_dict(), "ended", now)
            await uow.fires.cancel_for_session(stored.id)
            session_id = None
        if session is not None:
            status = "ended" if session.status == "ended" else "waiting"
            session_id = await uow.sessions.save(
                contact.id, session_id, session.to_dict(), status, now
            )
        case = await uow.cases.open_for_contact(contact.id)
        fields = dict(contact.fields)
        fields_changed = False
        erase = False
        service_lines: list[str] = []  # Referral: services the person agreed to be told of
        messages: list[ev.MsgCreated] = []
        for event in outcome.events:
            data = event.to_dict()
            if isinstance(event, ev.MsgCreated):
                messages.append(event)
                continue
            if isinstance(event, ev.WaitStarted):
                await self._schedule(uow, contact.id, session_id, event, now)
            elif isinstance(event, ev.SessionEnded):
                if session_id is not None:
                    await uow.fires.cancel_for_session(session_id)
                if event.reason == "exit":  # Referral: the coordinator stops relaying
                    await self.referral.on_person_left(uow, contact.id, "exit", now)
                    await uow.outbox.hold(contact.id)  # Safe times: nothing until she writes
            elif isinstance(event, ev.LanguageChanged):
                await uow.contacts.set_language(contact.id, event.language)
            elif isinstance(event, ev.FieldChanged):
                fields[event.name] = event.value
                fields_changed = True
            elif isinstance(event, ev.CaseOpened):
                case = await self._open_case(uow, contact.id, event.info, now)
                data["reference"] = case.reference
            elif isinstance(event, ev.CaseUpdated) and case is not None:
                changes = {k: v for k, v in event.changes.items() if v is not None}
                if changes:
                    case = await uow.cases.update(case.id, now, **changes)
                    await uow.cases.add_event(case.id, "updated", changes, now)
            elif isinstance(event, ev.ConsentRecorded) and case is not None:
                await uow.cases.set_consent(case.id, event.service, event.given, now)
                await uow.cases.add_event(
                    case.id, "consent", {"service": event.service, "given": event.given}, now
                )
                if event.given:  # Referral: the nearest services of that kind
                    language = (session.language if session else None) or contact.language
                    service_lines += await self.referral.service_lines(
                        uow, case.municipality, event.service, language
                    )
            elif isinstance(event, ev.UrgencyRaised) and case is not None:
                await uow.cases.add_event(case.id, "urgency_raised", {"reason": event.reason}, now)
            elif isinstance(event, ev.RiskAssessed) and case is not None:
                await uow.cases.add_event(
                    case.id, "risk_assessed", {"level": event.level, "score": event.score}, now
                )
            elif isinstance(event, ev.ReferralRequested) and case is not None:
                await uow.cases.add_event(
                    case.id,
                    "referral_requested",
                    {"reason": event.reason, "urgent": event.urgent},
                    now,
                )
                # Referral: page the on-duty coordinator (or queue a digest), same transaction.
                await self.referral.on_referral_requested(
                    uow, case, event.urgent, event.reason, now
                )
            elif isinstance(event, ev.FollowupStarted) and case is not None:
                await uow.cases.add_event(case.id, "followup_requested", {"plan": event.plan}, now)
            elif isinstance(event, ev.ErasureRequested):
                erase = True
                await self.referral.on_person_left(uow, contact.id, "erased", now)  # Referral
            if event.type in HUB_EVENTS:
                if case is not None and event.type != "case_opened":
                    data.setdefault("reference", case.reference)
                applied.hub_events.append(data)
        # Follow-ups: an order registered, a check-in answered or left with DIL.
        await self.followups.after_events(uow, contact, case, session, outcome.events, now)
        if fields_changed:
            await uow.contacts.set_fields(contact.id, fields)
        applied.case_reference = case.reference if case is not None else None
        rendered = render(messages, self.catalogs.text, applied.case_reference)
        rendered = with_lines(rendered, service_lines)  # Referral: services, if any
        if rendered is not None and not (contact.opted_out and contact.channel == "sms"):
            outbox_id = await uow.outbox.add(
                contact_id=contact.id,
                channel=contact.channel,
                urn=contact.urn,
                text=rendered.text,
                buttons=[{"label": b.label, "value": b.value} for b in rendered.buttons],
                kind=outbox_kind,
                # What a timer says waits for her safe time; a reply over the per-sender limit
                # waits for its slot; any other reply goes at once.
                due_at=(
                    await self._safe_time(uow, contact, fields, now) if timer else reply_at or now
                ),
                now=now,
            )
            await uow.messages.add_outbound(
                contact.id, contact.channel, rendered.text, now, outbox_id
            )
        if erase:
            await self._unsay(uow, contact, now)
            # Security: who asked is gone after this; the audit keeps that it happened, when,
            # on which channel and to how many cases (figures only).
            await uow.audit.add(
                "contact_erased",
                now=now,
                case_id=case.id if case is not None else None,
                data={"by": "person", "channel": contact.channel},
            )
            # Last, so the confirmation above is already queued: the outbox keeps only what it
            # needs to send it, and everything else about the person goes.
            await uow.contacts.erase(contact.id, now)
        return applied

    async def _safe_time(
        self, uow: Any, contact: Any, fields: dict[str, Any], now: datetime
    ) -> datetime:
        """Safe times: when a message nobody just asked for may go to her."""
        places = await self.referral.ctx.places(uow)
        tz = safe_times.zone_of(fields.get("municipality"), places, contact.urn)
        return safe_times.send_at(fields, tz, now)

    async def _unsay(self, uow: Any, contact: Any, now: datetime) -> None:
        """At FSHI, queue deleting the person's messages where the provider keeps them."""
        if contact.channel == "telegram":
            # From her phone: Telegram lets a bot delete a private chat's last 48 hours.
            ids = await uow.messages.chat_message_ids(contact.id, now - TELEGRAM_DELETE_WINDOW)
            meta: dict[str, Any] = {"message_ids": ids}
            due = now
        elif contact.channel == "sms":
            # An SMS on the phone cannot be taken back (she is told to delete the thread), but
            # Twilio's logs keep every body: delete them there, once Twilio has finished them.
            ids = await uow.messages.provider_ids(contact.id)
            meta, due = {"message_sids": ids}, now + TWILIO_DELETE_DELAY
        else:
            return
        if ids:
            await uow.outbox.add(
                contact_id=contact.id,
                channel=contact.channel,
                urn=contact.urn,
                text="",
                kind="delete",
                due_at=due,
                now=now,
                meta=meta,
            )

    async def _open_case(self, uow: Any, contact_id: int, info: dict[str, Any], now: datetime):
        case = await uow.cases.open(contact_id, now)
        changes = {
            k: v
            for k, v in info.items()
            if k in ("municipality", "urgency", "risk_level", "risk_score", "flags", "reporter")
            and v is not None
        }
        if changes:
            case = await uow.cases.update(case.id, now, **changes)
        for service, given in (info.get("consent") or {}).items():
            await uow.cases.set_consent(case.id, service, given, now)
        return case

    async def _schedule(
        self,
        uow: Any,
        contact_id: int,
        session_id: int | None,
        event: ev.WaitStarted,
        now: datetime,
    ) -> None:
        if session_id is None:
            return
        if event.timeout_at:
            await uow.fires.schedule(
                contact_id=contact_id,
                session_id=session_id,
                kind=FIRE_TIMEOUT,
                due_at=datetime.fromisoformat(event.timeout_at),
                seq=event.seq,
                now=now,
            )
        await uow.fires.schedule(
            contact_id=contact_id,
            session_id=session_id,
            kind=FIRE_EXPIRE,
            due_at=datetime.fromisoformat(event.expires_at),
            seq=event.seq,
            now=now,
        )

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
            await uow.commit()

    async def set_opt_out(self, urn: str, opted_out: bool) -> bool:
        """The person opted out of (or back into) messages at the provider (SMS STOP/START);
        True when that changed her state."""
        now = self.clock()
        channel = "sms" if urn.startswith("tel:") else "telegram"
        async with self._lock(urn), self.db.uow() as uow:
            contact, _ = await uow.contacts.get_or_create(urn, channel, now)
            await uow.contacts.set_flags(contact.id, opted_out=opted_out)
            await uow.commit()
        return contact.opted_out != opted_out

    def _after_commit(self, urn: str, applied: _Applied) -> None:
        if self.on_commit:
            self.on_commit()
        if self.hub is not None:
            for event in applied.hub_events:
                self.hub.publish_event(urn, event)
