"""Who is alerted for a case, in what order, and when each step escalates (pure: stdlib only)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

NATIONAL = "national"
COORDINATOR, BACKUP = "coordinator", "backup"
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A coordinator as routing sees them."""

    id: int
    municipality: str  # a slug or "national"
    role: str  # coordinator | backup
    on_duty: bool
    alerts_last_24h: int = 0
    last_alerted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """Who to alert at `at`; a digest step is queued for working hours instead of paged."""

    number: int
    coordinators: tuple[int, ...]
    at: datetime
    reason: str  # local, local_others, national, national_others, anyone_on_duty, ...
    digest: bool = False


def fairness_key(candidate: Candidate) -> tuple[int, datetime, int]:
    """Fewest pages in 24 hours first, then the least recently paged, then the lowest id."""
    return (candidate.alerts_last_24h, candidate.last_alerted_at or NEVER, candidate.id)


def fair_order(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates in the order they should be paged: nobody is paged again while others rest."""
    return sorted(candidates, key=fairness_key)


def _ids(candidates: Sequence[Candidate]) -> tuple[int, ...]:
    """Candidates' ids in fair order."""
    return tuple(c.id for c in fair_order(candidates))


def plan(
    case_municipality: str | None,
    urgency: str,
    now: datetime,
    candidates: Sequence[Candidate],
    ack_timeout: timedelta,
    *,
    known_municipalities: Collection[str] | None = None,
) -> list[Step]:
    """The alert plan for a case.

    Urgent: (1) one on-duty coordinator of the municipality, chosen fairly; (2) after
    `ack_timeout`, the other on-duty coordinators there and its on-duty backups; (3) the
    national duty, fairly ordered, one step for its first pick and one for the rest. An unknown
    municipality (None, "national", or not in `known_municipalities` when given) starts at the
    national duty. When no step has anybody, everybody on duty anywhere is paged at once, and
    when nobody is on duty at all, every coordinator of the municipality and of the national
    duty (else every coordinator): a person in danger must reach somebody.

    Not urgent: a single digest step to the municipality's coordinators (else the national
    ones), whatever their duty: the digest waits for each one's working hours.
    """
    place = case_municipality
    if place == NATIONAL or (
        place is not None and known_municipalities is not None and place not in known_municipalities
    ):
        place = None
    local = [c for c in candidates if place is not None and c.municipality == place]
    national = [c for c in candidates if c.municipality == NATIONAL]

    if urgency != "urgent":
        pool = [c for c in local if c.role == COORDINATOR] or [
            c for c in national if c.role == COORDINATOR
        ]
        pool = pool or local or national
        if not pool:
            return []
        return [Step(1, _ids(pool), now, "digest", digest=True)]

    groups: list[tuple[str, list[Candidate]]] = []
    local_on = fair_order([c for c in local if c.on_duty and c.role == COORDINATOR])
    local_backup = fair_order([c for c in local if c.on_duty and c.role == BACKUP])
    if local_on:
        groups.append(("local", local_on[:1]))
    groups.append(("local_others", local_on[1:] + local_backup))
    national_on = fair_order(
        [c for c in national if c.on_duty and c.role == COORDINATOR]
    ) + fair_order([c for c in national if c.on_duty and c.role == BACKUP])
    groups.append(("national", national_on[:1]))
    groups.append(("national_others", national_on[1:]))

    steps: list[Step] = []
    seen: set[int] = set()
    for reason, members in groups:
        fresh = [c for c in members if c.id not in seen]
        if not fresh:
            continue
        seen.update(c.id for c in fresh)
        number = len(steps) + 1
        steps.append(
            Step(number, tuple(c.id for c in fresh), now + ack_timeout * (number - 1), reason)
        )
    if steps:
        return steps
    # Nobody local or national is on duty: a person in danger must still reach somebody.
    for reason, pool in (
        ("anyone_on_duty", [c for c in candidates if c.on_duty]),
        ("nobody_on_duty", local + national),
        ("nobody_on_duty", list(candidates)),
    ):
        if pool:
            return [Step(1, _ids(pool), now, reason)]
    return []


def next_step(steps: Sequence[Step], already: Collection[int], depth: int = 1) -> Step | None:
    """Everybody in the first `depth` steps not alerted yet; when that is nobody, the first
    later step that has somebody. Numbered by the deepest step it reaches; None when nobody.

    Escalation goes by depth, not by step: the plan is made again each time, and fairness may
    have moved the person paged first out of step 1 (they now have a page more than the rest).
    """
    fresh: list[int] = []
    for index, step in enumerate(steps):
        fresh += [i for i in step.coordinators if i not in already and i not in fresh]
        if index + 1 >= depth and fresh:
            return Step(index + 1, tuple(fresh), step.at, step.reason, step.digest)
    return None
