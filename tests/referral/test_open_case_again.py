"""She writes again days later while her case is open: the same case goes on, through the real
pipeline on the shipped flows (one case, her coordinator paged, no second intake)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.referral import alerts
from bot.store.repos.cases import cases as cases_table
from tests.followups.harness import COORDINATOR_PHONE, FollowupDesk
from tests.referral.harness import SURVIVOR, PoCatalogs

COORDINATOR = f"tel:{COORDINATOR_PHONE}"
TEXTS = PoCatalogs()
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
async def desk(db):
    """The referral desk with follow-ups on the shipped flows, a coordinator on duty."""
    return await FollowupDesk(db).start()


def en(msgid: str) -> str:
    return TEXTS.text("en", msgid)


async def case_count(desk: FollowupDesk) -> int:
    async with desk.db.uow() as uow:
        return int((await uow.conn.execute(sa.select(sa.func.count(cases_table.c.id)))).scalar())


async def her_case(desk: FollowupDesk, accepted: bool = True):
    """Her case from a first conversation: Tirana, about herself, taken by the coordinator."""
    case = await desk.case_for(accepted=accepted)
    async with desk.db.uow() as uow:
        case = await uow.cases.update(case.id, desk.clock(), reporter="survivor")
        await uow.commit()
    desk.clock.advance(timedelta(days=3))
    return case


async def test_she_writes_again_and_her_open_case_goes_on(desk):
    case = await her_case(desk)
    first = " ".join(desk.to(SURVIVOR, await desk.say("hello")))
    # Whoever holds the phone: the safe-to-text question first, nothing of the case before.
    assert en("fc.safe_now") in first and en("fc.case_open") not in first
    reply = desk.to(SURVIVOR, await desk.say("1"))  # safe to text now: yes
    assert reply[0].startswith(en("fc.case_open")) and en("fc.danger_now") in reply[0]
    assert case.reference not in reply[0]
    sent = await desk.say("1")  # in danger now: yes
    told = desk.to(COORDINATOR, sent)
    assert len(told) == 1 and told[0].startswith(f"URGENT {case.reference}")
    assert "in danger now" in told[0]
    reply = " ".join(desk.to(SURVIVOR, sent))
    assert "112" in reply
    # What the case knows is not asked again: the screening follows.
    assert en("fc.role") not in reply and en("fc.municipality") not in reply
    assert await case_count(desk) == 1
    async with desk.db.uow() as uow:
        fresh = await uow.cases.get(case.id)
    assert fresh.urgency == "urgent" and fresh.status == "accepted"
    # Once her case is closed, a new conversation is a new case and the whole intake.
    await desk.coordinator_says(f"CLOSE {case.reference} resolved")
    desk.clock.advance(timedelta(days=3))
    for says in ("hello", "1"):
        reply = " ".join(desk.to(SURVIVOR, await desk.say(says)))
        assert en("fc.case_open") not in reply
    sent = await desk.say("1")  # in danger now
    [page] = desk.to(COORDINATOR, sent)
    assert case.reference not in page and page.startswith("URGENT R-")
    assert en("fc.role") in " ".join(desk.to(SURVIVOR, sent))
    assert await case_count(desk) == 2


@SQLITE
async def test_a_case_nobody_took_is_paged_again_not_doubled(desk):
    case = await her_case(desk, accepted=False)
    async with desk.db.uow() as uow:  # paged in her first conversation, three days ago
        then = desk.clock() - timedelta(days=3)
        await alerts.request(desk.referral.ctx, uow, case, True, "danger_now", then)
        await uow.commit()
    await desk.tick()  # its escalation ran out meanwhile
    for says in ("hello", "1"):
        await desk.say(says)
    sent = await desk.say("I'm in danger")
    [page] = desk.to(COORDINATOR, sent)
    assert page.startswith(f"URGENT {case.reference}, not taken yet")
    assert await case_count(desk) == 1


@SQLITE
async def test_her_case_is_named_only_once_she_says_it_is_safe_to_text(desk):
    await her_case(desk)
    replies = [*desk.to(SURVIVOR, await desk.say("hello"))]
    for says in ("2", "3"):  # not safe now; the evening is
        replies += desk.to(SURVIVOR, await desk.say(says))
    assert not any(en("fc.case_open") in r for r in replies)
    desk.clock.advance(timedelta(hours=10))  # she writes in the evening
    assert en("fc.case_open") not in " ".join(desk.to(SURVIVOR, await desk.say("hello")))
    assert desk.to(SURVIVOR, await desk.say("1"))[0].startswith(en("fc.case_open"))
    assert await case_count(desk) == 1


@SQLITE
async def test_a_calmer_screening_on_her_open_case_lowers_nothing(desk):
    # Her case was found high risk (she was strangled); "no" to everything after danger in a
    # later talk, maybe with someone beside her, must not make it a standard case without its
    # red flag.
    case = await her_case(desk)
    async with desk.db.uow() as uow:
        now = desk.clock()
        await uow.cases.update(case.id, now, risk_level="high", risk_score=12, flags=["strangled"])
        await uow.commit()
    for says in ("hello", "1", "1", *["2"] * 12):  # safe, in danger now, the screening
        reply = desk.to(SURVIVOR, await desk.say(says))
    assert "What help would you like" in reply[-1]  # the screening is over
    async with desk.db.uow() as uow:
        fresh = await uow.cases.get(case.id)
    assert (fresh.risk_level, fresh.risk_score, fresh.flags) == ("high", 12, ("strangled",))
    assert await case_count(desk) == 1
