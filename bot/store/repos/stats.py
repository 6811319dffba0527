"""Figures for statistics and /metrics: counts of cases, alerts and check-ins; nothing personal."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from bot.store.models import (
    AlertRow,
    CaseAssignmentRow,
    CaseRow,
    CheckinRow,
    CoordinatorRow,
    FollowupPlanRow,
)
from bot.store.records import CaseFigures
from bot.store.repos.base import Repo

cases = CaseRow.__table__
assignments = CaseAssignmentRow.__table__
alerts = AlertRow.__table__
checkins = CheckinRow.__table__
plans = FollowupPlanRow.__table__
coordinators = CoordinatorRow.__table__


class StatsRepo(Repo):
    """Read-only counts; simulated cases and demo coordinators are never counted."""

    async def alert_totals(self) -> tuple[dict[str, int], int]:
        """Alerts sent to real (not demo) coordinators by kind, and escalation pages (a page
        beyond a case's first step), for /metrics: the database counts for every worker."""
        real = sa.select(coordinators.c.id).where(coordinators.c.demo.is_(False))
        sent = await self.conn.execute(
            sa.select(alerts.c.kind, sa.func.count())
            .where(alerts.c.sent_at.is_not(None), alerts.c.coordinator_id.in_(real))
            .group_by(alerts.c.kind)
        )
        by_kind = {str(kind): int(n) for kind, n in sent}
        escalated = await self.conn.execute(
            sa.select(sa.func.count()).where(
                alerts.c.kind == "page", alerts.c.step > 1, alerts.c.coordinator_id.in_(real)
            )
        )
        return by_kind, int(escalated.scalar_one())

    async def case_figures(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[CaseFigures]:
        """Every case as figures, with when it was accepted and how often it escalated."""
        escalations = (
            sa.select(alerts.c.case_id, sa.func.count().label("n"))
            # A case's first pages are step 1 (bot/referral/routing.py); later steps escalated.
            .where(alerts.c.kind == "page", alerts.c.step > 1)
            .group_by(alerts.c.case_id)
            .subquery()
        )
        stmt = (
            sa.select(
                cases.c.id,
                cases.c.municipality,
                cases.c.created_at,
                cases.c.urgency,
                cases.c.risk_level,
                cases.c.category,
                cases.c.status,
                assignments.c.accepted_at,
                sa.func.coalesce(escalations.c.n, 0).label("escalations"),
            )
            .outerjoin(assignments, assignments.c.case_id == cases.c.id)
            .outerjoin(escalations, escalations.c.case_id == cases.c.id)
            .where(cases.c.simulated.is_(False))  # figures of real cases only
            .order_by(cases.c.created_at)
        )
        if since is not None:
            stmt = stmt.where(cases.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(cases.c.created_at < until)
        return [
            CaseFigures(
                id=r.id,
                municipality=r.municipality,
                created_at=r.created_at,
                urgency=r.urgency,
                risk_level=r.risk_level,
                category=r.category,
                status=r.status,
                accepted_at=_aware(r.accepted_at),
                escalations=int(r.escalations),
            )
            for r in await self.conn.execute(stmt)
        ]

    async def followup_outcomes(self) -> dict[str, int]:
        """How check-ins ended (respected, breached, no_answer, ...), counted."""
        rows = await self.conn.execute(
            sa.select(checkins.c.outcome, sa.func.count())
            .join(plans, plans.c.id == checkins.c.plan_id)
            .outerjoin(cases, cases.c.id == plans.c.case_id)
            .where(
                checkins.c.outcome.is_not(None),
                checkins.c.purpose == "checkin",
                sa.func.coalesce(cases.c.simulated, sa.false()).is_(False),
            )
            .group_by(checkins.c.outcome)
        )
        return {str(outcome): int(n) for outcome, n in rows}


def _aware(value: datetime | None) -> datetime | None:
    # A plain column read through a join keeps its type decorator; guard SQLite's naive text.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
