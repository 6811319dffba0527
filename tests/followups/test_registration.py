"""Registering orders (her flow, the coordinator's phone) and integration milestones."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.referral.commands import parse
from tests.followups.harness import FollowupDesk
from tests.followups.test_followups import NEUTRAL, to_coordinator, to_survivor

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE
async def test_she_registers_her_order_in_a_flow_with_the_legal_default_end(db):
    desk = await FollowupDesk(db, trigger_flow="orders_info").start()
    await desk.say("pershendetje")  # in Albanian: "do you want to know how orders work?"
    assert "A keni tashmë urdhër?" in to_survivor(desk, await desk.say("jo"))[0]
    assert "Doni të na tregoni për urdhrin?" in to_survivor(desk, await desk.say("po"))[0]
    assert "Urdhër mbrojtjeje i menjëhershëm (UMM)" in to_survivor(desk, await desk.say("po"))[0]
    await desk.say("1")  # UMM
    assert "Kur mbaron?" in to_survivor(desk, await desk.say("20.11.2026"))[0]
    assert "mesazh të shkurtër" in to_survivor(desk, await desk.say("0"))[0]  # end not known
    await desk.say("po")
    offer = to_survivor(desk, await desk.say("1"))  # morning
    assert "fjalë të fshehtë" in offer[0]  # a code word (issue 16): not this time
    done = to_survivor(desk, await desk.say("jo"))
    assert done[0].startswith("U shënua. Do t'ju shkruajmë vetëm në kohën që zgjodhët.")
    async with desk.db.uow() as uow:
        case = await uow.cases.open_for_contact(1)
        [plan] = await uow.followups.plans_of_case(case.id)
        order = await uow.followups.get_order(plan.order_id)
    assert (order.kind, order.issued_on, order.ends_on, order.end_is_default) == (
        "umm",
        date(2026, 11, 20),
        date(2026, 12, 19),  # 30 days, bot/data/orders.yaml (to be confirmed by partners)
        True,
    )
    assert plan.windows == ("morning",)
    [row] = await desk.checkins()
    local = row.due_at.astimezone(ZoneInfo("Europe/Tirane"))
    assert row.due_at - row.nominal_at < timedelta(days=1) and 8 <= local.hour < 12


@SQLITE
async def test_the_coordinator_corrects_an_order_and_gets_help_on_a_bad_command(desk):
    case = await desk.case_for()
    [help_text] = await desk.coordinator_says(f"URDHER {case.reference} XYZ 01.11.2026")
    assert help_text.startswith(f"Write: ORDER {case.reference}") and "UMM" in help_text
    replies = await desk.coordinator_says(f"ORDER {case.reference} UPMM 22.11.2026")
    assert "legal default" in replies[-1]
    await desk.coordinator_says(f"ORDER {case.reference} UM 22.11.2026 21.11")
    async with desk.db.uow() as uow:
        plans = await uow.followups.plans_of_case(case.id)
        order = await uow.followups.get_order(plans[-1].order_id)
    assert [p.status for p in plans] == ["replaced", "active"]
    assert order.kind == "um" and order.ends_on == date(2027, 11, 21)  # "21.11": the coming one
    assert len([r for r in await desk.checkins() if r.status == "pending"]) == 1


@SQLITE
async def test_a_milestone_is_asked_on_its_date_and_the_answer_goes_to_the_coordinator(desk):
    case = await desk.case_for()
    [ok] = await desk.coordinator_says(f"PLAN {case.reference} banese 30.11.2026")
    assert "housing on 30.11.2026" in ok
    sent = await desk.tick_until(lambda s: bool(to_survivor(desk, s)), timedelta(hours=1), 50)
    assert to_survivor(desk, sent)[0].splitlines()[0] == NEUTRAL
    assert desk.clock().astimezone(ZoneInfo("Europe/Tirane")).date() == date(2026, 11, 30)
    assert "place to live" in to_survivor(desk, await desk.say("1"))[0]
    sent = await desk.say("3")  # a problem
    assert to_coordinator(desk, sent) == [
        f"{case.reference}, housing (30.11.2026): a problem, contact her"
    ]


def test_the_parser_reads_order_and_plan_in_both_languages():
    assert parse("urdhër r-4821 UMM 01.11.2026").action == "order"
    cmd = parse("ORDER R4821 um 01.11.2026 31.10.2027")
    assert (cmd.action, cmd.reference, cmd.text) == ("order", "R-4821", "um 01.11.2026 31.10.2027")
    cmd = parse("plani R-4821 te ardhura 15.12")
    assert (cmd.action, cmd.reference, cmd.text) == ("plan", "R-4821", "te ardhura 15.12")
    assert parse("ORDER").reference is None


@SQLITE
async def test_an_order_whose_legal_default_end_has_passed_still_gets_the_check_ins_promised(db):
    # Walkthrough: she registers a police order (UPMM, legal default 2 days) issued three days
    # ago, end not known. She was told "we will write only at the time you chose", but the
    # default end had passed: the plan ended at once and no check-in was ever sent. She says
    # she has it now: the default counts from today (the coordinator confirms the end).
    desk = await FollowupDesk(db, trigger_flow="orders_info").start()
    # An order: yes; tell us: yes; UPMM, issued, end not known, check-ins: yes, evening.
    for says in ["pershendetje", "jo", "po", "po", "2", "20.11.2026", "0", "po", "3"]:
        await desk.say(says)
    done = to_survivor(desk, await desk.say("jo"))
    assert done[0].startswith("U shënua. Do t'ju shkruajmë vetëm në kohën që zgjodhët.")
    async with desk.db.uow() as uow:
        case = await uow.cases.open_for_contact(1)
        [plan] = await uow.followups.plans_of_case(case.id)
        order = await uow.followups.get_order(plan.order_id)
    assert (order.kind, order.end_is_default) == ("upmm", True)
    assert order.ends_on == desk.clock().date() + timedelta(days=1)
    [row] = await desk.checkins()
    assert row.purpose != "end" and row.status == "pending"
    local = row.due_at.astimezone(ZoneInfo("Europe/Tirane"))
    assert 17 <= local.hour < 21
    sent = await desk.tick_until(lambda s: to_survivor(desk, s), timedelta(hours=1))
    assert to_survivor(desk, sent)[0].startswith("Përshëndetje, jemi ne përsëri.")  # neutral
