"""What a message's first statements read at once (issue 19), on SQLite and PostgreSQL: whether a
coordinator writes from the address comes with the contact (ContactRepo.arrive), and her waiting
session, open case and held replies in one statement (ContactRepo.standing); each the same as
the separate look-ups it replaces."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.safe_times import HELD
from bot.store.db import Database, UnitOfWork
from bot.store.records import Standing
from bot.store.repos.outbox import REPLY_HOLD_MAX
from tests.store.fixtures import statements_seen

ARTA, BENI, CELA, DEMO_PHONE = "+355692220001", "+355692220002", "+355692220003", "+355692220004"


async def _coordinators(uow: UnitOfWork, now: Any) -> dict[str, int]:
    def add(name: str, phone: str | None, chat: str | None = None, **kw: Any) -> Any:
        return uow.coordinators.add(
            name=name,
            municipality="tirane",
            phone=phone,
            telegram_chat_id=chat,
            language="sq",
            role="coordinator",
            now=now,
            **kw,
        )

    arta = await add("Arta", ARTA, "5001")
    beni = await add("Beni", BENI, whatsapp=True)
    cela = await add("Cela", CELA)
    await uow.coordinators.remove(cela.id, now)  # removed: no longer one
    demo = await add("DEMO", None, demo=True)  # the simulator's coordinator phone
    demo_phone = await add("DEMO 2", DEMO_PHONE, demo=True)
    return {"arta": arta.id, "beni": beni.id, "demo": demo.id, "demo_phone": demo_phone.id}


async def test_arrival_says_whether_a_coordinator_writes_as_find_by_urn_does(db, now):
    """Every kind of address, new and known: `coordinator` is False exactly when find_by_urn
    finds nobody (the simulator's coordinator phone, found by id, is always looked at)."""
    async with db.uow() as uow:
        ids = await _coordinators(uow, now)
        await uow.commit()
    demo_urn = f"sim:demo-coordinator-{ids['demo']:06d}"
    urns = {
        f"tel:{ARTA}": ids["arta"],
        "telegram:5001": ids["arta"],
        f"whatsapp:{ARTA}": ids["arta"],  # their phone, whether or not alerts go there
        f"tel:{BENI}": ids["beni"],
        f"whatsapp:{BENI}": ids["beni"],
        f"telegram:{ARTA}": None,  # a chat is not a phone
        "telegram:+5001": None,
        f"tel:{CELA}": None,  # removed
        f"whatsapp:{CELA}": None,
        # A demo row's number could be anybody's: whoever writes from it is not a coordinator.
        f"tel:{DEMO_PHONE}": None,
        f"whatsapp:{DEMO_PHONE}": None,
        demo_urn: ids["demo"],
        f"sim:demo-coordinator-{ids['arta']:06d}": None,  # a real one is never the demo phone
        "sim:demo-coordinator-999999": None,
        "sim:demo-coordinator-x": None,
        "tel:+355690000000": None,
        "sim:test1": None,
    }
    for round_ in ("new", "known"):
        async with db.uow() as uow:
            for urn, expected in urns.items():
                arrival = await uow.contacts.arrive(urn, urn.partition(":")[0], now)
                assert arrival.created is (round_ == "new"), urn
                found = await uow.coordinators.find_by_urn(urn)
                assert (found.id if found is not None else None) == expected, urn
                if urn.startswith("sim:demo-coordinator-"):
                    assert arrival.coordinator is True, urn  # looked up by id
                else:
                    assert arrival.coordinator is (expected is not None), (urn, round_)
                contact, created = await uow.contacts.get_or_create(urn, "sms", now)
                assert (contact, created) == (arrival.contact, False)
            await uow.commit()


async def test_a_stamping_arrival_answers_the_same_and_stamps_people_only(db, now):
    """Her message's arrival (stamp: one UPDATE, contacts.SEEN_BY_HASH) says what the look-up
    says for every kind of address, and sets last_seen_at for people only: a coordinator's
    address (the simulator's coordinator phone too) keeps it for the touch after its command."""
    async with db.uow() as uow:
        ids = await _coordinators(uow, now)
        await uow.commit()
    urns = [
        f"tel:{ARTA}",
        "telegram:5001",
        f"whatsapp:{ARTA}",
        f"whatsapp:{BENI}",
        f"telegram:{ARTA}",
        f"tel:{CELA}",
        f"tel:{DEMO_PHONE}",
        f"sim:demo-coordinator-{ids['demo']:06d}",
        f"sim:demo-coordinator-{ids['arta']:06d}",
        "tel:+355690000000",
        "sim:test1",
    ]
    async with db.uow() as uow:
        for urn in urns:
            await uow.contacts.arrive(urn, urn.partition(":")[0], now)
        await uow.commit()
    later = now + timedelta(minutes=7)
    async with db.uow() as uow:
        for urn in urns:
            channel = urn.partition(":")[0]
            looked = await uow.contacts.arrive(urn, channel, now)
            arrival = await uow.contacts.arrive(urn, channel, later, stamp=True, external_id="x1")
            assert (arrival.created, arrival.coordinator) == (False, looked.coordinator), urn
            found = await uow.contacts.find_by_urn(urn)
            assert found is not None and found.id == arrival.contact.id
            # A person's look-up set it (and says so); an address a coordinator may write from
            # is left for the touch at the end of its command.
            assert arrival.seen_now is (not looked.coordinator), urn
            assert found.last_seen_at == (now if looked.coordinator else later), urn
            assert arrival.contact.last_seen_at == found.last_seen_at
            assert arrival.contact == replace(looked.contact, last_seen_at=found.last_seen_at)
        await uow.commit()


async def test_a_repeat_leaves_last_seen_as_it_was(db, now):
    """A provider's retry (a message with this channel's id stored already) changes nothing; the
    same id on another channel, or no id, is a message of its own."""
    urn = "tel:+355690000008"
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(urn, "sms", now)
        await uow.messages.add_inbound(contact.id, "sms", "SM1", "hi", now)
        await uow.commit()
    for step, (channel, external_id, stamped) in enumerate(
        [
            ("sms", "SM1", False),
            ("whatsapp", "SM1", True),
            ("sms", "SM2", True),
            ("sms", None, True),
        ],
        start=1,
    ):
        later = now + timedelta(minutes=step)
        async with db.uow() as uow:
            arrival = await uow.contacts.arrive(
                urn, channel, later, stamp=True, external_id=external_id
            )
            found = await uow.contacts.find_by_urn(urn)
            await uow.rollback()
        assert found is not None
        assert arrival.seen_now is stamped, (channel, external_id)
        assert found.last_seen_at == (later if stamped else now), (channel, external_id)


async def test_a_coordinator_removed_or_added_changes_the_answer(db, now):
    async with db.uow() as uow:
        await uow.contacts.arrive(f"tel:{ARTA}", "sms", now)  # she wrote before being one
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.contacts.arrive(f"tel:{ARTA}", "sms", now)).coordinator is False
        arta = await uow.coordinators.add(
            name="Arta",
            municipality="tirane",
            phone=ARTA,
            telegram_chat_id=None,
            language="sq",
            role="coordinator",
            now=now,
        )
        assert (await uow.contacts.arrive(f"tel:{ARTA}", "sms", now)).coordinator is True
        await uow.coordinators.remove(arta.id, now)
        assert (await uow.contacts.arrive(f"tel:{ARTA}", "sms", now)).coordinator is False
        await uow.commit()


async def _separately(uow: UnitOfWork, contact_id: int, now: Any) -> Standing:
    """What the separate statements read: get_active, open_for_contact, and whether release
    moves anything (rolled back)."""
    session = await uow.sessions.get_active(contact_id)
    case = await uow.cases.open_for_contact(contact_id)
    async with uow.conn.begin_nested() as savepoint:
        moved = await uow.outbox.release(contact_id, now)
        await savepoint.rollback()
    return Standing(session, case, moved > 0)


async def _outbox(uow: UnitOfWork, contact_id: int, kind: str, due_at: Any, now: Any) -> int:
    return await uow.outbox.add(
        contact_id=contact_id, channel="sms", urn="tel:+1", text="x", kind=kind, due_at=due_at,
        now=now,
    )  # fmt: skip


async def test_standing_reads_what_the_separate_statements_read(db, now):
    later = now + timedelta(hours=1)
    async with db.uow() as uow:
        people = [
            (await uow.contacts.get_or_create(f"tel:+35569000000{i}", "sms", now))[0].id
            for i in range(7)
        ]
        _empty, ended, waiting, two_open, same_time, held, other = people
        # Ended sessions, a closed case, rows that go anyway: nothing found.
        await uow.sessions.save(ended, None, {"n": 1}, "ended", now)
        closed = await uow.cases.open(ended, later)
        await uow.cases.update(closed.id, later, status="closed")
        await _outbox(uow, ended, "reply", now, now)  # due now: not held
        await _outbox(uow, ended, "reply", now + REPLY_HOLD_MAX, now)  # the limiter's hold
        await _outbox(uow, ended, "alert", HELD, now)  # not hers
        sent = await _outbox(uow, ended, "followup", HELD, now)
        await uow.outbox.mark_sent(sent, external_id="SM1", segments=1, now=now)
        # Her waiting session beside an ended one; an open case.
        await uow.sessions.save(waiting, None, {"n": 2}, "ended", now)
        await uow.sessions.save(waiting, None, {"n": 3, "ë": "ç"}, "waiting", now)
        await uow.cases.open(waiting, now)
        # Two open cases: the latest; a newer closed one is not open.
        await uow.cases.open(two_open, now)
        newest_open = await uow.cases.open(two_open, now + timedelta(minutes=1))
        await uow.cases.update(newest_open.id, now, urgency="urgent", flags=["a"])
        newer_closed = await uow.cases.open(two_open, later)
        await uow.cases.update(newer_closed.id, later, status="closed")
        # Opened at the same moment: the higher id.
        await uow.cases.open(same_time, now)
        await uow.cases.open(same_time, now)
        # Held for her (a reply for her window, a check-in for her writing).
        await _outbox(uow, held, "reply", HELD, now)
        await _outbox(uow, held, "followup", now + REPLY_HOLD_MAX + timedelta(seconds=1), now)
        await uow.sessions.save(held, None, {"n": 4}, "waiting", now)
        # Another person's rows never show.
        await uow.sessions.save(other, None, {"n": 5}, "waiting", now)
        await uow.cases.open(other, now)
        await _outbox(uow, other, "reply", HELD, now)
        await uow.commit()
    async with db.uow() as uow:
        found = {p: await uow.contacts.standing(p, now) for p in people}
        expected = {p: await _separately(uow, p, now) for p in people}
        gone = await uow.contacts.standing(max(people) + 100, now)
    assert found == expected
    assert [(s.session is not None, s.case is not None, s.held) for s in found.values()] == [
        (False, False, False),
        (False, False, False),
        (True, True, False),
        (False, True, False),
        (False, True, False),
        (True, False, True),
        (True, True, True),
    ]
    assert found[waiting].session is not None and found[waiting].session.state["ë"] == "ç"
    latest = found[two_open].case
    assert latest is not None and (latest.id, latest.urgency, latest.flags) == (
        newest_open.id,
        "urgent",
        ("a",),
    )
    assert gone == Standing(None, None, False)


async def test_standing_is_one_statement_and_release_runs_only_when_held(db, now):
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create("tel:+355690000001", "sms", now)
        await uow.commit()
    async with db.uow() as uow:
        with statements_seen(db) as seen:
            await uow.contacts.standing(contact.id, now)
        assert len(seen) == 1
        assert "FROM contacts LEFT OUTER JOIN sessions" in seen[0]
        assert "FOR UPDATE" not in seen[0] and "FOR NO KEY UPDATE" not in seen[0]


@pytest.mark.parametrize("stamp", [False, True], ids=["look-up", "stamping look-up"])
async def test_a_session_committed_while_she_waited_for_her_lock_is_read(db, crypto, now, stamp):
    """PostgreSQL, READ COMMITTED: her next message waits for the worker processing her previous
    one (her row's lock); once that worker commits her session, her standing (a statement after
    the lock, never the locking one) reads it."""
    if db.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    from tests.store.fixtures import until_a_lock_wait

    urn = "tel:+355690000009"
    other = Database(db.url, crypto)  # another worker
    try:
        async with db.uow() as uow:
            contact, _ = await uow.contacts.get_or_create(urn, "sms", now)
            await uow.commit()
        holding, done = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with db.uow() as uow:
                await uow.contacts.arrive(urn, "sms", now)
                holding.set()
                await done.wait()
                await uow.sessions.save(contact.id, None, {"step": "asked"}, "waiting", now)
                await uow.cases.open(contact.id, now)
                await uow.commit()

        async def second() -> Standing:
            async with other.uow() as uow:
                later = now + timedelta(minutes=1)
                # Waits for the first (an UPDATE waits for her row's lock as the SELECT does).
                arrival = await uow.contacts.arrive(urn, "sms", later, stamp=stamp)
                assert arrival.seen_now is stamp
                return await uow.contacts.standing(contact.id, later)

        one = asyncio.create_task(first())
        await holding.wait()
        two = asyncio.create_task(second())
        await until_a_lock_wait(db, two)
        done.set()
        await one
        standing = await two
    finally:
        await other.dispose()
    assert standing.session is not None and standing.session.state == {"step": "asked"}
    assert standing.case is not None


async def test_standing_reads_her_rows_only_through_indexes(db, now):
    """SQLite's plan: her session by the partial index of waiting ones, her cases by contact in
    the order read (contact_id, created_at, id), her held rows by (contact_id, status, due_at);
    no table read whole, nothing sorted."""
    from bot.store.repos.contacts import STANDING

    if db.dialect != "sqlite":
        pytest.skip("SQLite's planner has no statistics to choose by; PostgreSQL's has")
    async with db.uow() as uow:
        dialect = uow.conn.sync_connection.dialect
        compiled = STANDING.compiled(dialect, frozenset({"of_contact", "held_after"}))
        args = tuple([1] * len(compiled.binds))
        plan = await uow.conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.sql, args)
        details = [row[3] for row in plan]
    joined = " | ".join(details)
    assert "uq_sessions_contact_id_waiting" in joined, joined
    assert "ix_outbox_contact_id_status_due_at (contact_id=? AND status=? AND due_at>?)" in joined
    assert "ix_cases_contact_id_created_at_id (contact_id=?)" in joined, joined
    assert not [d for d in details if d.startswith("SCAN")], joined
    # Her latest open case read in the index's order: no temporary B-tree a message.
    assert not [d for d in details if "TEMP B-TREE" in d], joined


async def test_a_stamping_arrival_reads_only_through_indexes(db, now):
    """SQLite's plan of her look-up that stamps her (contacts.SEEN_BY_HASH): her row by its
    hash, a coordinator by theirs, a repeat by the messages' unique key; no table read whole."""
    from bot.store.repos.contacts import SEEN_BY_HASH

    if db.dialect != "sqlite":
        pytest.skip("SQLite's planner has no statistics to choose by; PostgreSQL's has")
    names = {"of_hash", "phone_key", "chat_key", "seen_at", "of_channel", "of_external_id"}
    async with db.uow() as uow:
        dialect = uow.conn.sync_connection.dialect
        compiled = SEEN_BY_HASH.compiled(dialect, frozenset(names))
        args = tuple([1] * len(compiled.binds))
        plan = await uow.conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.sql, args)
        details = [row[3] for row in plan]
    joined = " | ".join(details)
    assert not [d for d in details if d.startswith("SCAN")], joined
    assert "(urn_hash=?)" in joined, joined
    assert "(phone_hash=?)" in joined and "(telegram_hash=?)" in joined, joined
    assert "(channel=? AND direction=? AND external_id=?)" in joined, joined


async def test_a_retry_racing_its_original_on_postgres_stamps_its_own_time(db, crypto, now):
    """The rare-path difference contacts.SEEN_BY_HASH names, pinned: on PostgreSQL a retry that
    waited for her lock while another worker stored its original does not see the original (a
    statement that waited reads other rows as of its start), so it stamps its own arrival; the
    insert after it still finds the repeat. Before, her last_seen_at stayed the original's."""
    if db.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    from tests.store.fixtures import until_a_lock_wait

    urn = "tel:+355690000010"
    other = Database(db.url, crypto)  # another worker
    retry_at = now + timedelta(seconds=2)
    try:
        async with db.uow() as uow:
            contact, _ = await uow.contacts.get_or_create(urn, "sms", now - timedelta(days=1))
            await uow.commit()
        holding, done = asyncio.Event(), asyncio.Event()

        async def original() -> None:
            async with db.uow() as uow:
                arrival = await uow.contacts.arrive(urn, "sms", now, stamp=True, external_id="SM5")
                assert arrival.seen_now
                assert await uow.messages.add_inbound(contact.id, "sms", "SM5", "hi", now)
                holding.set()
                await done.wait()
                await uow.commit()

        async def retry() -> tuple[bool, int | None]:
            async with other.uow() as uow:
                arrival = await uow.contacts.arrive(
                    urn, "sms", retry_at, stamp=True, external_id="SM5"
                )
                stored = await uow.messages.add_inbound(contact.id, "sms", "SM5", "hi", retry_at)
                await uow.commit()
                return arrival.seen_now, stored

        one = asyncio.create_task(original())
        await holding.wait()
        two = asyncio.create_task(retry())
        await until_a_lock_wait(db, two)
        done.set()
        await one
        assert await two == (True, None)  # stamped, and a repeat all the same
        async with db.uow() as uow:
            found = await uow.contacts.find_by_urn(urn)
        assert found is not None and found.last_seen_at == retry_at
    finally:
        await other.dispose()
