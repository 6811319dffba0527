"""Several workers: one contact's message, timer or check-in is processed one at a time."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from bot.store.db import Database
from tests.store.fixtures import crypto, db, db_url, now, postgres_url, sqlite_template  # noqa: F401

URN = "tel:+355691110055"


async def test_a_locked_get_waits_for_the_worker_processing_her_message(db, crypto, now):
    if db.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    other = Database(db.url, crypto)  # another worker: its own connections
    try:
        async with db.uow() as uow:  # she wrote before
            await uow.contacts.get_or_create(URN, "sms", now)
            await uow.commit()
        async with db.uow() as first:
            contact, _ = await first.contacts.get_or_create(URN, "sms", now)  # her message
            async with other.uow() as second:
                # No waiting in a test: a lock that cannot be had at once fails at once.
                await second.conn.execute(sa.text("SET LOCAL lock_timeout = '50ms'"))
                assert (await second.contacts.get(contact.id)) is not None  # reading is free
                with pytest.raises(DBAPIError, match="lock"):
                    await second.contacts.get(contact.id, lock=True)
            await first.commit()
        async with other.uow() as second:
            await second.conn.execute(sa.text("SET LOCAL lock_timeout = '50ms'"))
            locked = await second.contacts.get(contact.id, lock=True)  # her turn is over
            assert locked is not None and locked.urn == URN
            with pytest.raises(DBAPIError, match="lock"):
                async with db.uow() as third:  # and now a new message of hers waits
                    await third.conn.execute(sa.text("SET LOCAL lock_timeout = '50ms'"))
                    await third.contacts.get_or_create(URN, "sms", now)
    finally:
        await other.dispose()


async def test_a_stamping_arrival_holds_her_lock_as_the_look_up_does(db, crypto, now):
    """Her message's look-up that sets her last-seen time (an UPDATE) locks her row until its
    transaction ends, as the SELECT ... FOR NO KEY UPDATE it replaced."""
    if db.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    other = Database(db.url, crypto)
    try:
        async with db.uow() as uow:
            contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
            await uow.commit()
        async with db.uow() as first:
            arrival = await first.contacts.arrive(URN, "sms", now, stamp=True, external_id="SM9")
            assert arrival.seen_now and arrival.contact.id == contact.id
            async with other.uow() as second:
                await second.conn.execute(sa.text("SET LOCAL lock_timeout = '50ms'"))
                assert (await second.contacts.get(contact.id)) is not None  # reading is free
                with pytest.raises(DBAPIError, match="lock"):
                    await second.contacts.get(contact.id, lock=True)
            await first.rollback()
    finally:
        await other.dispose()
