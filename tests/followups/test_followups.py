"""Follow-ups on a fake clock: a whole order, windows, breach, silence, stop, deferral, erasure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.followups.harness import COORDINATOR_PHONE, FollowupDesk
from tests.referral.harness import SURVIVOR

HOUR = timedelta(hours=1)
TIRANE = ZoneInfo("Europe/Tirane")
NEUTRAL = "Hello, it's us again. Is now a good moment for a short question?"
FORBIDDEN = ("order", "police", "violence", "urdh", "polic", "dhun")
# Most tests run on SQLite only (the test-time budget); the whole order and the deferral run
# on PostgreSQL too, and tests/followups/test_workers.py claims there from two processes.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def first_line(text: str) -> str:
    return text.splitlines()[0]


def to_survivor(desk: FollowupDesk, sent) -> list[str]:
    return desk.to(SURVIVOR, sent)


def to_coordinator(desk: FollowupDesk, sent) -> list[str]:
    return desk.to(f"tel:{COORDINATOR_PHONE}", sent)


async def test_a_whole_order_from_registration_to_end_inside_her_window(desk):
    case = await desk.case_for()
    replies = await desk.coordinator_says(f"ORDER {case.reference} UM 23.11.2026 01.01.2027")
    assert any(case.reference in r and "23.11.2026" in r and "01.01.2027" in r for r in replies)
    times = []
    for _ in range(10):
        sent = await desk.tick_until(lambda s: bool(to_survivor(desk, s)) or False, HOUR, 24 * 60)
        [text] = to_survivor(desk, sent)
        local = desk.clock().astimezone(TIRANE)
        assert 8 <= local.hour < 21, local  # "any time of day": never at night
        assert first_line(text) == NEUTRAL
        assert not any(w in first_line(text).lower() for w in FORBIDDEN)
        times.append(desk.clock())
        assert "have they come near you" in to_survivor(desk, await desk.say("1"))[0]
        assert "Thank you" in to_survivor(desk, await desk.say("1"))[0]
        async with desk.db.uow() as uow:
            [plan] = await uow.followups.plans_of_case(case.id)
        if plan.status != "active" or not [
            r for r in await desk.checkins() if r.status == "pending" and r.purpose == "checkin"
        ]:
            break
    days = [(t - times[0]).days for t in times]
    # P1D, P3D, P7D, P14D, P30D after registration, then the order ends (1 January).
    assert len(times) == 5 and days == [0, 2, 6, 13, 29]
    await desk.tick_until(
        lambda s: False or desk.clock() > datetime(2027, 1, 2, tzinfo=UTC), HOUR * 24, 60
    )
    async with desk.db.uow() as uow:
        [plan] = await uow.followups.plans_of_case(case.id)
        order = await uow.followups.get_order(plan.order_id)
    assert plan.status == "ended" and order.status == "ended"
    assert [r.outcome for r in await desk.checkins()] == ["respected"] * 5 + ["ended"]


@SQLITE
async def test_windows_and_time_zones_morning_in_kosovo(desk):
    case = await desk.case_for(municipality="prishtine")
    await desk.coordinator_says(f"ORDER {case.reference} UM 23.11.2026")  # Kosovo's UM
    async with desk.db.uow() as uow:
        [plan] = await uow.followups.plans_of_case(case.id)
        order = await uow.followups.get_order(plan.order_id)
        await uow.conn.execute(
            __import__("sqlalchemy").text("UPDATE followup_plans SET windows = :w"),
            {"w": '["morning"]'},
        )
        await uow.conn.execute(
            __import__("sqlalchemy").text("UPDATE checkins SET due_at = :d"),
            {"d": datetime(2026, 11, 24, 20, 0)},  # 21:00 in Prishtina: outside her morning
        )
        await uow.commit()
    assert order.kind == "xk_protection" and plan.tz == "Europe/Belgrade"
    sent = await desk.tick_until(lambda s: bool(to_survivor(desk, s)), timedelta(minutes=30), 200)
    local = desk.clock().astimezone(ZoneInfo("Europe/Belgrade"))
    assert local.date().isoformat() == "2026-11-25" and 8 <= local.hour < 12
    assert first_line(to_survivor(desk, sent)[0]) == NEUTRAL


@SQLITE
async def test_a_breach_alerts_the_coordinator_urgently_with_the_reference(desk):
    case = await desk.case_for()
    await desk.coordinator_says(f"ORDER {case.reference} UMM 23.11.2026")
    await desk.tick_until(lambda s: bool(to_survivor(desk, s)), HOUR, 100)
    await desk.say("1")
    sent = await desk.say("2")  # "Yes, they have"
    [alert] = to_coordinator(desk, sent)
    assert case.reference in alert and "order breached" in alert
    assert "alerted" in to_survivor(desk, sent)[0]
    async with desk.db.uow() as uow:
        fresh = await uow.cases.get(case.id)
    assert fresh.urgency == "urgent" and "order_breached" in fresh.flags


@SQLITE
async def test_silence_after_two_tries_a_day_apart_asks_the_coordinator_to_check(desk):
    case = await desk.case_for()
    await desk.coordinator_says(f"ORDER {case.reference} UM 23.11.2026")
    await desk.tick_until(lambda s: bool(to_survivor(desk, s)), HOUR, 100)
    first = desk.clock()
    await desk.tick_until(lambda s: bool(to_survivor(desk, s)), HOUR, 100)
    second = desk.clock()
    assert timedelta(hours=23) <= second - first <= timedelta(hours=25)
    sent = await desk.tick_until(lambda s: bool(to_coordinator(desk, s)), HOUR, 100)
    [task] = to_coordinator(desk, sent)
    assert task.startswith(f"Please check on {case.reference}")
    assert not to_survivor(desk, sent)
    rows = await desk.checkins()
    assert rows[0].outcome == "no_answer" and rows[1].status == "pending"  # the plan goes on


@SQLITE
async def test_stop_ends_the_plan_after_confirmation(desk):
    case = await desk.case_for()
    await desk.coordinator_says(f"ORDER {case.reference} UM 23.11.2026")
    await desk.tick_until(lambda s: bool(to_survivor(desk, s)), HOUR, 100)
    assert "Stop these messages?" in to_survivor(desk, await desk.say("3"))[0]
    sent = await desk.say("1")
    assert to_survivor(desk, sent) == ["Stopped. You can write to us any time."]
    assert any("stopped the check-ins" in t for t in to_coordinator(desk, sent))
    async with desk.db.uow() as uow:
        [plan] = await uow.followups.plans_of_case(case.id)
    assert plan.status == "stopped"
    assert all(r.status in ("done", "cancelled") for r in await desk.checkins())


async def test_a_checkin_waits_while_another_conversation_runs(desk):
    case = await desk.case_for()
    await desk.coordinator_says(f"ORDER {case.reference} UM 23.11.2026")
    [row] = await desk.checkins()
    planned = row.due_at
    desk.clock.now = row.due_at - timedelta(minutes=5)
    await desk.say("hello")  # a conversation starts: the first-contact questions
    desk.clock.advance(timedelta(minutes=6))
    sent = await desk.tick_until(lambda s: True, timedelta(0), 1)
    assert not to_survivor(desk, sent)
    [row] = await desk.checkins()
    assert row.deferrals == 1 and row.tries == 0
    sent = await desk.tick_until(lambda s: bool(to_survivor(desk, s)), timedelta(minutes=10), 20)
    assert first_line(to_survivor(desk, sent)[0]) == NEUTRAL
    assert desk.clock() - planned >= timedelta(minutes=30)  # her last message + PT30M


@SQLITE
@pytest.mark.parametrize("word", ["DIL", "FSHI"])
async def test_exit_and_erase_work_during_a_checkin(desk, word):
    case = await desk.case_for()
    await desk.coordinator_says(f"ORDER {case.reference} UM 23.11.2026")
    await desk.tick_until(lambda s: bool(to_survivor(desk, s)), HOUR, 100)
    sent = to_survivor(desk, await desk.say(word))
    if word == "DIL":
        assert sent == ["OK."]
        assert (await desk.checkins())[0].outcome == "exit"
        return
    assert sent[0].startswith("Delete everything you wrote to us?")
    await desk.say("1")
    async with desk.db.uow() as uow:
        plans = await uow.followups.plans_of_case(case.id)
        order = await uow.followups.get_order(plans[0].order_id)
    assert plans[0].status == "erased" and plans[0].contact_id is None and plans[0].windows == ()
    # The order stays with its case for her safety (issue 16); only the link to her goes.
    assert order.issued_on is not None and order.ends_on is not None and order.contact_id is None
    assert all(
        r.status in ("done", "cancelled") and r.contact_id is None for r in await desk.checkins()
    )
    later = await desk.tick_until(lambda s: True, timedelta(days=3), 1)
    assert not [m for m in later if m.kind != "delete"]  # only Twilio's log deletion


@SQLITE
async def test_want_to_talk_without_a_coordinator_is_a_non_urgent_request(desk):
    case = await desk.case_for(accepted=False)
    async with desk.db.uow() as uow:
        await desk.followups.register_order(
            uow,
            case=case,
            contact_id=case.contact_id,
            kind=desk.followups.book.types["um"],
            issued=date(2026, 11, 23),
            ends=None,
            windows=["any"],
            by=None,
            now=desk.clock(),
        )
        await uow.commit()
    await desk.tick_until(lambda s: bool(to_survivor(desk, s)), HOUR, 100)
    await desk.say("1")
    assert "coordinator will write" in to_survivor(desk, await desk.say("3"))[0]
    async with desk.db.uow() as uow:
        kinds = [(a.kind, a.state) for a in await uow.alerts.for_case(case.id)]
        fresh = await uow.cases.get(case.id)
    assert kinds == [("digest", "queued")] and fresh.urgency == "normal"
