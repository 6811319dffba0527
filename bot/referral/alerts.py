"""Alerts: page the on-duty coordinator, escalate without an answer, digests, channel fallback.

An urgent case pages one on-duty coordinator of its municipality (routing.plan), in the same
transaction as the message that made it urgent. A timer on the fires table (kind
`alert_escalate`) checks after the acknowledgement timeout: while nobody has accepted, the next
step of the plan is paged, and so on; when every step was paged, everybody still waiting is
reminded once. A page that fails on one channel is sent on the other (sweep); when it failed on
every channel, the case escalates at once instead of waiting for the timeout.

Non-urgent cases are queued as digest entries for each coordinator's working hours
(rota.digest_due) and sent as one message per coordinator by the sweep.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.referral import cases as case_ops
from bot.referral import rota, routing
from bot.referral import texts as T
from bot.referral.context import OK_BUTTON_LIMIT, Context, deliver, reach_note, routes, send
from bot.store.db import UnitOfWork
from bot.store.records import Alert, Case, CaseEvent, DutyShift

log = logging.getLogger(__name__)

FIRE_ESCALATE = "alert_escalate"
FAIRNESS_WINDOW = timedelta(hours=24)
OPEN = ("new", "alerted")
WORKED = ("accepted", "referred")
# History entries whose reason says why the case is urgent (bot/handlers/cases.py writes them).
URGENT_EVENTS = ("urgency_raised", "referral_requested")


def ok_button(ctx: Context, lang: str, reference: str) -> dict[str, str]:
    """The Telegram button that accepts a case (its value reads like the typed command)."""
    return {"label": ctx.texts(lang, T.ALERT_BUTTON, ref=reference), "value": f"OK {reference}"}


def alert_text(
    ctx: Context,
    places: dict[str, Any],
    lang: str,
    case: Case,
    *,
    reason: str | None = None,
    reasons: Sequence[str] = (),
    msgid: str = T.ALERT,
) -> str:
    """What a page says: reference, municipality, risk, red flags, how to answer. Nothing else.
    `reason`: why this page; `reasons`: why the case was made urgent before (a page again)."""
    flags = list(case.flags)
    for why in reversed([*([reason] if reason else []), *reasons]):
        if why in T.FLAG and why not in flags:
            flags.insert(0, why)
    return ctx.texts(
        lang,
        msgid,
        ref=case.reference,
        place=ctx.place_name(places, case.municipality, lang),
        risk=ctx.texts(lang, T.RISK.get(case.risk_level, T.RISK[None])),
        flags=ctx.texts.flags(lang, flags),
    )


def _with(text: str, note: str) -> str:
    """An alert with the safe-times line under it, when there is one."""
    return f"{text}\n{note}" if note else text


async def candidates(
    ctx: Context, uow: UnitOfWork, now: datetime, *, demo: bool = False
) -> list[routing.Candidate]:
    """Active real (or demo) coordinators as routing sees them at `now` (nothing decrypted)."""
    roster = await uow.coordinators.roster(demo=demo)
    ids = [i for i, _, _ in roster]
    shifts: dict[int, list[DutyShift]] = defaultdict(list)
    for shift in await uow.coordinators.shifts(ids):
        shifts[shift.coordinator_id].append(shift)
    stats = await uow.alerts.page_stats(ids, now - FAIRNESS_WINDOW)
    return [
        routing.Candidate(
            id=i,
            municipality=municipality,
            role=role,
            on_duty=rota.is_on_duty(shifts[i], now),
            alerts_last_24h=stats[i][0],
            last_alerted_at=stats[i][1],
        )
        for i, municipality, role in roster
    ]


async def _plan(
    ctx: Context, uow: UnitOfWork, case: Case, urgency: str, now: datetime
) -> tuple[list[routing.Step], dict[str, Any]]:
    """The current alert plan for a case, and the municipalities."""
    places = await ctx.places(uow)
    # A case opened in the simulator must never page a real coordinator: demo ones only; and a
    # real case never goes to a demo coordinator (anyone with the simulator page sees those).
    contact = await uow.contacts.get(case.contact_id) if case.contact_id else None
    simulated = contact is not None and contact.channel == "simulator"
    steps = routing.plan(
        case.municipality,
        urgency,
        now,
        await candidates(ctx, uow, now, demo=simulated),
        ctx.ack_timeout,
        known_municipalities=places or None,
    )
    return steps, places


async def request(
    ctx: Context,
    uow: UnitOfWork,
    case: Case,
    urgent: bool,
    reason: str,
    now: datetime,
    *,
    also: Sequence[str] = (),
) -> None:
    """A flow asked for a coordinator: page (urgent) or queue for a digest (not urgent).
    `also`: more red flags given in the same turn (a check-in's breach beside danger), named in
    the same page."""
    if case.status == "closed":
        return
    urgent = urgent or case.urgency == "urgent"
    if reason in T.CASE_REASONS and reason not in case.flags:
        # What she asked for (a call, and when), or that a child wrote, stays on the case.
        case = await uow.cases.update(case.id, now, flags=[*case.flags, reason])
    if case.status in WORKED:
        if urgent and reason in T.FLAG:  # a fresh danger sign, not the flow asking again
            await _tell_assigned(ctx, uow, case, reason, now, also=also)
        elif reason in T.NOTICE_REASONS:  # news for her coordinator, not a page
            await _tell_assigned(ctx, uow, case, reason, now, msgid=T.ALERT_NOTICE)
        return
    steps, places = await _plan(ctx, uow, case, "urgent" if urgent else "normal", now)
    existing = await uow.alerts.for_case(case.id)
    if not steps:
        log.warning("no coordinator to alert for case %s", case.id)
        await uow.cases.add_event(case.id, "no_coordinator", {"urgent": urgent}, now)
        return
    if not urgent:
        digested = {a.coordinator_id for a in existing if a.kind in ("digest", "page")}
        await _queue_digest(ctx, uow, case, steps[0], places, digested, now)
        return
    pages = [a for a in existing if a.kind == "page"]
    paged = {a.coordinator_id for a in pages}
    if pages and reason in T.FLAG and max(a.created_at for a in pages) <= now - ctx.ack_timeout:
        # Fresh danger on a case paged earlier that nobody took (she wrote again days later, a
        # check-in found a breach): the same case is paged again, to who is on duty now, and
        # its escalation starts over; never a second case.
        await _page(ctx, uow, case, steps[0], places, now, reason=reason, again=True, reasons=also)
        await _schedule_escalation(ctx, uow, case, now)
        return
    # A repeated request (the screening found high risk after a danger phrase) adds only new
    # first-step people, e.g. the local coordinator once the municipality is known.
    step = routing.next_step(steps[:1] if paged else steps, paged)
    if step is None:
        return
    await _page(ctx, uow, case, step, places, now, reason=reason, reasons=also)
    if not paged:
        await _schedule_escalation(ctx, uow, case, now)


async def _page(
    ctx: Context,
    uow: UnitOfWork,
    case: Case,
    step: routing.Step,
    places: dict[str, Any],
    now: datetime,
    *,
    reason: str | None = None,
    again: bool = False,
    reasons: Sequence[str] = (),
) -> None:
    """Page everyone in a step, record it, mark the case alerted."""
    reached: list[int] = []
    coordinators = await uow.coordinators.get_many(step.coordinators)
    for coordinator_id in step.coordinators:
        coordinator = coordinators[coordinator_id]
        lang = coordinator.language
        text = alert_text(
            ctx,
            places,
            lang,
            case,
            reason=reason,
            reasons=reasons,
            msgid=T.ALERT_AGAIN if again else T.ALERT,
        )
        text = _with(text, await reach_note(ctx, uow, case, lang))  # Safe times
        alert_id = await deliver(
            uow,
            coordinator,
            text,
            now,
            case_id=case.id,
            kind="page",
            state="waiting",
            step=step.number,
            buttons=[ok_button(ctx, lang, case.reference)],
        )
        if alert_id is not None:
            reached.append(coordinator_id)
    await case_ops.mark_alerted(uow, case, now)
    await uow.cases.add_event(
        case.id,
        "alerted",
        {"step": step.number, "reason": step.reason, "coordinators": reached},
        now,
    )


async def _schedule_escalation(ctx: Context, uow: UnitOfWork, case: Case, now: datetime) -> None:
    """The timer that checks for an acceptance after the acknowledgement timeout."""
    if case.contact_id is None:
        return  # the fires table hangs timers on a contact; an anonymous case cannot wait
    await uow.fires.schedule(
        contact_id=case.contact_id,
        session_id=None,
        kind=FIRE_ESCALATE,
        due_at=now + ctx.ack_timeout,
        seq=0,
        now=now,
        payload={"case_id": case.id},
    )


async def escalate(ctx: Context, uow: UnitOfWork, case_id: int, now: datetime) -> bool:
    """Nobody accepted in time: page the next step (True), or remind everybody once (False)."""
    case = await uow.cases.get(case_id)
    if case is None or case.status not in OPEN:
        return False
    steps, places = await _plan(ctx, uow, case, "urgent", now)
    pages = [a for a in await uow.alerts.for_case(case.id) if a.kind == "page"]
    paged = {a.coordinator_id for a in pages}
    depth = max((a.step for a in pages), default=0) + 1
    step = routing.next_step(steps, paged, depth)
    events = await uow.cases.events(case.id)
    # Why it is urgent ("in danger now"), said in the first page only: said again to the next
    # step and in the reminder, or whoever takes it over reads the case as calm.
    reasons = _urgent_reasons(events)
    if step is not None:
        await _page(ctx, uow, case, step, places, now, again=True, reasons=reasons)
        await _schedule_escalation(ctx, uow, case, now)
        return True
    if not any(e.kind == "escalation_exhausted" for e in events):
        await _remind(ctx, uow, case, places, now, reasons)
    return False


def _urgent_reasons(events: Sequence[CaseEvent]) -> list[str]:
    """The red flags a flow gave when it made the case urgent or asked for a coordinator, in
    order, each once (they are not among the case's flags: only in its history)."""
    found: list[str] = []
    for event in events:
        why = event.data.get("reason") if event.kind in URGENT_EVENTS else None
        if isinstance(why, str) and why in T.FLAG and why not in found:
            found.append(why)
    return found


async def _remind(
    ctx: Context,
    uow: UnitOfWork,
    case: Case,
    places: dict[str, Any],
    now: datetime,
    reasons: Sequence[str] = (),
) -> None:
    """Every step was paged: remind everybody still waiting, once."""
    waiting = sorted(
        {a.coordinator_id for a in await uow.alerts.for_case(case.id) if a.state == "waiting"}
    )
    coordinators = await uow.coordinators.get_many(waiting)
    for coordinator in coordinators.values():
        if not coordinator.active:
            continue
        lang = coordinator.language
        await deliver(
            uow,
            coordinator,
            _with(
                alert_text(ctx, places, lang, case, reasons=reasons, msgid=T.ALERT_REMINDER),
                await reach_note(ctx, uow, case, lang),
            ),
            now,
            case_id=case.id,
            kind="notice",
            state="info",
            buttons=[ok_button(ctx, lang, case.reference)],
        )
    await uow.cases.add_event(case.id, "escalation_exhausted", {"reminded": waiting}, now)


async def _tell_assigned(
    ctx: Context,
    uow: UnitOfWork,
    case: Case,
    reason: str,
    now: datetime,
    msgid: str = T.ALERT_WORKED,
    also: Sequence[str] = (),
) -> None:
    """Danger again (or a request) on a case somebody has: tell that coordinator, nobody else."""
    assignment = await uow.alerts.assignment(case.id)
    if assignment is None:
        return
    coordinator = await uow.coordinators.get(assignment.coordinator_id)
    if coordinator is None or not coordinator.active:
        return
    places = await ctx.places(uow)
    lang = coordinator.language
    text = alert_text(ctx, places, lang, case, reason=reason, reasons=also, msgid=msgid)
    text = _with(text, await reach_note(ctx, uow, case, lang))
    await deliver(uow, coordinator, text, now, case_id=case.id, kind="notice", state="info")
    await uow.cases.add_event(
        case.id, "alerted", {"step": 0, "reason": "assigned", "coordinators": [coordinator.id]}, now
    )


# -- digests -----------------------------------------------------------------------------------


async def _queue_digest(
    ctx: Context,
    uow: UnitOfWork,
    case: Case,
    step: routing.Step,
    places: dict[str, Any],
    already: set[int],
    now: datetime,
) -> None:
    """Queue the case for each coordinator's next working hours."""
    fresh = [i for i in step.coordinators if i not in already]
    if not fresh:
        return
    coordinators = await uow.coordinators.get_many(fresh)
    shifts: dict[int, list[DutyShift]] = defaultdict(list)
    for shift in await uow.coordinators.shifts(fresh):
        shifts[shift.coordinator_id].append(shift)
    due_times = []
    for coordinator_id in fresh:
        tz = ctx.zone(places, coordinators[coordinator_id].municipality)
        due = rota.digest_due(shifts[coordinator_id], tz, now)
        due_times.append(due)
        await uow.alerts.add(
            case_id=case.id,
            coordinator_id=coordinator_id,
            kind="digest",
            state="queued",
            due_at=due,
            now=now,
        )
    await uow.cases.add_event(
        case.id,
        "digest_queued",
        {"coordinators": fresh, "first_due": min(due_times).isoformat()},
        now,
    )


async def send_digests(ctx: Context, uow: UnitOfWork, now: datetime) -> int:
    """Send each coordinator one message listing their due digest entries; how many went."""
    entries = [e for e in await uow.alerts.claim_due_digests(now) if e.case_status in OPEN]
    if not entries:
        return 0
    by_coordinator: dict[int, list[Alert]] = defaultdict(list)
    for entry in entries:
        by_coordinator[entry.coordinator_id].append(entry)
    coordinators = await uow.coordinators.get_many(by_coordinator)
    places = await ctx.places(uow)
    sent = 0
    for coordinator_id, items in sorted(by_coordinator.items()):
        coordinator = coordinators.get(coordinator_id)
        if coordinator is None or not coordinator.active:
            await uow.alerts.set_state([e.id for e in items], "cancelled")
            continue
        lang = coordinator.language
        lines = [ctx.texts(lang, T.DIGEST_HEADER, count=len(items))]
        buttons: list[dict[str, str]] = []
        for entry in items:
            case = await uow.cases.get(entry.case_id)
            assert case is not None  # an alert goes with its case (the foreign key cascades)
            line = ctx.texts(
                lang,
                T.DIGEST_LINE,
                ref=case.reference,
                place=ctx.place_name(places, case.municipality, lang),
                risk=ctx.texts(lang, T.RISK.get(case.risk_level, T.RISK[None])),
            )
            # Its red flags and requests (a call in the evening) too, when it has any.
            lines.append(f"{line}. {ctx.texts.flags(lang, case.flags)}" if case.flags else line)
            note = await reach_note(ctx, uow, case, lang)  # Safe times
            if note:
                lines.append(note)
            if len(buttons) < OK_BUTTON_LIMIT:
                buttons.append(ok_button(ctx, lang, case.reference))
        lines.append(ctx.texts(lang, T.DIGEST_FOOTER))
        delivered = await send(uow, coordinator, "\n".join(lines), now, buttons=buttons)
        if delivered is None:
            continue
        await uow.alerts.set_delivery(
            [e.id for e in items],
            channel=delivered.channel,
            outbox_id=delivered.outbox_id,
            sent_at=now,
        )
        for entry in items:
            case = await uow.cases.get(entry.case_id)
            assert case is not None
            await case_ops.mark_alerted(uow, case, now)
            await uow.cases.add_event(
                case.id, "digest_sent", {"coordinator_id": coordinator_id}, now
            )
        sent += 1
    return sent


# -- channel fallback --------------------------------------------------------------------------


async def fall_back(ctx: Context, uow: UnitOfWork, now: datetime) -> tuple[int, list[int]]:
    """Send failed alerts on the coordinator's other channel; returns (how many, cases to
    escalate at once because their pages failed on every channel)."""
    resent = 0
    for alert in await uow.alerts.claim_failed(now):
        coordinator = await uow.coordinators.get(alert.coordinator_id)
        if coordinator is None or not coordinator.active or alert.outbox_id is None:
            continue
        other = [r for r in await routes(uow, coordinator, now) if r.channel != alert.channel]
        message = await uow.alerts.message_of(alert.outbox_id)
        if not other or message is None:
            continue  # nothing else to try: dead_pages() below picks it up once it has failed
        text, buttons, status = message
        # Once this copy is sent, the first one (maybe still retrying: an SMS outage) stops,
        # so she is not paged a second time when that channel recovers.
        delivered = await send(
            uow,
            coordinator,
            text,
            now,
            buttons=buttons,
            avoid=alert.channel,
            supersedes=alert.outbox_id,
        )
        if delivered is None:
            continue
        await uow.alerts.set_delivery(
            [alert.id], channel=delivered.channel, outbox_id=delivered.outbox_id, sent_at=now
        )
        if alert.channel and status == "failed":  # for good, not a retry: avoid it from now on
            await uow.coordinators.set_failing_channel(coordinator.id, alert.channel)
        await uow.cases.add_event(
            alert.case_id,
            "alert_fallback",
            {
                "coordinator_id": coordinator.id,
                "from": alert.channel,
                "to": delivered.channel,
                "kind": alert.kind,
            },
            now,
        )
        resent += 1
    dead = await uow.alerts.dead_pages(now)
    by_case: dict[int, list[Alert]] = defaultdict(list)
    for alert in dead:
        by_case[alert.case_id].append(alert)
    escalate_now: list[int] = []
    for case_id, failed in sorted(by_case.items()):
        await uow.alerts.set_state([a.id for a in failed], "cancelled")
        waiting = [a for a in await uow.alerts.for_case(case_id) if a.state == "waiting"]
        if not any(a.kind == "page" for a in waiting):
            escalate_now.append(case_id)
    return resent, escalate_now


async def sweep(ctx: Context, uow: UnitOfWork, now: datetime) -> int:
    """Due digests, failed alerts on the other channel, early escalations; how much was done."""
    done = await send_digests(ctx, uow, now)
    resent, escalate_now = await fall_back(ctx, uow, now)
    for case_id in escalate_now:
        await escalate(ctx, uow, case_id, now)
    return done + resent + len(escalate_now)
