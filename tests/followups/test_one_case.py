"""Danger or a breach in a check-in's answer goes to the order's own case: one case, one page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from bot.referral import alerts
from bot.store.repos.cases import cases as cases_table
from tests.followups.harness import COORDINATOR_PHONE, FollowupDesk
from tests.referral.harness import SURVIVOR

HOUR = timedelta(hours=1)
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
COORDINATOR = f"tel:{COORDINATOR_PHONE}"


async def case_count(desk: FollowupDesk) -> int:
    async with desk.db.uow() as uow:
        return int((await uow.conn.execute(sa.select(sa.func.count(cases_table.c.id)))).scalar())


def urgent(desk: FollowupDesk, sent) -> list[str]:
    """What the coordinator's phone got that says URGENT."""
    return [t for t in desk.to(COORDINATOR, sent) if "URGENT" in t]


async def at_the_question(desk: FollowupDesk) -> None:
    """The check-in is sent, she says it is a good moment; the order's question waits."""
    await desk.tick_until(lambda s: bool(desk.to(SURVIVOR, s)), HOUR, 100)
    assert "have they come near you" in desk.to(SURVIVOR, await desk.say("1"))[0]


@SQLITE
async def test_danger_in_a_check_in_answer_pages_the_orders_own_case_once(desk):
    # Walkthrough: "I'm in danger, he is here" in a check-in opened a second, urgent case:
    # the coordinator got a page for a case she did not know, and her own case stayed calm.
    case = await desk.case_for()
    await desk.coordinator_says(f"ORDER {case.reference} UMM 23.11.2026")
    await at_the_question(desk)
    sent = await desk.say("I'm in danger, he is here")
    [page] = urgent(desk, sent)
    assert case.reference in page and "in danger now" in page
    assert "112" in desk.to(SURVIVOR, sent)[0]
    assert await case_count(desk) == 1
    async with desk.db.uow() as uow:
        fresh = await uow.cases.get(case.id)
    assert fresh.urgency == "urgent" and fresh.status == "accepted"
    # Once the coordinator closes it, a breach at the next check-in is a new case.
    await desk.coordinator_says(f"CLOSE {case.reference} resolved")
    await at_the_question(desk)
    [page] = urgent(desk, await desk.say("2"))  # "Yes, they have"
    assert case.reference not in page and "order breached" in page
    assert await case_count(desk) == 2


@SQLITE
async def test_a_breach_said_with_danger_is_one_page_naming_both(desk):
    case = await desk.case_for()
    await desk.coordinator_says(f"ORDER {case.reference} UMM 23.11.2026")
    await at_the_question(desk)
    sent = await desk.say("yes he came, I'm in danger")
    [page] = urgent(desk, sent)  # not one for the danger and another for the breach
    assert case.reference in page
    assert "order breached" in page and "in danger now" in page
    assert len(desk.to(COORDINATOR, sent)) == 1
    assert await case_count(desk) == 1
    async with desk.db.uow() as uow:
        fresh = await uow.cases.get(case.id)
    assert fresh.urgency == "urgent" and "order_breached" in fresh.flags


@SQLITE
async def test_a_breach_on_a_case_paged_days_ago_and_not_taken_pages_that_case_again(desk):
    # Before: an order's case paged earlier and not taken got a second case for the breach.
    case = await desk.case_for(accepted=False)
    async with desk.db.uow() as uow:
        now = desk.clock()
        await alerts.request(desk.referral.ctx, uow, case, True, "danger_now", now)
        kind = desk.followups.book.find("UMM", "AL")
        assert kind is not None
        await desk.followups.register_order(
            uow,
            case=case,
            contact_id=case.contact_id,
            kind=kind,
            issued=date(2026, 11, 23),
            ends=None,
            windows=["any"],
            by=None,
            now=now,
        )
        await uow.commit()
    await desk.drain()
    await desk.tick(timedelta(days=2))  # its escalation ran out long ago
    await at_the_question(desk)
    sent = await desk.say("2")  # "Yes, they have"
    [page] = urgent(desk, sent)
    assert page.startswith(f"URGENT {case.reference}, not taken yet") and "order breached" in page
    assert await case_count(desk) == 1
