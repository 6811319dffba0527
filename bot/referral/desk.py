"""A coordinator's messages as commands, and the relay between them and the person.

Relay (decided for safety and simplicity): once the accepting coordinator relays a message, the
relay is open for `relay_window` (24 hours) from their latest relayed message (from when it
reaches her, when it waits for her safe window; until she writes, when it waits for that).
While it is open, everything the person writes goes to that coordinator. The flows see it too
only when it is a global keyword (danger phrases, DIL/EXIT, FSHI/DELETE, GJUHA/LANGUAGE) or the
answer to a keyword's own question (FSHI's confirmation). A screening question still open is left
waiting (a "po" meant for the coordinator must never count as consent), and no new conversation
starts: the bot does not talk over the coordinator. When the person uses the quick exit the
coordinator is told and nothing is relayed to the person until they write again;
when they erase their data the relay closes for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot import safe_times
from bot.messages import Inbound
from bot.referral import cases as case_ops
from bot.referral import texts as T
from bot.referral.commands import REFERENCE_EXAMPLE, Command, parse
from bot.referral.context import Context, deliver, reach_note
from bot.referral.sanitize import quoted
from bot.replies import can_write, queue_to_person
from bot.store.db import UnitOfWork
from bot.store.records import Assignment, Case, Contact, Coordinator
from bot.store.repositories import open_relay

WORKED = ("accepted", "referred")


class Reply:
    """Answers to one coordinator message, on the channel and address it came from."""

    def __init__(self, ctx: Context, coordinator: Coordinator, contact: Contact) -> None:
        self.ctx, self.coordinator, self.contact = ctx, coordinator, contact
        self.lines: list[str] = []
        # Security: blank our copy once sent (it holds a survivor's number).
        self.forget = False

    def __call__(self, msgid: str, **params: Any) -> None:
        """Add one answer."""
        self.lines.append(self.ctx.texts(self.coordinator.language, msgid, **params))

    async def flush(self, uow: UnitOfWork, now: datetime) -> None:
        """Queue the answers as one message."""
        if self.lines:
            await uow.outbox.add(
                contact_id=self.contact.id,
                channel=self.contact.channel,
                urn=self.contact.urn,
                text="\n".join(self.lines),
                kind="reply",
                due_at=now,
                now=now,
                meta={"coordinator": self.coordinator.id}
                | ({"forget": True} if self.forget else {}),
            )


async def handle(
    ctx: Context,
    uow: UnitOfWork,
    coordinator: Coordinator,
    contact: Contact,
    inbound: Inbound,
    now: datetime,
) -> Command:
    """Do what a coordinator's message asks, in the caller's unit of work; the command."""
    if coordinator.failing_channel == inbound.channel:  # they reach us there: it works again
        await uow.coordinators.set_failing_channel(coordinator.id, None)
    command = parse(inbound.button or inbound.text)
    reply_to = inbound.meta.get("reply_to")
    if command.action == "unknown" and reply_to and inbound.text.strip():
        # A Telegram reply to one of our messages about a case relays to that case's person.
        case_id = await uow.alerts.case_of_message(coordinator.id, inbound.channel, reply_to)
        case = await uow.cases.get(case_id) if case_id is not None else None
        if case is not None:
            command = Command("relay", case.reference, text=inbound.text.strip())
    reply = Reply(ctx, coordinator, contact)
    await _dispatch(ctx, uow, coordinator, command, reply, now)
    await reply.flush(uow, now)
    return command


# Security: how many references that lead nowhere a coordinator may type before look-ups stop
# for a while (their own cases keep working). Counted in the store (the sign-in attempts table,
# keyed per coordinator), not in memory: every worker sees the same count and a restart does not
# reset it, so 32**8 references cannot be walked by spreading tries over workers or restarts.
LOOKUP_FAILURES = 5
LOOKUP_WINDOW = timedelta(minutes=15)


def _lookup_key(coordinator: Coordinator) -> str:
    """The key a coordinator's failed look-ups are counted under."""
    return f"case-ref:{coordinator.id}"


async def _locked(uow: UnitOfWork, me: Coordinator, now: datetime) -> bool:
    """True while the coordinator has typed too many references that led nowhere."""
    since = now - LOOKUP_WINDOW
    return await uow.failures.count_since(_lookup_key(me), since) >= LOOKUP_FAILURES


async def _refuse(
    uow: UnitOfWork, me: Coordinator, reference: str, reply: Reply, now: datetime
) -> None:
    """The one answer for a reference that is unknown, not theirs, taken or of the other world.

    The same words whatever the reason, so nobody learns which references exist or who has them.
    """
    if await _locked(uow, me, now):
        reply(T.LOOKUP_LOCKED, minutes=int(LOOKUP_WINDOW.total_seconds() // 60))
        return
    await uow.failures.add([_lookup_key(me)], now)
    if await _locked(uow, me, now):  # this one reached the limit: once in the audit log
        await uow.audit.add("case_lookup_locked", now=now, coordinator_id=me.id)
    reply(T.UNAVAILABLE, ref=reference)


async def _find(
    uow: UnitOfWork, me: Coordinator, reference: str, now: datetime, *, accepting: bool
) -> tuple[Case, Assignment | None] | None:
    """The case if this coordinator may act on it, with its assignment; else None.

    Demo coordinators act only on simulated cases, real ones only on real cases. The one who
    accepted a case works it; a case may be accepted by those alerted for it, and by a local
    coordinator of its municipality (national duty: only when alerted), but not while locked.
    """
    case = await uow.cases.get_by_reference(reference)
    if case is None or case.simulated != me.demo:
        return None
    assignment = await uow.alerts.assignment(case.id)
    if assignment is not None and assignment.coordinator_id == me.id:
        return case, assignment
    if not accepting:
        return None
    if me.id in {a.coordinator_id for a in await uow.alerts.for_case(case.id)}:
        return case, assignment
    local = me.municipality != "national" and case.municipality == me.municipality
    if local and not await _locked(uow, me, now):
        return case, assignment
    return None


async def _dispatch(
    ctx: Context, uow: UnitOfWork, me: Coordinator, cmd: Command, reply: Reply, now: datetime
) -> None:
    """Carry out one parsed command, adding answers to `reply`."""
    if cmd.action in ("help", "unknown"):
        reply(T.HELP)
        return
    if cmd.action == "cases":
        await _list_cases(ctx, uow, me, reply)
        return
    if cmd.action == "accept":
        await _accept(ctx, uow, me, cmd, reply, now)
        return
    if cmd.reference is None:
        reply(T.NEEDS_REFERENCE, example=REFERENCE_EXAMPLE)
        reply(T.HELP)
        return
    found = await _find(uow, me, cmd.reference, now, accepting=False)
    if found is None:
        await _refuse(uow, me, cmd.reference, reply, now)
        return
    case, assignment = found
    assert assignment is not None  # not accepting: found only for the one who accepted it
    if case.status == "closed":
        reply(T.CASE_CLOSED, ref=case.reference)
        return
    lang = me.language
    try:
        if cmd.action == "relay":
            await _relay_out(ctx, uow, me, case, assignment, cmd.text, reply, now)
        elif cmd.action == "number":
            await _reveal_number(uow, me, case, reply, now)
        elif cmd.action == "note":
            if not cmd.text:
                reply(T.NOTE_EMPTY, ref=case.reference)
            else:
                await case_ops.add_note(uow, case, me.id, cmd.text, now)
                reply(T.NOTE_ADDED, ref=case.reference)
        elif cmd.action == "type":
            if cmd.value is None:
                reply(T.TYPE_HELP, ref=case.reference)
            else:
                await case_ops.set_type(uow, case, me.id, cmd.value, now)
                reply(T.TYPE_SET, ref=case.reference, type=ctx.texts(lang, T.GBV[cmd.value]))
        elif cmd.action == "refer":
            await _refer(ctx, uow, me, case, cmd, reply, now)
        elif cmd.action in ctx.commands:  # another feature's (follow-ups: order, plan)
            await ctx.commands[cmd.action](uow, me, case, cmd, reply, now)
        elif cmd.action == "close":
            if cmd.value is None:
                reply(T.CLOSE_HELP, ref=case.reference)
                return
            if cmd.text:
                await case_ops.add_note(uow, case, me.id, cmd.text, now)
            await case_ops.close(uow, case, me.id, cmd.value, now)
            reply(T.CLOSE_DONE, ref=case.reference, outcome=ctx.texts(lang, T.OUTCOME[cmd.value]))
    except case_ops.InvalidTransition as exc:
        reply(T.INVALID, ref=case.reference, status=ctx.texts(lang, T.STATUS[exc.current]))


async def _accept(
    ctx: Context, uow: UnitOfWork, me: Coordinator, cmd: Command, reply: Reply, now: datetime
) -> None:
    """OK R-4821 (or OK alone): one winner, the others told, the person told."""
    reference = cmd.reference
    if reference is None:
        waiting = list(dict.fromkeys(a.reference for a in await uow.alerts.waiting_for(me.id)))
        if not waiting:
            reply(T.NONE_WAITING)
            return
        if len(waiting) > 1:
            reply(T.WHICH_CASE, example=waiting[0], refs=", ".join(waiting))
            return
        reference = waiting[0]
    found = await _find(uow, me, reference, now, accepting=True)
    if found is None:
        await _refuse(uow, me, reference, reply, now)
        return
    case, _ = found
    if await case_ops.accept(uow, case, me.id, now):
        others = await uow.alerts.settle(case.id, me.id, now)
        reply(T.ACCEPTED, ref=case.reference)
        for other in (await uow.coordinators.get_many(others)).values():
            if other.active:
                text = ctx.texts(other.language, T.TAKEN_BY_OTHER, ref=case.reference, name=me.name)
                await deliver(uow, other, text, now, case_id=case.id, kind="notice", state="info")
        due = await _tell_survivor(ctx, uow, case, T.SURVIVOR_ACCEPTED, now)
        if due is not None and due > now:  # Safe times: when the person can be reached
            reply.lines.append(await reach_note(ctx, uow, case, me.language))
        return
    assignment = await uow.alerts.assignment(case.id)
    if assignment is not None and assignment.coordinator_id == me.id:
        fresh = await uow.cases.get(case.id)
        closed = fresh is None or fresh.status == "closed"
        reply(T.CASE_CLOSED if closed else T.ALREADY_YOURS, ref=case.reference)
        return
    # Taken by someone else, or closed: the same words as for a reference that does not exist
    # (those alerted were told who took it when it happened). Not a failed look-up: it was theirs
    # to try.
    reply(T.UNAVAILABLE, ref=reference)


async def _tell_survivor(
    ctx: Context, uow: UnitOfWork, case: Case, msgid: str, now: datetime, **params: Any
) -> datetime | None:
    """Queue a message to the person of a case for when she said it is safe; its due time,
    None when they cannot be written to."""
    contact = await uow.contacts.get(case.contact_id) if case.contact_id is not None else None
    if contact is None or not can_write(contact):
        return None
    text = ctx.texts(contact.language, msgid, **params)
    municipality = case.municipality or contact.fields.get("municipality")
    tz = safe_times.zone_of(municipality, await ctx.places(uow), contact.urn)
    due = safe_times.send_at(contact.fields, tz, now)
    await queue_to_person(
        uow,
        contact,
        text,
        kind="reply",
        due_at=due,
        now=now,
        # WhatsApp, outside her 24 hours: a neutral "a message waits for you", and this one
        # goes when she writes.
        meta=(
            safe_times.template(safe_times.TPL_WAITING, contact.language, nudge=True)
            if contact.channel == "whatsapp"
            else None
        ),
    )
    return due


async def _relay_out(
    ctx: Context,
    uow: UnitOfWork,
    me: Coordinator,
    case: Case,
    assignment: Assignment,
    text: str,
    reply: Reply,
    now: datetime,
) -> None:
    """R-4821 <text>: the coordinator's words to the person, as from the coordinator."""
    text = quoted(text)  # one line, nothing hidden, clearly relayed
    if not text:
        reply(T.RELAY_EMPTY, ref=case.reference)
        return
    if assignment.quiet:
        reply(T.RELAY_QUIET, ref=case.reference)
        return
    contact = await uow.contacts.get(case.contact_id) if case.contact_id is not None else None
    if contact is None:
        reply(T.RELAY_GONE, ref=case.reference)
        return
    due = await _tell_survivor(ctx, uow, case, T.RELAY_TO_SURVIVOR, now, text=text)
    if due is None:
        reply(T.RELAY_OPTED_OUT, ref=case.reference)
        return
    # Safe times: a relay kept for her window stays open a whole window after it reaches her;
    # one kept until she writes stays open until she does (relay_in then opens the window).
    until = safe_times.HELD if safe_times.is_held(due) else due + ctx.relay_window
    await uow.alerts.set_relay(case.id, until=until)
    await uow.cases.add_event(
        case.id, "relayed", {"coordinator_id": me.id, "direction": "to_person"}, now
    )
    if due > now:  # Safe times: kept for her window, or until she writes
        reply(T.RELAY_HELD, ref=case.reference)
        reply.lines.append(await reach_note(ctx, uow, case, me.language))
    else:
        reply(T.RELAY_SENT, ref=case.reference)


async def _reveal_number(
    uow: UnitOfWork, me: Coordinator, case: Case, reply: Reply, now: datetime
) -> None:
    """NUMRI R-4821: the person's number to the accepting coordinator, audited."""
    contact = await uow.contacts.get(case.contact_id) if case.contact_id is not None else None
    if contact is None:
        reply(T.RELAY_GONE, ref=case.reference)
        return
    await uow.audit.add(
        "number_revealed",
        now=now,
        coordinator_id=me.id,
        case_id=case.id,
        data={"channel": contact.channel},
    )
    await uow.cases.add_event(case.id, "number_revealed", {"coordinator_id": me.id}, now)
    if contact.urn.startswith(("tel:", "whatsapp:")):  # WhatsApp writes from a phone number too
        reply(T.NUMBER_TEL, ref=case.reference, number=contact.urn.partition(":")[2])
        reply.forget = True
    else:
        reply(T.NUMBER_NONE, ref=case.reference)


async def _refer(
    ctx: Context,
    uow: UnitOfWork,
    me: Coordinator,
    case: Case,
    cmd: Command,
    reply: Reply,
    now: datetime,
) -> None:
    """REFERO R-4821 <service>: recorded only with the person's consent."""
    if cmd.value is None:
        reply(T.REFER_HELP, ref=case.reference)
        return
    service = ctx.texts(me.language, T.SERVICE[cmd.value])
    try:
        await case_ops.refer(uow, case, me.id, cmd.value, now)
    except case_ops.NoConsent as exc:
        reply(
            T.REFER_DECLINED if exc.declined else T.REFER_NOT_ASKED,
            ref=case.reference,
            service=service,
        )
        return
    reply(T.REFER_DONE, ref=case.reference, service=service)


async def _list_cases(ctx: Context, uow: UnitOfWork, me: Coordinator, reply: Reply) -> None:
    """RASTET: the coordinator's open cases."""
    mine = await uow.alerts.open_cases_of(me.id, simulated=me.demo)
    if not mine:
        reply(T.CASES_NONE)
        return
    places = await ctx.places(uow)
    lang = me.language
    reply(T.CASES_HEADER, count=len(mine))
    for assignment, reference, status in mine:
        case = await uow.cases.get(assignment.case_id)
        reply(
            T.CASES_LINE,
            ref=reference,
            place=ctx.place_name(places, case.municipality if case else None, lang),
            status=ctx.texts(lang, T.STATUS[status]),
        )


# -- the person's side -------------------------------------------------------------------------


async def relay_in(
    ctx: Context,
    uow: UnitOfWork,
    contact: Contact,
    text: str,
    now: datetime,
    *,
    flows_too: bool,
) -> bool:
    """The person wrote: pass it to the coordinator when a relay is open.

    Returns True when the message went to a coordinator and the flows should not see it
    (`flows_too` says the pipeline found a keyword or a keyword flow waiting for an answer).
    """
    worked = await uow.alerts.assignments_for_contact(contact.id)
    for found in worked:
        if found.quiet:
            await uow.alerts.set_relay(found.case_id, quiet=False)  # they wrote again
    assignment = open_relay(worked, now)  # on the rows just read: no second query
    # Security: her words go inside our message to the coordinator: one line, nothing hidden,
    # between guillemets, so nothing she sends can pass for a line of ours (a fake alert).
    relayed = quoted(text)
    if assignment is None or not relayed:
        return False
    if assignment.relay_until is not None and safe_times.is_held(assignment.relay_until):
        # What waited for her goes now: the relay is open a whole window from here.
        await uow.alerts.set_relay(assignment.case_id, until=now + ctx.relay_window)
    coordinator = await uow.coordinators.get(assignment.coordinator_id)
    case = await uow.cases.get(assignment.case_id)
    if coordinator is None or not coordinator.active or case is None:
        return False
    forwarded = ctx.texts(
        coordinator.language, T.RELAY_FROM_SURVIVOR, ref=case.reference, text=relayed
    )
    await deliver(uow, coordinator, forwarded, now, case_id=case.id, kind="relay", state="info")
    await uow.cases.add_event(
        case.id, "relayed", {"coordinator_id": coordinator.id, "direction": "to_coordinator"}, now
    )
    return not flows_too


async def person_left(
    ctx: Context, uow: UnitOfWork, contact_id: int, reason: str, now: datetime
) -> None:
    """The person used the quick exit (reason "exit") or erased their data ("erased")."""
    for assignment in await uow.alerts.assignments_for_contact(contact_id):
        coordinator = await uow.coordinators.get(assignment.coordinator_id)
        case = await uow.cases.get(assignment.case_id)
        if case is None:
            continue
        if reason == "erased":
            await uow.alerts.close_relay(case.id)
            msgid = T.RELAY_ERASED
        else:
            await uow.alerts.set_relay(case.id, quiet=True)
            msgid = T.RELAY_EXITED
        await uow.cases.add_event(case.id, "person_left", {"reason": reason}, now)
        if coordinator is not None and coordinator.active:
            text = ctx.texts(coordinator.language, msgid, ref=case.reference)
            await deliver(uow, coordinator, text, now, case_id=case.id, kind="notice", state="info")
