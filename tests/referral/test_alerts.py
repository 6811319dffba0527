"""Alerts on a real database: escalation by the clock, one winner, channel fallback, digests."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from bot.referral import cases as case_ops
from tests.referral.harness import SURVIVOR

ACK = timedelta(minutes=5)


def ref_in(texts: list[str]) -> str:
    return re.search(r"R-[0-9A-Z]{4,}", texts[0]).group(0)


async def _danger_in_tirane(desk, urn=SURVIVOR):
    await desk.say("hi", urn)
    await desk.say("Tirana", urn)
    return await desk.say("jam në rrezik", urn)


async def _events(db, ref):
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        return case, await uow.cases.events(case.id)


async def test_no_answer_escalates_step_by_step_then_reminds_once(desk, db):
    a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    b = await desk.add_coordinator("Blerta", "tirane", phone="+355692220002")
    c = await desk.add_coordinator("Cela", "tirane", phone="+355692220003", role="backup")
    n = await desk.add_coordinator("Nora", "national", phone="+355692220009", lang="en")
    start = desk.clock()
    sent = await _danger_in_tirane(desk)
    assert [m.urn for m in sent if m.kind == "alert"] == [a.sms_urn]  # one person first
    ref = ref_in([m.text for m in sent if m.kind == "alert"])

    assert [m for m in await desk.tick(ACK - timedelta(seconds=1)) if m.kind == "alert"] == []
    step2 = [m for m in await desk.tick(timedelta(seconds=1)) if m.kind == "alert"]
    assert sorted(m.urn for m in step2) == sorted([b.sms_urn, c.sms_urn])
    assert all(m.text.startswith(f"URGJENT {ref}, ende pa marrë: Tiranë") for m in step2)

    step3 = [m for m in await desk.tick(ACK) if m.kind == "alert"]
    assert [(m.urn, m.text.split(":")[0]) for m in step3] == [
        (n.sms_urn, f"URGENT {ref}, not taken yet")
    ]
    reminders = [m for m in await desk.tick(ACK) if m.kind == "alert"]
    assert sorted(m.urn for m in reminders) == sorted(x.sms_urn for x in (a, b, c, n))
    assert all("KUJTESË" in m.text or "REMINDER" in m.text for m in reminders)
    assert await desk.tick(ACK) == []  # nothing more: reminded once

    case, events = await _events(db, ref)
    steps = [(e.data["step"], e.at - start) for e in events if e.kind == "alerted"]
    assert steps == [(1, timedelta(0)), (2, ACK), (3, 2 * ACK)]
    assert case.status == "alerted"

    # The backup takes it from the reminder; everyone else alerted is told who.
    sent = await desk.say(f"OK {ref}", c.sms_urn)
    assert desk.to(c.sms_urn, sent) == [
        f"{ref} është i yti. Për t'i shkruar personit: {ref} dhe mesazhi. NDIHME për komandat."
    ]
    assert desk.to(a.sms_urn, sent) == [f"{ref} e mori Cela. Faleminderit!"]
    assert desk.to(n.sms_urn, sent) == [f"{ref} was taken by Cela. Thank you!"]
    assert len(desk.to(SURVIVOR, sent)) == 1


async def test_acceptance_stops_the_escalation(desk):
    a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    await desk.add_coordinator("Nora", "national", phone="+355692220009")
    sent = await _danger_in_tirane(desk)
    ref = ref_in([m.text for m in sent if m.kind == "alert"])
    sent = await desk.say("ok", a.sms_urn)  # "OK" alone: exactly one case waiting
    assert desk.to(a.sms_urn, sent)[0].startswith(f"{ref} është i yti.")
    assert [m for m in await desk.tick(ACK) if m.kind == "alert"] == []
    assert await desk.tick(ACK * 3) == []


async def test_two_coordinators_accepting_at_once_give_exactly_one_winner(desk, db):
    a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    b = await desk.add_coordinator("Blerta", "tirane", phone="+355692220002")
    sent = await _danger_in_tirane(desk)
    ref = ref_in([m.text for m in sent if m.kind == "alert"])
    await desk.tick(ACK)  # both are paged now
    before = {u: len(desk.to(u, desk.channels["sms"].sent)) for u in (a.sms_urn, b.sms_urn)}
    await asyncio.gather(
        desk.pipeline.receive(desk.inbound(f"OK {ref}", a.sms_urn)),
        desk.pipeline.receive(desk.inbound(f"ok {ref}", b.sms_urn)),
    )
    sent = await desk.drain()
    answers = {u: desk.to(u, sent) for u in before}
    wins = [u for u, texts in answers.items() if any("është i yti" in t for t in texts)]
    assert len(wins) == 1
    loser = next(u for u in answers if u not in wins)
    winner_name = "Arta" if wins[0] == a.sms_urn else "Blerta"
    # The loser hears who won from the notice everyone still waiting gets (the winner
    # committed first); the answer to their OK is the neutral one (issue 14).
    assert sorted(answers[loser]) == sorted(
        [
            f"{ref} e mori {winner_name}. Faleminderit!",
            f"Rasti {ref} nuk është i disponueshëm për ty.",
        ]
    )
    assert len(desk.to(SURVIVOR, sent)) == 1  # told once
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        assignment = await uow.alerts.assignment(case.id)
        accepted = [e for e in await uow.cases.events(case.id) if e.kind == "accepted"]
    assert case.status == "accepted" and len(accepted) == 1
    assert assignment.coordinator_id == (a.id if winner_name == "Arta" else b.id)


@pytest.mark.postgres
async def test_the_conditional_update_decides_even_when_both_read_first(postgres_url, crypto):
    """Two transactions both see the case open, then both try to take it (PostgreSQL)."""
    from bot.store.db import Database
    from tests.referral.harness import Desk

    db = Database(postgres_url, crypto)
    try:
        import sqlalchemy as sa

        from bot.store.models import Base

        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with db.engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        desk = await Desk(db).start()
        a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
        b = await desk.add_coordinator("Blerta", "tirane", phone="+355692220002")
        sent = await _danger_in_tirane(desk)
        ref = ref_in([m.text for m in sent if m.kind == "alert"])
        both_read = asyncio.Barrier(2)

        async def take(coordinator_id: int) -> bool:
            async with db.uow() as uow:
                case = await uow.cases.get_by_reference(ref)
                assert case.status == "alerted"
                await both_read.wait()
                won = await case_ops.accept(uow, case, coordinator_id, desk.clock())
                await uow.commit()
                return won

        results = await asyncio.gather(take(a.id), take(b.id))
        assert sorted(results) == [False, True]
    finally:
        await db.dispose()


async def test_a_page_that_fails_on_telegram_goes_by_sms(desk, db):
    a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001", chat="7001")
    desk.channels["telegram"].down = "unreachable"
    sent = await _danger_in_tirane(desk)
    assert [m for m in sent if m.kind == "alert"] == []  # Telegram failed
    sent = await desk.tick()
    [alert] = [m for m in sent if m.kind == "alert"]
    assert (alert.urn, alert.channel) == (a.sms_urn, "sms")
    assert alert.text.startswith("URGJENT")
    ref = ref_in([alert.text])
    _, events = await _events(db, ref)
    fallback = [e.data for e in events if e.kind == "alert_fallback"]
    assert fallback == [{"coordinator_id": a.id, "from": "telegram", "to": "sms", "kind": "page"}]
    # The provider said the chat is unreachable: the next alert goes by SMS straight away.
    sent = await _danger_in_tirane(desk, urn="tel:+355691110002")
    assert [(m.urn, m.channel) for m in sent if m.kind == "alert"] == [(a.sms_urn, "sms")]


async def test_a_page_still_retrying_goes_the_other_way_too(desk, db):
    a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001", chat="7001")
    desk.channels["telegram"].down = "transient"
    sent = await _danger_in_tirane(desk)
    assert [m for m in sent if m.kind == "alert"] == []  # the first try failed, to retry later
    sent = await desk.tick()  # the sweep does not wait for the sender's backoff
    assert [(m.urn, m.channel) for m in sent if m.kind == "alert"] == [(a.sms_urn, "sms")]
    desk.channels["telegram"].down = None
    # The SMS copy was delivered, so Telegram's retry stops: no second page once it recovers.
    sent = await desk.tick(timedelta(minutes=1))
    assert [m for m in sent if m.kind == "alert"] == []
    async with db.uow() as uow:  # a passing failure does not turn Telegram off for her
        assert (await uow.coordinators.get(a.id)).failing_channel is None


async def test_a_channel_that_is_off_falls_back(desk):
    a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001", chat="7001")
    del desk.sender.channels["telegram"]  # no Telegram bot configured
    await _danger_in_tirane(desk)
    sent = await desk.tick()
    assert [(m.urn, m.channel) for m in sent if m.kind == "alert"] == [(a.sms_urn, "sms")]


async def test_a_page_that_fails_everywhere_escalates_at_once(desk, db):
    await desk.add_coordinator("Arta", "tirane", chat="7001")
    n = await desk.add_coordinator("Nora", "national", phone="+355692220009")
    desk.channels["telegram"].down = "unreachable"
    sent = await _danger_in_tirane(desk)
    assert [m for m in sent if m.kind == "alert"] == []
    sent = await desk.tick()  # no waiting for the acknowledgement timeout
    [alert] = [m for m in sent if m.kind == "alert"]
    assert alert.urn == n.sms_urn
    _, events = await _events(db, ref_in([alert.text]))
    assert [e.data["step"] for e in events if e.kind == "alerted"] == [1, 2]


async def test_not_urgent_cases_wait_for_working_hours_as_one_digest(desk, db):
    a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001", duty=None)
    desk.clock.advance(timedelta(hours=13))  # Monday 22:00 UTC, 23:00 in Tirana
    for n, urn in enumerate(("tel:+355691110002", "tel:+355691110003")):
        await desk.say("hi", urn)
        await desk.say("Tirana", urn)
        sent = await desk.say("jo", urn)  # no shelter; a coordinator is requested, not urgent
        assert desk.to(a.sms_urn, sent) == [], n
    assert await desk.tick(timedelta(hours=9, minutes=59)) == []  # Tuesday 08:59 local
    sent = await desk.tick(timedelta(minutes=1))  # 09:00
    [digest] = desk.to(a.sms_urn, sent)
    lines = digest.split("\n")
    assert lines[0] == "Raste të reja, jo urgjente (2):"
    assert all(re.fullmatch(r"R-[0-9A-Z]{4,}: Tiranë, rrezik pa vlerësuar", x) for x in lines[1:3])
    assert lines[3].startswith("Për të marrë një rast")
    assert await desk.tick(timedelta(hours=1)) == []  # sent once
    ref = lines[1].split(":")[0]
    sent = await desk.say(f"OK {ref}", a.sms_urn)
    assert desk.to(a.sms_urn, sent)[0].startswith(f"{ref} është i yti.")
    sent = await desk.say("OK", a.sms_urn)  # the other one is the only one left
    assert desk.to(a.sms_urn, sent)[0].startswith(lines[2].split(":")[0])


async def test_a_digest_waits_for_the_start_of_a_shift(desk):
    a = await desk.add_coordinator("Arta", "tirane", phone="+355692220001", duty=None)
    async with desk.db.uow() as uow:  # nights only: 20:00 to 08:00 local, every day
        await uow.coordinators.add_shift(
            a.id, kind="weekly", tz="Europe/Tirane", now=desk.clock(),
            days=range(7), start_time="20:00", end_time="08:00",
        )  # fmt: skip
        await uow.commit()
    await desk.say("hi")
    await desk.say("Tirana")
    await desk.say("jo")  # Monday 10:00 local
    assert await desk.tick(timedelta(hours=9, minutes=59)) == []  # 19:59
    sent = await desk.tick(timedelta(minutes=1))  # 20:00
    assert desk.to(a.sms_urn, sent)[0].startswith("Raste të reja, jo urgjente (1):")


async def test_accepting_a_case_not_sent_to_you_is_refused(desk):
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    d = await desk.add_coordinator("Dea", "durres", phone="+355692220005")
    sent = await _danger_in_tirane(desk)
    ref = ref_in([m.text for m in sent if m.kind == "alert"])
    sent = await desk.say(f"OK {ref}", d.sms_urn)
    assert desk.to(d.sms_urn, sent) == [f"Rasti {ref} nuk është i disponueshëm për ty."]
    sent = await desk.say("OK R-0000", d.sms_urn)
    assert desk.to(d.sms_urn, sent) == ["Rasti R-0000 nuk është i disponueshëm për ty."]
    sent = await desk.say("OK", d.sms_urn)
    assert desk.to(d.sms_urn, sent) == ["S'ke asnjë rast në pritje."]


async def test_accepting_while_the_person_writes_never_deadlocks(desk, db):
    """The person's message changes the case while a coordinator takes it (PostgreSQL locks)."""
    n = await desk.add_coordinator("Nora", "national", phone="+355692220009")
    for k in range(8):
        urn = f"tel:+35569111{k:04d}"
        await desk.say("hi", urn)
        sent = await desk.say("SOS", urn)  # municipality not known yet: the national duty
        ref = ref_in([m.text for m in sent if m.urn == n.sms_urn])
        handled = await asyncio.gather(
            desk.pipeline.receive(desk.inbound(f"OK {ref}", n.sms_urn)),
            desk.pipeline.receive(desk.inbound("Tirana", urn)),  # sets the case's municipality
        )
        assert [h.status for h in handled] == ["processed", "processed"]
        sent = await desk.drain()
        assert "sys.error" not in [m.text for m in sent]
        async with db.uow() as uow:
            case = await uow.cases.get_by_reference(ref)
        assert (case.status, case.municipality) == ("accepted", "tirane")


async def test_a_page_sent_again_or_a_reminder_still_says_why_it_is_urgent(desk):
    # Walkthrough: the first page of a danger case said "in danger now"; the page to the next
    # step and the reminder said "no red flags noted", so whoever took it over read it as calm.
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    b = await desk.add_coordinator("Blerta", "tirane", phone="+355692220002", role="backup")
    first = [m for m in await _danger_in_tirane(desk) if m.kind == "alert"]
    assert "Shenja: në rrezik tani." in first[0].text
    [again] = [m for m in await desk.tick(ACK) if m.kind == "alert"]
    assert again.urn == b.sms_urn and "Shenja: në rrezik tani." in again.text
    reminders = [m for m in await desk.tick(ACK) if m.kind == "alert"]
    assert len(reminders) == 2
    assert all("KUJTESË" in m.text and "Shenja: në rrezik tani." in m.text for m in reminders)
