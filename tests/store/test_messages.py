"""Messages: duplicates dropped (also under races), outbound linked to the outbox, statuses."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

URN = "telegram:123456789"
MESSAGE_OF_OUTBOX = sa.text(
    "SELECT external_id, status, segments, error FROM messages WHERE outbox_id = :id"
)


async def _contact(db, now) -> int:
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "telegram", now)
        await uow.commit()
    return contact.id


async def test_a_duplicate_inbound_is_dropped(db, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        assert not await uow.messages.seen("telegram", "u1")
        first = await uow.messages.add_inbound(cid, "telegram", "u1", "ndihmë", now)
        assert isinstance(first, int)
        assert await uow.messages.add_inbound(cid, "telegram", "u1", "ndihmë", now) is None
        assert await uow.messages.seen("telegram", "u1")
        # The same id on another channel is another message.
        assert await uow.messages.add_inbound(cid, "sms", "u1", "x", now) is not None
        assert not await uow.messages.seen("simulator", "u1")
        await uow.commit()
    async with db.uow() as uow:
        assert [t for _, t, _ in await uow.messages.list_for_contact(cid)] == ["ndihmë", "x"]


async def test_concurrent_duplicates_store_one_message(db, now):
    cid = await _contact(db, now)

    async def deliver() -> int | None:
        async with db.uow() as uow:
            message_id = await uow.messages.add_inbound(cid, "telegram", "dup", "hello", now)
            await uow.commit()
            return message_id

    results = await asyncio.gather(*(deliver() for _ in range(6)))
    assert sum(r is not None for r in results) == 1


async def test_messages_without_external_id_are_never_duplicates(db, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        assert await uow.messages.add_inbound(cid, "simulator", None, "a", now) is not None
        assert await uow.messages.add_inbound(cid, "simulator", None, "a", now) is not None
        assert not await uow.messages.seen("simulator", None)


async def test_list_for_contact_gives_the_latest_oldest_first(db, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        for i in range(5):
            at = now + timedelta(seconds=i)
            await uow.messages.add_inbound(cid, "telegram", f"m{i}", f"in {i}", at)
            await uow.messages.add_outbound(cid, "telegram", f"out {i}", at, None)
        await uow.commit()
    async with db.uow() as uow:
        latest = await uow.messages.list_for_contact(cid, limit=3)
    assert [(d, t) for d, t, _ in latest] == [("out", "out 3"), ("in", "in 4"), ("out", "out 4")]
    assert latest[-1][2] == now + timedelta(seconds=4)


async def test_delivery_status_reaches_the_outbound_message(db, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        outbox_id = await uow.outbox.add(
            contact_id=cid, channel="sms", urn=URN, text="hi", due_at=now, now=now
        )
        await uow.messages.add_outbound(cid, "sms", "hi", now, outbox_id)
        await uow.outbox.mark_sent(outbox_id, external_id="SM42", segments=1, now=now)
        await uow.messages.set_status("sms", "SM42", "delivered")
        await uow.messages.set_status("sms", "SM-unknown", "failed", "30003")
        await uow.commit()
    async with db.uow() as uow:
        row = (await uow.conn.execute(MESSAGE_OF_OUTBOX, {"id": outbox_id})).one()
    assert (row.external_id, row.status, row.segments, row.error) == ("SM42", "delivered", 1, None)


async def test_a_provider_id_seen_before_does_not_break_sending(db, now):
    """Some providers number messages per chat: a repeated id must not fail mark_sent."""
    cid = await _contact(db, now)
    async with db.uow() as uow:
        ids = []
        for _ in range(2):
            oid = await uow.outbox.add(
                contact_id=cid, channel="telegram", urn=URN, text="t", due_at=now, now=now
            )
            await uow.messages.add_outbound(cid, "telegram", "t", now, oid)
            await uow.outbox.mark_sent(oid, external_id="7", segments=None, now=now)
            ids.append(oid)
        await uow.commit()
    async with db.uow() as uow:
        rows = [(await uow.conn.execute(MESSAGE_OF_OUTBOX, {"id": i})).one() for i in ids]
    assert [(r.external_id, r.status) for r in rows] == [("7", "sent"), (None, "sent")]
