"""Referral repositories on SQLite and PostgreSQL: coordinators, shifts, alerts, audit, services."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.store import driver
from bot.store.models import AuditRow, CoordinatorRow
from bot.store.records import Service
from bot.store.repos import alerts as alerts_repo
from bot.store.repos import coordinators as coordinators_repo
from bot.store.repositories import DuplicateContact
from tests.store.same_sql import both, same

PHONE = "+355692220001"


async def _coordinator(uow, now, name="Arta", phone=PHONE, chat=None, place="tirane", **kw):
    return await uow.coordinators.add(
        name=name,
        municipality=place,
        phone=phone,
        telegram_chat_id=chat,
        language=kw.get("language", "sq"),
        role=kw.get("role", "coordinator"),
        now=now,
    )


async def _case(uow, now, urn="tel:+355691110001"):
    contact, _ = await uow.contacts.get_or_create(urn, "sms", now)
    return await uow.cases.open(contact.id, now)


async def test_coordinators_are_encrypted_and_found_by_either_urn(db, now):
    async with db.uow() as uow:
        added = await _coordinator(uow, now, chat="5001")
        await uow.commit()
    assert (added.name, added.phone, added.telegram_chat_id) == ("Arta", PHONE, "5001")
    assert (added.sms_urn, added.telegram_urn) == (f"tel:{PHONE}", "telegram:5001")
    async with db.uow() as uow:
        assert await uow.coordinators.find_by_urn(f"tel:{PHONE}") == added
        assert await uow.coordinators.find_by_urn("telegram:5001") == added
        assert await uow.coordinators.find_by_urn("tel:+355690000000") is None
        raw = (await uow.conn.execute(sa.select(CoordinatorRow.__table__))).one()
    stored = b"".join(v for v in raw if isinstance(v, bytes))
    assert b"Arta" not in stored and PHONE.encode() not in stored and b"5001" not in stored
    assert PHONE not in str(raw.phone_hash)


async def test_a_number_belongs_to_one_active_coordinator(db, now):
    async with db.uow() as uow:
        first = await _coordinator(uow, now)
        with pytest.raises(DuplicateContact, match=f"coordinator {first.id}"):
            await _coordinator(uow, now, name="Other")
        with pytest.raises(ValueError, match="phone number or a Telegram"):
            await _coordinator(uow, now, phone=None)
        with pytest.raises(ValueError, match="role"):
            await _coordinator(uow, now, phone="+355692220002", role="boss")
        await uow.commit()


async def test_removal_forgets_contact_details_and_shifts_but_keeps_the_name(db, now):
    async with db.uow() as uow:
        c = await _coordinator(uow, now)
        await uow.coordinators.add_shift(c.id, kind="always", tz="Europe/Tirane", now=now)
        assert await uow.coordinators.remove(c.id, now)
        assert not await uow.coordinators.remove(c.id, now)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.coordinators.find_by_urn(f"tel:{PHONE}") is None
        gone = await uow.coordinators.get(c.id)
        assert (gone.name, gone.phone, gone.active) == ("Arta", None, False)
        assert await uow.coordinators.shifts([c.id]) == []
        assert await uow.coordinators.list_all() == []
        assert [x.id for x in await uow.coordinators.list_all(include_removed=True)] == [c.id]
        again = await _coordinator(uow, now, name="Arta 2")  # the number can come back
        await uow.commit()
    assert again.id != c.id


async def test_shifts(db, now):
    async with db.uow() as uow:
        c = await _coordinator(uow, now)
        always = await uow.coordinators.add_shift(c.id, kind="always", tz="Europe/Tirane", now=now)
        window = await uow.coordinators.add_shift(
            c.id, kind="window", tz="Europe/Tirane", now=now,
            starts_at=now, ends_at=now + timedelta(hours=8),
        )  # fmt: skip
        weekly = await uow.coordinators.add_shift(
            c.id, kind="weekly", tz="Europe/Belgrade", now=now,
            days=[4, 0, 0], start_time="22:00", end_time="06:00",
        )  # fmt: skip
        with pytest.raises(ValueError, match="window"):
            await uow.coordinators.add_shift(
                c.id, kind="window", tz="Europe/Tirane", now=now, starts_at=now, ends_at=now
            )
        with pytest.raises(ValueError, match="weekly"):
            await uow.coordinators.add_shift(c.id, kind="weekly", tz="Europe/Tirane", now=now)
        with pytest.raises(LookupError):
            await uow.coordinators.add_shift(999, kind="always", tz="Europe/Tirane", now=now)
        await uow.commit()
    async with db.uow() as uow:
        shifts = await uow.coordinators.shifts([c.id])
        assert shifts == [always, window, weekly]
        assert weekly.days == (0, 4) and weekly.tz == "Europe/Belgrade"
        assert window.ends_at - window.starts_at == timedelta(hours=8)
        assert await uow.coordinators.remove_shift(window.id)
        assert not await uow.coordinators.remove_shift(window.id)
        await uow.commit()


async def test_alerts_stats_settle_and_waiting(db, now):
    async with db.uow() as uow:
        a = await _coordinator(uow, now)
        b = await _coordinator(uow, now, name="Blerta", phone="+355692220002")
        case = await _case(uow, now)
        old = now - timedelta(hours=30)
        for at in (old, now - timedelta(hours=2), now):
            await uow.alerts.add(
                case_id=case.id, coordinator_id=a.id, kind="page", state="info", due_at=at, now=at
            )
        await uow.alerts.add(
            case_id=case.id, coordinator_id=a.id, kind="relay", state="info", due_at=now, now=now
        )
        await uow.alerts.add(
            case_id=case.id, coordinator_id=b.id, kind="page", state="waiting", due_at=now, now=now
        )
        await uow.alerts.add(
            case_id=case.id, coordinator_id=a.id, kind="page", state="waiting", due_at=now, now=now
        )
        await uow.commit()
    async with db.uow() as uow:
        stats = await uow.alerts.page_stats([a.id, b.id, 999], now - timedelta(hours=24))
        assert stats == {a.id: (3, now), b.id: (1, now), 999: (0, None)}
        [waiting] = await uow.alerts.waiting_for(b.id)
        assert (waiting.reference, waiting.case_status) == (case.reference, "new")
        assert await uow.alerts.accept(case.id, a.id, now)
        assert not await uow.alerts.accept(case.id, b.id, now)
        assert await uow.alerts.settle(case.id, a.id, now) == [b.id]
        await uow.commit()
    async with db.uow() as uow:
        states = {(x.coordinator_id, x.state) for x in await uow.alerts.for_case(case.id)}
        assert (b.id, "taken") in states and (a.id, "accepted") in states
        assert await uow.alerts.waiting_for(b.id) == []
        assignment = await uow.alerts.assignment(case.id)
        assert (assignment.coordinator_id, assignment.relay_until, assignment.quiet) == (
            a.id,
            None,
            False,
        )
        assert (await uow.cases.get(case.id)).status == "accepted"


async def test_digest_entries_are_claimed_once_when_due(db, now):
    async with db.uow() as uow:
        a = await _coordinator(uow, now)
        case = await _case(uow, now)
        due = now + timedelta(hours=1)
        await uow.alerts.add(
            case_id=case.id, coordinator_id=a.id, kind="digest", state="queued", due_at=due, now=now
        )
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.alerts.claim_due_digests(now) == []
        [claimed] = await uow.alerts.claim_due_digests(due)
        assert await uow.alerts.claim_due_digests(due) == []
        await uow.commit()
    assert (claimed.state, claimed.sent_at, claimed.reference) == ("waiting", due, case.reference)


async def test_failed_messages_are_claimed_for_the_other_channel_once(db, now):
    async with db.uow() as uow:
        a = await _coordinator(uow, now, chat="5001")
        case = await _case(uow, now)
        ids = []
        for _ in range(2):
            outbox_id = await uow.outbox.add(
                contact_id=None,
                channel="telegram",
                urn="telegram:5001",
                text="URGENT",
                buttons=[{"label": "OK", "value": "OK R-1"}],
                kind="alert",
                due_at=now,
                now=now,
            )
            ids.append(
                await uow.alerts.add(
                    case_id=case.id,
                    coordinator_id=a.id,
                    kind="page",
                    state="waiting",
                    due_at=now,
                    now=now,
                    channel="telegram",
                    outbox_id=outbox_id,
                )
            )
        await uow.outbox.mark_failed(outbox_id, error="403", now=now)
        await uow.commit()
    async with db.uow() as uow:
        [failed] = await uow.alerts.claim_failed(now)
        assert failed.id == ids[1]
        assert await uow.alerts.claim_failed(now) == []
        assert await uow.alerts.message_of(outbox_id) == (
            "URGENT",
            [{"label": "OK", "value": "OK R-1"}],
            "failed",
        )
        assert [x.id for x in await uow.alerts.dead_pages(now)] == [ids[1]]
        await uow.outbox.mark_sent(outbox_id, external_id="tg-77", segments=1, now=now)
        assert await uow.alerts.case_of_message(a.id, "telegram", "tg-77") == case.id
        assert await uow.alerts.case_of_message(a.id, "telegram", "tg-78") is None
        await uow.commit()


async def test_relays_follow_the_case_and_its_person(db, now):
    async with db.uow() as uow:
        a = await _coordinator(uow, now)
        case = await _case(uow, now)
        await uow.alerts.accept(case.id, a.id, now)
        assert await uow.alerts.relay_for_contact(case.contact_id, now) is None
        await uow.alerts.set_relay(case.id, until=now + timedelta(hours=24))
        assert (await uow.alerts.relay_for_contact(case.contact_id, now)).case_id == case.id
        assert await uow.alerts.relay_for_contact(case.contact_id, now + timedelta(days=2)) is None
        await uow.alerts.set_relay(case.id, quiet=True)
        assert [x.quiet for x in await uow.alerts.assignments_for_contact(case.contact_id)] == [
            True
        ]
        assert [(r, s) for _, r, s in await uow.alerts.open_cases_of(a.id)] == [
            (case.reference, "accepted")
        ]
        assert await uow.alerts.change_status(case.id, ("accepted",), "closed", now)
        assert await uow.alerts.relay_for_contact(case.contact_id, now) is None  # closed
        assert await uow.alerts.open_cases_of(a.id) == []
        assert (await uow.cases.get(case.id)).closed_at == now
        await uow.commit()


async def test_audit_entries_are_encrypted_and_survive_erasure(db, now):
    async with db.uow() as uow:
        a = await _coordinator(uow, now)
        case = await _case(uow, now)
        await uow.audit.add(
            "number_revealed", now=now, coordinator_id=a.id, case_id=case.id, data={"x": "secret"}
        )
        await uow.contacts.erase(case.contact_id, now)
        await uow.commit()
    async with db.uow() as uow:
        [entry] = await uow.audit.list_all(case_id=case.id)
        raw = (await uow.conn.execute(sa.select(AuditRow.__table__.c.data_enc))).scalar_one()
    assert (entry.action, entry.coordinator_id, entry.data) == (
        "number_revealed",
        a.id,
        {"x": "secret"},
    )
    assert b"secret" not in raw


async def test_services_are_replaced_as_a_whole_in_order(db, now):
    items = [
        Service("AL", "shkoder", "shelter", "Streha", "022 1", "24/7", None, ("has",)),
        Service("AL", "national", "police", "Policia", "129"),
        Service("XK", "national", "legal", "Mbrojtësit", "0800 11112", notes="toll free"),
    ]
    async with db.uow() as uow:
        await uow.services.replace_all(items)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.services.list_all() == items
        assert await uow.services.list_all(kind="police") == [items[1]]
        await uow.services.replace_all(items[:1])
        assert await uow.services.list_all() == items[:1]
        await uow.commit()


async def test_statements_on_the_driver_give_what_sqlalchemy_gives(db, now):
    """A request for a coordinator reads the roster and the case's alerts on the driver."""
    async with db.uow() as uow:
        a = await _coordinator(uow, now)
        b = await _coordinator(uow, now, name="Blerta", phone="+355692220002", place="durres")
        gone = await _coordinator(uow, now, name="Drita", phone="+355692220003")
        await uow.coordinators.remove(gone.id, now)
        demo = await uow.coordinators.add(
            name="Demo", municipality="tirane", phone=None, telegram_chat_id=None, language="sq",
            role="coordinator", now=now, demo=True,
        )  # fmt: skip
        case = await _case(uow, now)
        for who, kind in ((a, "page"), (b, "digest"), (a, "relay")):
            await uow.alerts.add(
                case_id=case.id,
                coordinator_id=who.id,
                kind=kind,
                state="waiting",
                due_at=now,
                now=now,
            )
        await uow.coordinators.add_shift(a.id, kind="always", tz="Europe/Tirane", now=now)
        await uow.coordinators.add_shift(b.id, kind="always", tz="Europe/Tirane", now=now)
        await uow.coordinators.add_shift(a.id, kind="always", tz="Europe/Belgrade", now=now)
        ids3 = {"id0": a.id, "id1": b.id, "id2": gone.id}
        later = now + timedelta(hours=1)
        for prepared, params in (
            (alerts_repo.FOR_CASE, {"of_case": case.id}),
            (alerts_repo.FOR_CASE, {"of_case": case.id + 100}),
            (coordinators_repo.ROSTER[False], {}),
            (coordinators_repo.ROSTER[True], {}),
            (alerts_repo._page_stats(3), ids3 | {"since": now - timedelta(hours=1)}),
            (alerts_repo._page_stats(3), ids3 | {"since": later}),
            (alerts_repo._page_stats(1), {"id0": b.id, "since": now}),
            (coordinators_repo._by_ids(coordinators_repo.coordinators, "id", 3), ids3),
            (coordinators_repo._by_ids(coordinators_repo.shifts, "coordinator_id", 3), ids3),
            (
                coordinators_repo._by_ids(coordinators_repo.shifts, "coordinator_id", 1),
                {"id0": 999},
            ),
            (
                alerts_repo._change_status(("new", "alerted")),
                {"of_id": case.id, "status": "closed", "updated_at": later, "closed_at": later},
            ),
            (
                alerts_repo._change_status(("accepted",)),
                {"of_id": case.id, "status": "referred", "updated_at": later},
            ),
        ):
            same(*await both(uow.conn, prepared, params))
        alert = {"case_id": case.id, "coordinator_id": a.id, "kind": "page", "step": 1}
        alert |= {"state": "waiting", "channel": "sms", "outbox_id": None, "due_at": now}
        alert |= {"created_at": now, "sent_at": None}
        same(*await both(uow.conn, alerts_repo.ADD_ALERT, alert), ignore=("id",))
        # And through the repositories: what they read is what was written.
        assert await uow.alerts.page_stats([b.id, a.id], now - timedelta(hours=1)) == {
            a.id: (1, now),
            b.id: (0, None),
        }
        shifts = await uow.coordinators.shifts([b.id, a.id, a.id])
        assert [(s.coordinator_id, s.tz) for s in shifts] == [
            (a.id, "Europe/Tirane"),
            (b.id, "Europe/Tirane"),
            (a.id, "Europe/Belgrade"),
        ]
        assert sorted(await uow.coordinators.get_many([b.id, a.id, 999])) == [a.id, b.id]
        assert await uow.alerts.change_status(case.id, ["new"], "alerted", now)
        assert not await uow.alerts.change_status(case.id, ["new"], "accepted", now)
        assert (await uow.cases.get(case.id)).status == "alerted"
        assert await uow.coordinators.roster() == [
            (a.id, "tirane", "coordinator"),
            (b.id, "durres", "coordinator"),
        ]
        assert await uow.coordinators.roster(demo=True) == [(demo.id, "tirane", "coordinator")]
        assert [x.kind for x in await uow.alerts.for_case(case.id)] == ["page", "digest", "relay"]
        seen: list[str] = []
        driver.observers.append(seen.append)
        try:
            assert await uow.coordinators.shifts([]) == []  # nothing asked: no statement
        finally:
            driver.observers.remove(seen.append)
        assert seen == []
        await uow.commit()
