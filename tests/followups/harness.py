"""A referral desk on the shipped flows with follow-ups, a hand-moved clock and helpers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.followups.scheduler import Scheduler
from bot.followups.service import Followups
from bot.referral import cases as case_ops
from bot.store.records import Case, Coordinator
from tests.pipeline_harness import build_pipeline, shipped_flows
from tests.referral.harness import MUNICIPALITIES, NUMBERS, SURVIVOR, Desk, places_of

ROOT = Path(__file__).resolve().parents[2]
COORDINATOR_PHONE = "+355690000001"


class FollowupDesk(Desk):
    """Desk + Followups; `coordinator` is on duty in Tirana and has the survivor's case."""

    def __init__(self, db: Any, **options: Any) -> None:
        super().__init__(db)
        self.flows = shipped_flows(ROOT / "bot" / "flows")
        self.followups = Followups(
            self.referral.ctx, quiet=options.pop("quiet", timedelta(minutes=30)), batch=50
        )
        self.pipeline = build_pipeline(
            db,
            flows=self.flows,
            catalogs=self.catalogs,
            places=places_of(MUNICIPALITIES),
            numbers=NUMBERS,
            clock=self.clock,
            referral=self.referral,
            followups=self.followups,
            trigger_flow=options.pop("trigger_flow", "first_contact"),
        )
        self.coordinator: Coordinator | None = None

    async def start(self) -> FollowupDesk:
        await super().start()
        self.coordinator = await self.add_coordinator(
            "Drita", "tirane", phone=COORDINATOR_PHONE, lang="en"
        )
        return self

    async def case_for(
        self, urn: str = SURVIVOR, municipality: str = "tirane", accepted: bool = True
    ) -> Case:
        """A case of the person (an SMS contact), accepted by the coordinator."""
        now = self.clock()
        async with self.db.uow() as uow:
            contact, _ = await uow.contacts.get_or_create(urn, "sms", now)
            await uow.contacts.set_language(contact.id, "en")
            case = await uow.cases.open(contact.id, now)
            case = await uow.cases.update(case.id, now, municipality=municipality)
            if accepted:
                await case_ops.accept(uow, case, self.coordinator.id, now)
            await uow.commit()
        return case

    async def coordinator_says(self, text: str) -> list[str]:
        """A command from the coordinator's phone; the replies to them."""
        sent = await self.say(text, f"tel:{COORDINATOR_PHONE}")
        return self.to(f"tel:{COORDINATOR_PHONE}", sent)

    async def checkins(self) -> list[Any]:
        async with self.db.uow() as uow:
            rows = (await uow.conn.execute(_all_checkins())).all()
        return rows

    async def tick_until(self, predicate: Any, step: timedelta, limit: int = 2000) -> list[Any]:
        """Move the clock to the next due check-in (or by `step` when none is pending) and
        sweep, until `predicate(sent)` holds for what was sent."""
        for _ in range(limit):
            due = [r.due_at for r in await self.checkins() if r.status == "pending"]
            target = min(due) if due else self.clock() + step
            self.clock.now = max(self.clock(), target)
            sent = await self.tick()  # fires (timeouts, expiry, escalation)
            sent += await self._followups_tick()
            if predicate(sent):
                return sent
        raise AssertionError("the condition never held")

    async def _followups_tick(self) -> list[Any]:
        await Scheduler(self.pipeline).sweep()  # the scheduler's own tick, not started
        return await self.drain()


def _all_checkins() -> Any:
    import sqlalchemy as sa

    from bot.store.repos.followups import checkins

    return sa.select(checkins).order_by(checkins.c.id)
