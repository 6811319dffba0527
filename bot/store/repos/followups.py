"""Follow-ups: protection orders, plans, check-ins (claimed like the outbox) and milestones."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.models import (
    CheckinRow,
    ContactRow,
    FollowupPlanRow,
    MilestoneRow,
    ProtectionOrderRow,
)
from bot.store.records import Checkin, Milestone, Order, Plan
from bot.store.repos.base import Repo

orders = ProtectionOrderRow.__table__
plans = FollowupPlanRow.__table__
checkins = CheckinRow.__table__
milestones = MilestoneRow.__table__
contacts = ContactRow.__table__

OPEN_CHECKIN = ("pending", "leased")


def _order(r: Any) -> Order:
    return Order(
        r.id,
        r.case_id,
        r.contact_id,
        r.country,
        r.kind,
        r.issued_on,
        r.ends_on,
        bool(r.end_is_default),
        r.registered_by,
        r.status,
    )


def _plan(r: Any) -> Plan:
    return Plan(
        r.id,
        r.kind,
        r.contact_id,
        r.case_id,
        r.order_id,
        r.status,
        tuple(r.windows or ()),
        r.tz,
        r.starts_at,
        r.ends_at,
    )


def _checkin(r: Any) -> Checkin:
    return Checkin(
        r.id,
        r.plan_id,
        r.contact_id,
        r.milestone_id,
        r.purpose,
        r.nominal_at,
        r.due_at,
        r.status,
        r.tries,
        r.deferrals,
        r.sent_at,
        r.answered_at,
        r.outcome,
    )


def _milestone(r: Any) -> Milestone:
    return Milestone(r.id, r.plan_id, r.kind, r.due_on, r.status, r.answer, r.set_by)


class FollowupRepo(Repo):
    """The protection_orders, followup_plans, checkins and milestones tables."""

    # -- orders ----------------------------------------------------------------------------------

    async def add_order(
        self,
        *,
        case_id: int | None,
        contact_id: int | None,
        country: str,
        kind: str,
        issued_on: date | None,
        ends_on: date | None,
        end_is_default: bool,
        registered_by: int | None,
        now: datetime,
    ) -> Order:
        """Register an order; an active order on the same case is replaced (a correction)."""
        if case_id is not None:
            await self.conn.execute(
                sa.update(orders)
                .where(orders.c.case_id == case_id, orders.c.status == "active")
                .values(status="replaced", updated_at=now)
            )
        row = (
            await self.conn.execute(
                sa.insert(orders)
                .values(
                    case_id=case_id,
                    contact_id=contact_id,
                    country=country,
                    kind=kind,
                    issued_on=issued_on,
                    ends_on=ends_on,
                    end_is_default=end_is_default,
                    registered_by=registered_by,
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
                .returning(*orders.c)
            )
        ).one()
        return _order(row)

    async def get_order(self, order_id: int) -> Order | None:
        """An order by id."""
        row = (await self.conn.execute(sa.select(orders).where(orders.c.id == order_id))).first()
        return _order(row) if row else None

    async def set_order_status(self, order_id: int, status: str, now: datetime) -> None:
        """An order ended (its end date passed) or was replaced."""
        await self.conn.execute(
            sa.update(orders).where(orders.c.id == order_id).values(status=status, updated_at=now)
        )

    # -- plans -----------------------------------------------------------------------------------

    async def add_plan(
        self,
        *,
        kind: str,
        contact_id: int,
        case_id: int | None,
        order_id: int | None,
        windows: list[str],
        tz: str,
        starts_at: datetime,
        ends_at: datetime | None,
        now: datetime,
    ) -> Plan:
        """Start a plan."""
        row = (
            await self.conn.execute(
                sa.insert(plans)
                .values(
                    kind=kind,
                    contact_id=contact_id,
                    case_id=case_id,
                    order_id=order_id,
                    status="active",
                    windows=list(windows),
                    tz=tz,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    created_at=now,
                )
                .returning(*plans.c)
            )
        ).one()
        return _plan(row)

    async def get_plan(self, plan_id: int) -> Plan | None:
        """A plan by id."""
        row = (await self.conn.execute(sa.select(plans).where(plans.c.id == plan_id))).first()
        return _plan(row) if row else None

    async def active_plans(
        self, *, contact_id: int | None = None, case_id: int | None = None, kind: str | None = None
    ) -> list[Plan]:
        """Active plans of a person or of a case, oldest first."""
        query = sa.select(plans).where(plans.c.status == "active")
        if contact_id is not None:
            query = query.where(plans.c.contact_id == contact_id)
        if case_id is not None:
            query = query.where(plans.c.case_id == case_id)
        if kind is not None:
            query = query.where(plans.c.kind == kind)
        rows = (await self.conn.execute(query.order_by(plans.c.id))).all()
        return [_plan(r) for r in rows]

    async def plans_of_case(self, case_id: int) -> list[Plan]:
        """Every plan of a case, oldest first (for the case's page)."""
        rows = (
            await self.conn.execute(
                sa.select(plans).where(plans.c.case_id == case_id).order_by(plans.c.id)
            )
        ).all()
        return [_plan(r) for r in rows]

    async def end_plan(self, plan_id: int, status: str, now: datetime) -> bool:
        """End an active plan (ended, stopped, replaced) and cancel its open check-ins."""
        done = await self.conn.execute(
            sa.update(plans)
            .where(plans.c.id == plan_id, plans.c.status == "active")
            .values(status=status, ended_at=now)
            .returning(plans.c.id)
        )
        if done.scalar_one_or_none() is None:
            return False
        await self.conn.execute(
            sa.update(checkins)
            .where(checkins.c.plan_id == plan_id, checkins.c.status.in_(OPEN_CHECKIN))
            .values(status="cancelled", leased_until=None, lease_owner=None)
        )
        await self.conn.execute(
            sa.update(milestones)
            .where(milestones.c.plan_id == plan_id, milestones.c.status == "pending")
            .values(status="cancelled")
        )
        return True

    # -- check-ins -------------------------------------------------------------------------------

    async def add_checkin(
        self,
        *,
        plan_id: int,
        contact_id: int | None,
        nominal_at: datetime,
        due_at: datetime,
        now: datetime,
        milestone_id: int | None = None,
        purpose: str = "checkin",
    ) -> int:
        """Schedule a check-in (or the plan's end, purpose "end"); returns its id."""
        stmt = (
            sa.insert(checkins)
            .values(
                plan_id=plan_id,
                contact_id=contact_id,
                milestone_id=milestone_id,
                purpose=purpose,
                nominal_at=nominal_at,
                due_at=due_at,
                status="pending",
                tries=0,
                deferrals=0,
                created_at=now,
            )
            .returning(checkins.c.id)
        )
        return (await self.conn.execute(stmt)).scalar_one()

    async def get_checkin(self, checkin_id: int) -> Checkin | None:
        """A check-in by id."""
        row = (
            await self.conn.execute(sa.select(checkins).where(checkins.c.id == checkin_id))
        ).first()
        return _checkin(row) if row else None

    async def open_checkins(self, plan_id: int) -> list[Checkin]:
        """A plan's check-ins not done yet, soonest first."""
        rows = (
            await self.conn.execute(
                sa.select(checkins)
                .where(checkins.c.plan_id == plan_id, checkins.c.status.in_(OPEN_CHECKIN))
                .order_by(checkins.c.due_at, checkins.c.id)
            )
        ).all()
        return [_checkin(r) for r in rows]

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, owner: str
    ) -> list[Checkin]:
        """Lease due check-ins to `owner` (SKIP LOCKED on PostgreSQL); the caller commits."""
        return [_checkin(r) for r in await self.claim_rows(checkins, now, limit, lease, owner)]

    async def lock_contact(self, contact_id: int) -> bool:
        """Lock the contact's row as the pipeline does for a message (PostgreSQL: row lock, so
        a check-in and her own message never run at once across workers); False if gone."""
        query = sa.select(contacts.c.id).where(
            contacts.c.id == contact_id, contacts.c.erased_at.is_(None)
        )
        if self.postgres:
            query = query.with_for_update(key_share=True)
        return (await self.conn.execute(query)).scalar_one_or_none() is not None

    async def take(self, checkin_id: int, owner: str) -> Checkin | None:
        """The check-in if `owner` still holds its lease (compare-and-set; row-locked on PG)."""
        query = sa.select(checkins).where(
            checkins.c.id == checkin_id,
            checkins.c.status == "leased",
            checkins.c.lease_owner == owner,
        )
        if self.postgres:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return _checkin(row) if row else None

    async def finish(self, checkin_id: int, outcome: str, now: datetime) -> bool:
        """Close an open check-in with an outcome; False when it was closed already."""
        done = await self.conn.execute(
            sa.update(checkins)
            .where(checkins.c.id == checkin_id, checkins.c.status.in_(OPEN_CHECKIN))
            .values(
                status="done",
                outcome=outcome,
                answered_at=now,
                leased_until=None,
                lease_owner=None,
            )
            .returning(checkins.c.id)
        )
        return done.scalar_one_or_none() is not None

    async def update_checkin(self, checkin_id: int, **values: Any) -> None:
        """Change a check-in (status, due_at, tries, outcome...); a lease is dropped."""
        if values.get("status") in ("pending", "done", "cancelled"):
            values.setdefault("leased_until", None)
            values.setdefault("lease_owner", None)
        await self.conn.execute(
            sa.update(checkins).where(checkins.c.id == checkin_id).values(**values)
        )

    # -- milestones ------------------------------------------------------------------------------

    async def add_milestone(
        self, *, plan_id: int, kind: str, due_on: date, set_by: int | None, now: datetime
    ) -> Milestone:
        """A milestone of an integration plan."""
        row = (
            await self.conn.execute(
                sa.insert(milestones)
                .values(
                    plan_id=plan_id,
                    kind=kind,
                    due_on=due_on,
                    status="pending",
                    set_by=set_by,
                    created_at=now,
                )
                .returning(*milestones.c)
            )
        ).one()
        return _milestone(row)

    async def get_milestone(self, milestone_id: int) -> Milestone | None:
        """A milestone by id."""
        row = (
            await self.conn.execute(sa.select(milestones).where(milestones.c.id == milestone_id))
        ).first()
        return _milestone(row) if row else None

    async def answer_milestone(self, milestone_id: int, answer: str, now: datetime) -> None:
        """The person said how the milestone is going."""
        await self.conn.execute(
            sa.update(milestones)
            .where(milestones.c.id == milestone_id)
            .values(status="answered", answer=answer, answered_at=now)
        )

    async def milestones_of(self, plan_id: int) -> list[Milestone]:
        """A plan's milestones by date."""
        rows = (
            await self.conn.execute(
                sa.select(milestones)
                .where(milestones.c.plan_id == plan_id)
                .order_by(milestones.c.due_on, milestones.c.id)
            )
        ).all()
        return [_milestone(r) for r in rows]

    # -- figures ---------------------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        """Rows per follow-up table (benchmarks, health)."""
        result = {}
        for table in (orders, plans, checkins, milestones):
            result[table.name] = (
                await self.conn.execute(sa.select(sa.func.count()).select_from(table))
            ).scalar_one()
        return result


async def erase_followups(conn: AsyncConnection, contact_id: int, now: datetime) -> None:
    """At erasure: end her plans, cancel check-ins, drop dates, windows and the link to her.

    Kinds, statuses and outcomes stay: figures for the statistics, nothing that points to her.
    Her protection order stays with its case (kind, dates), for her safety: FSHI says so.
    """
    ex = conn.execute
    mine = sa.select(plans.c.id).where(plans.c.contact_id == contact_id).scalar_subquery()
    await ex(
        sa.update(checkins)
        .where(checkins.c.plan_id.in_(mine), checkins.c.status.in_(OPEN_CHECKIN))
        .values(status="cancelled", leased_until=None, lease_owner=None)
    )
    await ex(
        sa.update(checkins)
        .where(checkins.c.plan_id.in_(mine))
        .values(contact_id=None, nominal_at=now, due_at=now, sent_at=None, answered_at=None)
    )
    await ex(
        sa.update(milestones)
        .where(milestones.c.plan_id.in_(mine))
        .values(
            due_on=None,
            answered_at=None,
            status=sa.case(
                (milestones.c.status == "pending", "cancelled"), else_=milestones.c.status
            ),
        )
    )
    await ex(
        sa.update(orders)
        .where(orders.c.contact_id == contact_id)
        # FSHI keeps the order with its case (her safety needs it): only the link to her goes.
        .values(contact_id=None, updated_at=now)
    )
    await ex(
        sa.update(plans)
        .where(plans.c.contact_id == contact_id)
        .values(
            contact_id=None,
            windows=None,
            starts_at=now,
            ends_at=None,
            status=sa.case((plans.c.status == "active", "erased"), else_=plans.c.status),
            ended_at=sa.func.coalesce(plans.c.ended_at, now),
        )
    )
