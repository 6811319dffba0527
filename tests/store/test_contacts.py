"""Contacts: race-safe creation, lookups by hash only, no plain URN at rest, flags and fields."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.store.db import Database
from bot.store.models import ContactRow, MessageRow, OutboxRow
from bot.store.repos import contacts as contacts_repo
from tests.store.same_sql import both, same

URN = "tel:+355691234567"
DIGITS = "355691234567"


async def test_get_or_create_creates_once(db, now):
    async with db.uow() as uow:
        first, created = await uow.contacts.get_or_create(URN, "sms", now)
        again, created_again = await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    assert (created, created_again) == (True, False)
    assert first == again
    assert (first.urn, first.channel, first.language, first.fields) == (URN, "sms", None, {})
    assert (first.opted_out, first.unreachable) == (False, False)
    assert first.created_at == first.last_seen_at == now


async def test_concurrent_get_or_create_makes_one_contact(db, now):
    async def one() -> tuple[int, bool]:
        async with db.uow() as uow:
            contact, created = await uow.contacts.get_or_create(URN, "sms", now)
            await uow.commit()
            return contact.id, created

    results = await asyncio.gather(*(one() for _ in range(8)))
    assert len({cid for cid, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_get_or_create_locks_the_contact_until_commit_on_postgres(db, now):
    if db.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole units of work")
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    locked = sa.text("SELECT id FROM contacts WHERE id = :id FOR UPDATE NOWAIT")
    async with db.uow() as holder:
        await holder.contacts.get_or_create(URN, "sms", now)
        async with db.engine.connect() as other:
            with pytest.raises(sa.exc.DBAPIError, match="could not obtain lock"):
                await other.execute(locked, {"id": contact.id})
        await holder.commit()
    async with db.engine.connect() as other:
        assert (await other.execute(locked, {"id": contact.id})).scalar() == contact.id


async def test_find_get_and_updates(db, now):
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        assert await uow.contacts.find_by_urn("tel:+355690000000") is None
        await uow.contacts.set_language(contact.id, "sq")
        await uow.contacts.set_fields(contact.id, {"municipality": "tirane", "children": 2})
        await uow.contacts.set_fields(contact.id, {"municipality": "durres"})
        await uow.contacts.set_flags(contact.id, opted_out=True)
        await uow.contacts.set_flags(contact.id, unreachable=True)
        await uow.contacts.set_flags(contact.id, opted_out=False)
        await uow.contacts.touch(contact.id, now + timedelta(minutes=3))
        await uow.commit()
    async with db.uow() as uow:
        found = await uow.contacts.find_by_urn(URN)
        assert found == await uow.contacts.get(contact.id)
        assert await uow.contacts.get(contact.id + 100) is None
    assert found.language == "sq"
    assert found.fields == {"municipality": "durres"}
    assert (found.opted_out, found.unreachable) == (False, True)
    assert found.last_seen_at == now + timedelta(minutes=3)
    assert found.created_at == now


async def _stored_bytes(db: Database) -> bytes:
    """Everything the database holds about contacts and messages, as raw bytes."""
    if db.dialect == "sqlite":
        await db.dispose()  # checkpoint the WAL into the file
        path = Path(make_url(db.url).database)
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    chunks: list[bytes] = []
    async with db.engine.connect() as conn:
        for table in (ContactRow, MessageRow, OutboxRow):
            for row in await conn.execute(sa.select(table.__table__)):
                for value in row:
                    chunks.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(chunks)


async def test_no_plain_urn_or_text_is_stored(db, crypto, now):
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        await uow.contacts.set_fields(contact.id, {"place": "Shkodër"})
        await uow.messages.add_inbound(contact.id, "sms", "SM1", "më rreh burri", now)
        await uow.outbox.add(
            contact_id=contact.id, channel="sms", urn=URN, text="Ndihmë", due_at=now, now=now
        )
        await uow.commit()
    raw = await _stored_bytes(db)
    assert crypto.lookup_hash(URN).encode() in raw  # the dump holds the rows
    for plain in (URN, DIGITS, "rreh burri", "Shkod", "Ndihm"):
        assert plain.encode() not in raw, plain


async def test_statements_on_the_driver_give_what_sqlalchemy_gives(db, now):
    """Her updates and the look-up by id run on the driver (bot/store/driver.py)."""
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        gone, _ = await uow.contacts.get_or_create("tel:+355690000009", "sms", now)
        await uow.contacts.erase(gone.id, now)
        fields = uow.contacts.crypto.encrypt_json({"municipality": "tirane"})
        runs: list[tuple[Any, dict[str, Any]]] = [
            (contacts_repo.UPDATE_BY_ID, {"of_id": contact.id, "language": "en"}),
            (contacts_repo.UPDATE_BY_ID, {"of_id": contact.id, "language": None}),
            (contacts_repo.UPDATE_BY_ID, {"of_id": contact.id, "fields_enc": fields}),
            (
                contacts_repo.UPDATE_BY_ID,
                {"of_id": contact.id, "opted_out": True, "unreachable": False},
            ),
            (contacts_repo.UPDATE_BY_ID, {"of_id": contact.id + 100, "language": "sq"}),
            (contacts_repo.BY_ID, {"of_id": contact.id}),
            (contacts_repo.BY_ID, {"of_id": gone.id}),
            (contacts_repo.LOCKED_BY_ID, {"of_id": contact.id}),
            (contacts_repo.LOCKED_BY_ID, {"of_id": contact.id + 100}),
        ]
        for prepared, params in runs:
            same(*await both(uow.conn, prepared, params))
        # And what they wrote is read back as written.
        await uow.contacts.set_fields(contact.id, {"municipality": "vlore", "n": 2})
        await uow.contacts.set_language(contact.id, "en")
        await uow.contacts.set_flags(contact.id, unreachable=True)
        found = await uow.contacts.get(contact.id, lock=True)
        assert found is not None
        assert (found.fields, found.language, found.unreachable) == (
            {"municipality": "vlore", "n": 2},
            "en",
            True,
        )
        assert await uow.contacts.get(gone.id) is None
        await uow.commit()
