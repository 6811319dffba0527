"""Cases: unique short references, updates of known columns only, consent, events."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.store.models import CaseRow
from bot.store.repos import cases as cases_repo
from bot.store.repositories import CaseRepo
from tests.store.same_sql import both, same


async def _contact(db, now) -> int:
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create("tel:+355681112233", "sms", now)
        await uow.commit()
    return contact.id


async def test_open_gives_a_new_case_with_a_reference_and_an_opened_event(db, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        case = await uow.cases.open(cid, now)
        await uow.commit()
    # Issue 14: 8 characters of Crockford's base 32, not 4 digits anyone can walk through.
    assert re.fullmatch(r"R-[0-9ABCDEFGHJKMNPQRSTVWXYZ]{8}", case.reference)
    assert (case.contact_id, case.status, case.urgency, case.flags, case.consent) == (
        cid,
        "new",
        "normal",
        (),
        {},
    )
    assert (case.created_at, case.updated_at, case.closed_at) == (now, now, None)
    async with db.uow() as uow:
        assert await uow.cases.get(case.id) == case
        assert await uow.cases.get_by_reference(case.reference.lower()) == case
        assert await uow.cases.get_by_reference("R-0000x") is None
        [event] = await uow.cases.events(case.id)
    assert (event.kind, event.data, event.at) == ("opened", {"reference": case.reference}, now)


async def test_references_are_unique(db, now):
    async with db.uow() as uow:
        refs = [(await uow.cases.open(None, now)).reference for _ in range(150)]
        await uow.commit()
    assert len(set(refs)) == len(refs)


async def test_repeated_collisions_make_references_longer(db, now, monkeypatch):
    monkeypatch.setattr(CaseRepo, "randbelow", staticmethod(lambda n: 7))
    async with db.uow() as uow:
        first = await uow.cases.open(None, now)
        second = await uow.cases.open(None, now)  # 3 collisions at 8, then 9 characters
        third = await uow.cases.open(None, now, prefix="K")
        await uow.commit()
    refs = (first.reference, second.reference, third.reference)
    assert refs == ("R-77777777", "R-777777777", "K-77777777")


async def test_old_four_digit_references_still_resolve_and_misread_letters_are_read(db, now):
    async with db.uow() as uow:
        old = await uow.cases.open(None, now)
        await uow.conn.execute(
            sa.update(CaseRow.__table__)
            .where(CaseRow.__table__.c.id == old.id)
            .values(reference="R-4821")
        )
        new = await uow.cases.open(None, now)
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.cases.get_by_reference("r-4821")).id == old.id
        # O for 0, I and L for 1: the alphabet has none of them, so they can only mean those.
        typed = new.reference.replace("0", "o").replace("1", "l")
        assert (await uow.cases.get_by_reference(typed)).id == new.id


async def test_a_case_of_a_simulator_contact_is_simulated(db, now):
    async with db.uow() as uow:
        sim, _ = await uow.contacts.get_or_create("sim:abcdefghijklmnopqrstuv", "simulator", now)
        real, _ = await uow.contacts.get_or_create("tel:+355681112233", "sms", now)
        cases = [await uow.cases.open(c, now) for c in (sim.id, real.id, None)]
        await uow.commit()
    assert [c.simulated for c in cases] == [True, False, False]


async def test_update_changes_known_columns_and_refuses_others(db, now):
    cid = await _contact(db, now)
    later = now + timedelta(minutes=5)
    async with db.uow() as uow:
        case = await uow.cases.open(cid, now)
        updated = await uow.cases.update(
            case.id,
            later,
            municipality="shkoder",
            urgency="urgent",
            risk_level="high",
            risk_score=17,
            flags=["weapon", "strangled", "weapon"],
            reporter="witness",
            category="physical_assault",
        )
        assert updated.updated_at == later
        with pytest.raises(ValueError, match="phone"):
            await uow.cases.update(case.id, later, phone="+355")
        with pytest.raises(ValueError, match="urgency"):
            await uow.cases.update(case.id, later, urgency="panic")
        await uow.commit()
    assert (updated.municipality, updated.urgency, updated.risk_level) == (
        "shkoder",
        "urgent",
        "high",
    )
    assert (updated.risk_score, updated.flags) == (17, ("weapon", "strangled"))
    assert (updated.reporter, updated.category) == ("witness", "physical_assault")
    async with db.uow() as uow:
        assert await uow.cases.get(case.id) == updated


async def test_open_for_contact_is_the_latest_open_case(db, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        assert await uow.cases.open_for_contact(cid) is None
        older = await uow.cases.open(cid, now)
        newer = await uow.cases.open(cid, now + timedelta(hours=1))
        assert (await uow.cases.open_for_contact(cid)).id == newer.id
        closed = await uow.cases.update(newer.id, now + timedelta(hours=2), status="closed")
        assert closed.closed_at == now + timedelta(hours=2)
        assert (await uow.cases.open_for_contact(cid)).id == older.id
        await uow.commit()


async def test_consent_per_service_and_events_in_order(db, now):
    async with db.uow() as uow:
        case = await uow.cases.open(None, now)
        await uow.cases.set_consent(case.id, "police", False, now)
        await uow.cases.set_consent(case.id, "shelter", True, now)
        await uow.cases.set_consent(case.id, "police", True, now + timedelta(seconds=1))
        await uow.cases.add_event(case.id, "note", {"text": "called back"}, now + timedelta(1))
        await uow.cases.add_event(case.id, "consent", {"service": "police"}, now)
        await uow.commit()
    async with db.uow() as uow:
        stored = await uow.cases.get(case.id)
        events = await uow.cases.events(case.id)
    assert stored.consent == {"police": True, "shelter": True}
    assert [e.kind for e in events] == ["opened", "consent", "note"]
    assert events[-1].data == {"text": "called back"}
    assert all(e.case_id == case.id for e in events)


async def test_statements_on_the_driver_give_what_sqlalchemy_gives(db, now):
    """A case's opening, updates, consent and events run on the driver (bot/store/driver.py)."""
    cid = await _contact(db, now)
    later = now + timedelta(minutes=5)
    async with db.uow() as uow:
        case = await uow.cases.open(cid, now)
        await uow.cases.set_consent(case.id, "police", True, now)
        new_case = {
            "reference": "R-TESTTEST",
            "contact_id": cid,
            "urgency": "normal",
            "flags": [],
            "status": "new",
            "consent": {},
            "created_at": now,
            "updated_at": now,
            "simulated": False,
        }
        runs: list[tuple[Any, dict[str, Any]]] = [
            (cases_repo.CHANNEL_OF_CONTACT, {"of_contact": cid}),
            (cases_repo.CHANNEL_OF_CONTACT, {"of_contact": cid + 100}),
            (cases_repo.CASE_BY_ID, {"of_id": case.id}),
            (cases_repo.CASE_BY_ID, {"of_id": case.id + 100}),
            (cases_repo.CONSENT_OF_CASE, {"of_id": case.id}),
            (
                cases_repo.UPDATE_CASE,
                {"of_id": case.id, "updated_at": later, "flags": ["weapon", "ç"]}
                | {"municipality": "shkoder", "risk_score": 17, "risk_level": None},
            ),
            (
                cases_repo.UPDATE_CASE,
                {"of_id": case.id, "updated_at": later, "status": "closed", "closed_at": later},
            ),
            (
                cases_repo.UPDATE_CASE,
                {"of_id": case.id, "updated_at": later, "consent": {"police": False}},
            ),
            (cases_repo.UPDATE_CASE, {"of_id": case.id + 100, "updated_at": later}),
        ]
        for prepared, params in runs:
            same(*await both(uow.conn, prepared, params))
        # New rows: the same but for the id (sequences do not roll back on PostgreSQL).
        inserts: list[tuple[Any, dict[str, Any]]] = [
            (cases_repo.OPEN_CASE[db.dialect], new_case),
            (cases_repo.OPEN_CASE[db.dialect], new_case | {"reference": case.reference}),
            (
                cases_repo.ADD_EVENT,
                {"case_id": case.id, "at": now, "kind": "note", "data_enc": b"x"},
            ),
        ]
        for prepared, params in inserts:
            same(*await both(uow.conn, prepared, params), ignore=("id",))
        await uow.commit()


async def test_an_unknown_case_is_a_lookup_error(db, now):
    async with db.uow() as uow:
        with pytest.raises(LookupError):
            await uow.cases.update(12345, now, urgency="urgent")
        with pytest.raises(LookupError):
            await uow.cases.set_consent(12345, "police", True, now)
        assert await uow.cases.get(12345) is None


async def test_open_and_update_give_the_case_as_stored(db, now):
    """open() and update() give the row their statement returned: what a read gives after."""
    cid = await _contact(db, now)
    async with db.uow() as uow:
        opened = await uow.cases.open(cid, now)
        assert await uow.cases.get(opened.id) == opened
        await uow.cases.set_consent(opened.id, "shelter", True, now)
        updated = await uow.cases.update(opened.id, now, flags=["weapon"], urgency="urgent")
        assert updated.consent == {"shelter": True}
        assert await uow.cases.get(opened.id) == updated
        await uow.commit()
