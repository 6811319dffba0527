"""Erasure: the person's data goes everywhere; cases keep anonymised figures only."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

URN = "tel:+355691234567"


async def _a_person_with_history(db, now) -> dict[str, int]:
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        cid = contact.id
        await uow.contacts.set_fields(cid, {"municipality": "tirane", "children": 2})
        await uow.contacts.set_language(cid, "sq")
        await uow.messages.add_inbound(cid, "sms", "SM1", "më rreh", now)
        sid = await uow.sessions.save(cid, None, {"results": {"x": 1}}, "waiting", now)
        await uow.fires.schedule(
            contact_id=cid, session_id=sid, kind="wait_timeout", due_at=now, seq=1, now=now
        )
        sent = await uow.outbox.add(
            contact_id=cid, channel="sms", urn=URN, text="a", due_at=now, now=now
        )
        await uow.messages.add_outbound(cid, "sms", "a", now, sent)
        await uow.outbox.mark_sent(sent, external_id="SMo1", segments=1, now=now)
        case = await uow.cases.open(cid, now)
        await uow.cases.update(
            case.id, now, municipality="tirane", urgency="urgent", flags=["weapon"]
        )
        await uow.cases.set_consent(case.id, "police", True, now)
        await uow.cases.add_event(case.id, "consent", {"service": "police", "given": True}, now)
        await uow.cases.add_event(case.id, "note", {"text": "lives with her sister"}, now)
        # Queued in the same transaction as the erasure, like the confirmation "your data is gone".
        pending = await uow.outbox.add(
            contact_id=cid, channel="sms", urn=URN, text="deleted", due_at=now, now=now
        )
        await uow.messages.add_outbound(cid, "sms", "deleted", now, pending)
        await uow.contacts.erase(cid, now + timedelta(minutes=1))
        await uow.commit()
    return {"contact": cid, "case": case.id, "pending": pending, "sent": sent}


async def _count(uow, sql: str, **params) -> int:
    return (await uow.conn.execute(sa.text(sql), params)).scalar_one()


async def test_erase_removes_personal_data_everywhere(db, now):
    ids = await _a_person_with_history(db, now)
    cid = ids["contact"]
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is None
        assert await uow.contacts.get(cid) is None
        assert await uow.messages.list_for_contact(cid) == []
        assert await uow.sessions.get_active(cid) is None
        assert await _count(uow, "SELECT count(*) FROM sessions WHERE contact_id = :c", c=cid) == 0
        assert await _count(uow, "SELECT count(*) FROM fires WHERE contact_id = :c", c=cid) == 0
        row = (
            await uow.conn.execute(
                sa.text(
                    "SELECT urn_enc, name_enc, fields_enc, language, erased_at, urn_hash "
                    "FROM contacts WHERE id = :c"
                ),
                {"c": cid},
            )
        ).one()
        assert (row.urn_enc, row.name_enc, row.fields_enc, row.language) == (None, None, None, None)
        assert row.erased_at is not None
        assert row.urn_hash != uow.contacts.crypto.lookup_hash(URN)
        # Only the row still to send stays, and it goes once sent.
        outbox_ids = (await uow.conn.execute(sa.text("SELECT id FROM outbox"))).scalars().all()
        assert outbox_ids == [ids["pending"]]
        [item] = await uow.outbox.claim_due(now, 10, timedelta(seconds=30), "sender")
        assert (item.urn, item.text) == (URN, "deleted")
        await uow.outbox.mark_sent(item.id, external_id="SMo2", segments=1, now=now)
        await uow.commit()
    async with db.uow() as uow:
        assert await _count(uow, "SELECT count(*) FROM outbox") == 0


async def test_erase_keeps_anonymised_case_figures(db, now):
    ids = await _a_person_with_history(db, now)
    async with db.uow() as uow:
        case = await uow.cases.get(ids["case"])
        events = {e.kind: e.data for e in await uow.cases.events(ids["case"])}
    assert case.contact_id is None
    assert (case.municipality, case.urgency, case.flags) == ("tirane", "urgent", ("weapon",))
    assert case.consent == {"police": True}
    # The coordinator's notes stay with the case: her safety needs them (issue 16).
    assert events["note"] == {"text": "lives with her sister"}
    assert events["consent"] == {"service": "police", "given": True}
    assert events["opened"] == {"reference": case.reference}


async def test_writing_again_after_erasure_makes_a_new_contact(db, now):
    ids = await _a_person_with_history(db, now)
    async with db.uow() as uow:
        contact, created = await uow.contacts.get_or_create(URN, "sms", now + timedelta(days=1))
        assert created and contact.id != ids["contact"]
        assert (contact.fields, contact.language) == ({}, None)
        assert await uow.cases.open_for_contact(contact.id) is None
        assert await uow.messages.add_inbound(contact.id, "sms", "SM1", "again", now) is not None
