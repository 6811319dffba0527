"""Cases as coordinators work them: the status machine, consent, referrals, notes, timeline.

Status: new -> alerted -> accepted -> referred -> closed. A case may be accepted straight from
new (a digest entry or a page raced its own status change), referred again once referred, and
closed from any status but closed. Every change is a compare-and-set on the status, so two
coordinators (or a coordinator and an escalation) never both win.
"""

from __future__ import annotations

from datetime import datetime

from bot.engine.definition import SERVICES
from bot.store.db import UnitOfWork
from bot.store.records import Case, CaseEvent

STATUSES = ("new", "alerted", "accepted", "referred", "closed")
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"alerted", "accepted", "closed"}),
    "alerted": frozenset({"accepted", "closed"}),
    "accepted": frozenset({"referred", "closed"}),
    "referred": frozenset({"referred", "closed"}),
    "closed": frozenset(),
}
GBV_TYPES = (
    "rape",
    "sexual_assault",
    "physical_assault",
    "forced_marriage",
    "denial_of_resources",
    "psychological_abuse",
    "non_gbv",
)
OUTCOMES = ("resolved", "referred", "no_contact", "declined", "duplicate", "other")


class InvalidTransition(ValueError):
    """A case cannot go from its status to the one asked for."""

    def __init__(self, reference: str, current: str, target: str) -> None:
        super().__init__(f"case {reference} is {current}: it cannot become {target}")
        self.reference, self.current, self.target = reference, current, target


class NoConsent(ValueError):
    """The person did not agree (or was not asked) to be referred to this kind of service."""

    def __init__(self, reference: str, service: str, declined: bool) -> None:
        said = "said no to" if declined else "was not asked about"
        super().__init__(f"the person in case {reference} {said} {service}")
        self.reference, self.service, self.declined = reference, service, declined


def allowed_from(target: str) -> tuple[str, ...]:
    """The statuses a case may be in to move to `target`."""
    return tuple(s for s in STATUSES if target in TRANSITIONS[s])


def check(case: Case, target: str) -> None:
    """InvalidTransition unless the case may move to `target`."""
    if target not in TRANSITIONS.get(case.status, frozenset()):
        raise InvalidTransition(case.reference, case.status, target)


async def _move(uow: UnitOfWork, case: Case, target: str, now: datetime) -> None:
    """Compare-and-set the status; InvalidTransition when it is not allowed or lost."""
    check(case, target)
    if not await uow.alerts.change_status(case.id, allowed_from(target), target, now):
        # Someone changed it between our read and our write: report what it is now.
        fresh = await uow.cases.get(case.id)
        raise InvalidTransition(case.reference, fresh.status if fresh else "gone", target)


async def mark_alerted(uow: UnitOfWork, case: Case, now: datetime) -> bool:
    """new -> alerted (a page or a digest went out); False when it was past new already."""
    return await uow.alerts.change_status(case.id, ("new",), "alerted", now)


async def accept(uow: UnitOfWork, case: Case, coordinator_id: int, now: datetime) -> bool:
    """The coordinator takes the case; exactly one of several at once gets True."""
    if not await uow.alerts.accept(case.id, coordinator_id, now):
        return False
    await uow.cases.add_event(case.id, "accepted", {"coordinator_id": coordinator_id}, now)
    return True


def consent_for(case: Case, service: str) -> bool | None:
    """True (agreed), False (said no) or None (not asked) for one kind of service."""
    value = case.consent.get(service)
    return None if value is None else bool(value)


async def refer(
    uow: UnitOfWork, case: Case, coordinator_id: int, service: str, now: datetime
) -> None:
    """Record a referral to a kind of service; only with the person's consent to that kind."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    check(case, "referred")
    given = consent_for(case, service)
    if not given:
        raise NoConsent(case.reference, service, declined=given is False)
    await _move(uow, case, "referred", now)
    await uow.cases.add_event(
        case.id, "referred", {"service": service, "coordinator_id": coordinator_id}, now
    )


async def add_note(
    uow: UnitOfWork, case: Case, coordinator_id: int, text: str, now: datetime
) -> None:
    """A coordinator's note (encrypted with the case's events; erased with the person's data)."""
    if case.status == "closed":
        raise InvalidTransition(case.reference, case.status, "noted")
    await uow.cases.add_event(
        case.id, "note", {"coordinator_id": coordinator_id, "text": text}, now
    )


async def set_type(
    uow: UnitOfWork, case: Case, coordinator_id: int, gbv_type: str, now: datetime
) -> Case:
    """Set the GBVIMS incident type (one per incident, by the act)."""
    if gbv_type not in GBV_TYPES:
        raise ValueError(f"unknown GBVIMS type {gbv_type!r}")
    if case.status == "closed":
        raise InvalidTransition(case.reference, case.status, "retyped")
    updated = await uow.cases.update(case.id, now, category=gbv_type)
    await uow.cases.add_event(
        case.id, "updated", {"category": gbv_type, "coordinator_id": coordinator_id}, now
    )
    return updated


async def close(
    uow: UnitOfWork, case: Case, coordinator_id: int | None, outcome: str, now: datetime
) -> None:
    """Close the case with an outcome; nothing is relayed for it any more."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    await _move(uow, case, "closed", now)
    await uow.alerts.settle(case.id, None, now)
    await uow.alerts.close_relay(case.id)
    await uow.cases.add_event(
        case.id, "closed", {"outcome": outcome, "coordinator_id": coordinator_id}, now
    )


async def timeline(uow: UnitOfWork, case_id: int) -> list[CaseEvent]:
    """Everything that happened to a case, oldest first, each with its time."""
    return await uow.cases.events(case_id)
