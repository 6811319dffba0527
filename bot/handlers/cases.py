"""Case bookkeeping: the case row and its history, from what the conversation learnt."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.engine import events as ev
from bot.handlers.registry import Handlers, Turn
from bot.store.records import Case

if TYPE_CHECKING:
    from bot.store.db import UnitOfWork

# What a flow may know of a case when it opens one.
OPENING_FACTS = ("municipality", "urgency", "risk_level", "risk_score", "flags", "reporter")
RISK_ORDER = {None: 0, "standard": 1, "medium": 2, "high": 3}


async def open_case(uow: UnitOfWork, contact_id: int, info: dict[str, Any], now: datetime) -> Case:
    """A new case with what is known so far, and the consents already given."""
    case = await uow.cases.open(contact_id, now)
    changes = {k: v for k, v in info.items() if k in OPENING_FACTS and v is not None}
    if changes:
        case = await uow.cases.update(case.id, now, **changes)
    for service, given in (info.get("consent") or {}).items():
        await uow.cases.set_consent(case.id, service, given, now)
    return case


async def continue_case(uow: UnitOfWork, case: Case, info: dict[str, Any], now: datetime) -> Case:
    """A conversation would open a case while hers is still open: what it learnt goes to that
    case instead (one open case a person: one coordinator, one page). Nothing is lowered: it
    stays urgent, keeps its higher risk and its red flags; what it did not know is added, and
    her latest yes or no to each kind of service counts."""
    changes: dict[str, Any] = {}
    for name in ("municipality", "reporter"):
        if getattr(case, name) is None and info.get(name) is not None:
            changes[name] = info[name]
    if info.get("urgency") == "urgent" and case.urgency != "urgent":
        changes["urgency"] = "urgent"
    level = info.get("risk_level")
    if RISK_ORDER.get(level, 0) > RISK_ORDER.get(case.risk_level, 0):
        changes.update(risk_level=level, risk_score=info.get("risk_score"))
    added = [f for f in info.get("flags") or () if f not in case.flags]
    if added:
        changes["flags"] = [*case.flags, *added]
    if changes:
        case = await uow.cases.update(case.id, now, **changes)
        await uow.cases.add_event(case.id, "updated", changes, now)
    consent = {k: v for k, v in (info.get("consent") or {}).items() if case.consent.get(k) != v}
    for service, given in consent.items():
        await uow.cases.set_consent(case.id, service, given, now)
    return (await uow.cases.get(case.id) or case) if consent else case


async def case_opened(turn: Turn, event: ev.CaseOpened) -> None:
    """Open a case (or go on with hers, still open); later events of the turn concern it."""
    if turn.case is not None and turn.case.status != "closed":
        turn.case = await continue_case(turn.uow, turn.case, event.info, turn.now)
        return
    turn.case = await open_case(turn.uow, turn.contact.id, event.info, turn.now)


async def case_updated(turn: Turn, event: ev.CaseUpdated) -> None:
    """Facts about the case changed (a screening again on her open case lowers nothing)."""
    changes = {k: v for k, v in event.changes.items() if v is not None}
    case = turn.case
    if case is not None and "flags" in changes:
        changes["flags"] = [*case.flags, *(f for f in changes["flags"] if f not in case.flags)]
    if case is not None and "risk_level" in changes:
        if RISK_ORDER.get(changes["risk_level"], 0) < RISK_ORDER.get(case.risk_level, 0):
            del changes["risk_level"]
            changes.pop("risk_score", None)
    if turn.case is not None and changes:
        turn.case = await turn.uow.cases.update(turn.case.id, turn.now, **changes)
        await turn.uow.cases.add_event(turn.case.id, "updated", changes, turn.now)


async def consent_recorded(turn: Turn, event: ev.ConsentRecorded) -> None:
    """She agreed (or not) to be told of a kind of service."""
    if turn.case is None:
        return
    await turn.uow.cases.set_consent(turn.case.id, event.service, event.given, turn.now)
    data = {"service": event.service, "given": event.given}
    await turn.uow.cases.add_event(turn.case.id, "consent", data, turn.now)


async def urgency_raised(turn: Turn, event: ev.UrgencyRaised) -> None:
    """The case's history notes why it became urgent."""
    if turn.case is not None:
        data = {"reason": event.reason}
        await turn.uow.cases.add_event(turn.case.id, "urgency_raised", data, turn.now)


async def risk_assessed(turn: Turn, event: ev.RiskAssessed) -> None:
    """The case's history notes the risk screening's result."""
    if turn.case is not None:
        data = {"level": event.level, "score": event.score}
        await turn.uow.cases.add_event(turn.case.id, "risk_assessed", data, turn.now)


async def referral_requested(turn: Turn, event: ev.ReferralRequested) -> None:
    """The case's history notes that a coordinator was asked for (referral pages them)."""
    if turn.case is not None:
        data = {"reason": event.reason, "urgent": event.urgent}
        await turn.uow.cases.add_event(turn.case.id, "referral_requested", data, turn.now)


async def followup_started(turn: Turn, event: ev.FollowupStarted) -> None:
    """The case's history notes a follow-up plan was asked for (follow-ups registers it)."""
    if turn.case is not None:
        data = {"plan": event.plan}
        await turn.uow.cases.add_event(turn.case.id, "followup_requested", data, turn.now)


def register(handlers: Handlers) -> None:
    """Case bookkeeping's handlers (before referral's and follow-ups', which read the case)."""
    handlers.on(ev.CaseOpened, case_opened)
    handlers.on(ev.CaseUpdated, case_updated)
    handlers.on(ev.ConsentRecorded, consent_recorded)
    handlers.on(ev.UrgencyRaised, urgency_raised)
    handlers.on(ev.RiskAssessed, risk_assessed)
    handlers.on(ev.ReferralRequested, referral_requested)
    handlers.on(ev.FollowupStarted, followup_started)
