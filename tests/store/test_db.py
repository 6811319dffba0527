"""The database and its unit of work: transactions, SQLite settings, ping, times in UTC."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.store.db import Database, async_url

URN = "tel:+355691234567"


async def test_dialect_and_ping(db):
    assert db.dialect in ("sqlite", "postgresql")
    assert await db.ping() is True


async def test_ping_answers_while_a_unit_of_work_is_writing(db, now):
    async with db.uow() as uow:
        await uow.contacts.get_or_create(URN, "sms", now)
        assert await db.ping() is True
        await uow.commit()


async def test_ping_is_false_when_the_server_is_not_there(crypto):
    nowhere = Database("postgresql://postgres@127.0.0.1:1/none", crypto)
    try:
        assert await nowhere.ping() is False
    finally:
        await nowhere.dispose()


async def test_work_not_committed_is_rolled_back(db, now):
    async with db.uow() as uow:
        await uow.contacts.get_or_create(URN, "sms", now)
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is None
        await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is not None


async def test_an_exception_rolls_back_and_propagates(db, now):
    with pytest.raises(KeyError):
        async with db.uow() as uow:
            await uow.contacts.get_or_create(URN, "sms", now)
            raise KeyError("boom")
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is None


async def test_times_come_back_aware_utc_whatever_zone_went_in(db, now):
    tirane = timezone(timedelta(hours=1))
    local = now.astimezone(tirane)
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", local)
        await uow.commit()
    async with db.uow() as uow:
        stored = await uow.contacts.get(contact.id)
    assert stored.created_at == now
    assert stored.created_at.utcoffset() == timedelta(0)


async def test_naive_times_are_refused(db, now):
    async with db.uow() as uow:
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            await uow.contacts.get_or_create(URN, "sms", now.replace(tzinfo=None))


async def test_sqlite_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path, crypto):
    path = tmp_path / "new" / "dir" / "h.db"
    database = Database(f"sqlite:///{path}", crypto)
    try:
        async with database.engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}")  # noqa: E731
            assert (await pragma("journal_mode")).scalar() == "wal"
            assert (await pragma("foreign_keys")).scalar() == 1
            assert (await pragma("busy_timeout")).scalar() >= 1000
        assert path.parent.is_dir()
    finally:
        await database.dispose()


async def test_a_nested_unit_of_work_on_sqlite_fails_instead_of_deadlocking(db):
    if db.dialect != "sqlite":
        pytest.skip("only SQLite serialises units of work")
    async with db.uow():
        with pytest.raises(RuntimeError, match="already open"):
            async with db.uow():
                pass
    async with db.uow() as uow:  # the lock was released
        assert await uow.contacts.get(1) is None


def test_urls_get_the_async_drivers():
    assert async_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert async_url("postgresql://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert async_url("sqlite:///var/h.db") == "sqlite+aiosqlite:///var/h.db"
    assert async_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"


def test_storage_failures_are_told_apart_from_other_errors() -> None:
    import sqlite3

    import asyncpg

    from bot.store.db import storage_failure

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    assert storage_failure(full) == "the disk is full"
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = asyncpg.exceptions.DiskFullError("could not extend file")
    assert storage_failure(wrapped) == "the database server's disk is full"
    assert storage_failure(asyncpg.exceptions.ReadOnlySQLTransactionError("ro")) == (
        "the database is read-only"
    )
    assert storage_failure(asyncpg.exceptions.UniqueViolationError("dup")) is None
    assert storage_failure(ValueError("x")) is None


async def test_errors_never_carry_the_statements_values(db, now):
    secret = "+355699999999 she said this"
    async with db.uow() as uow:
        with pytest.raises(sa.exc.DBAPIError) as caught:
            # An id that cannot be: the database refuses, and SQLAlchemy describes the error.
            await uow.conn.execute(
                sa.text("INSERT INTO audit_log (id, at, action, data_enc) VALUES (1, :at, :a, :d)"),
                [{"at": now, "a": secret, "d": b"x"}, {"at": now, "a": secret, "d": b"x"}],
            )
    assert secret not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)


@pytest.mark.parametrize("idle", [True, False])
async def test_postgres_pings_only_an_idle_connection_and_replaces_a_dead_one(
    db, now, monkeypatch, idle
):
    """A pooled connection that sat idle is pinged at checkout, and one the server dropped is
    replaced before a unit of work gets it; one in steady use is not pinged at all."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only (SQLite has no server to lose)")
    import asyncpg

    from bot.store import db as db_module
    from tests.store.fixtures import PG_HOST, PG_PORT, PG_USER

    pings: list[int] = []
    original = db.engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return original(dbapi_connection)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
    async with db.uow() as uow:
        pid = (await uow.conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
    async with db.uow() as uow:  # used a moment ago: not pinged
        assert (await uow.conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one() == pid
    assert pings == []
    if not idle:
        return
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        # With a timeout it returns once the backend is gone (PostgreSQL 14+).
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
    finally:
        await admin.close()
    monkeypatch.setattr(db_module, "PING_IDLE_SECONDS", 0.0)  # every connection counts as idle
    async with db.uow() as uow:
        _, created = await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    assert created and pings


async def test_a_cancelled_unit_of_work_is_rolled_back_and_the_next_one_goes_on(db, now):
    started = asyncio.Event()

    async def write_then_wait() -> None:
        async with db.uow() as uow:
            await uow.contacts.get_or_create(URN, "sms", now)
            started.set()
            await asyncio.Event().wait()  # cancelled here, before any commit

    task = asyncio.create_task(write_then_wait())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.uow() as uow:  # on SQLite the write lock was released too
        assert await uow.contacts.find_by_urn(URN) is None
        await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is not None


async def test_core_statements_after_a_commit_run_in_a_new_transaction(db, now):
    """After uow.commit() the next statement, through SQLAlchemy or the driver, begins again:
    the exit's rollback undoes it."""
    insert = sa.text("INSERT INTO audit_log (at, action, data_enc) VALUES (:at, :a, :d)")
    async with db.uow() as uow:
        await uow.conn.execute(insert, {"at": now, "a": "kept", "d": b"x"})
        await uow.commit()
        await uow.conn.execute(insert, {"at": now, "a": "undone", "d": b"x"})
        await uow.audit.add("undone too", now=now)
    async with db.uow() as uow:
        rows = await uow.conn.execute(sa.text("SELECT action FROM audit_log"))
        assert list(rows.scalars()) == ["kept"]


async def test_units_of_work_reuse_a_connection_and_sqlalchemy_events_still_see_commits(db, now):
    """One checkout from SQLAlchemy's pool serves unit after unit (its cost was most of a unit
    of work's); SQLAlchemy's commit and rollback listeners still hear of each transaction."""
    checkouts: list[int] = []
    seen: list[str] = []
    listeners = [
        ("checkout", lambda *_: checkouts.append(1)),
        ("commit", lambda _conn: seen.append("commit")),
        ("rollback", lambda _conn: seen.append("rollback")),
    ]
    for name, fn in listeners:
        sa.event.listen(db.engine.sync_engine, name, fn)
    try:
        for i in range(3):
            async with db.uow() as uow:
                await uow.contacts.get_or_create(f"tel:+35569000000{i}", "sms", now)
                if i != 1:
                    await uow.commit()
        async with db.uow():
            pass  # nothing ran: nothing to commit or roll back
    finally:
        for name, fn in listeners:
            sa.event.remove(db.engine.sync_engine, name, fn)
    assert len(checkouts) <= 1  # none when the fixture's connection was still idle
    assert seen == ["commit", "rollback", "commit"]


async def test_sqlite_begins_with_one_statement_and_keeps_no_busy_timeout_toggle(db, now):
    """A unit of work's transaction on SQLite is BEGIN IMMEDIATE, its statements, COMMIT:
    no PRAGMA busy_timeout around each BEGIN (two statements of every unit of work before)."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with db.uow() as uow:  # the first unit of work takes the connection into use
        await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    async with db.uow() as uow:
        raw = (await uow.conn.get_raw_connection()).driver_connection.sqlite
        ran: list[str] = []
        raw.set_trace_callback(ran.append)
        try:
            assert await uow.contacts.find_by_urn(URN) is not None
            await uow.commit()
        finally:
            raw.set_trace_callback(None)
    assert ran[0] == "BEGIN IMMEDIATE" and ran[-1] == "COMMIT"
    assert not [s for s in ran if "PRAGMA" in s.upper()]


async def test_postgres_replaces_a_connection_lost_in_steady_use(db, now):
    """A connection the units of work keep (not idle, so not pinged) dies: the unit of work
    that finds out fails, and the next one runs on a new connection."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only (SQLite has no server to lose)")
    import asyncpg

    from tests.store.fixtures import PG_HOST, PG_PORT, PG_USER

    pid_of = sa.text("SELECT pg_backend_pid()")
    async with db.uow() as uow:
        pid = (await uow.conn.execute(pid_of)).scalar_one()
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
    finally:
        await admin.close()
    with pytest.raises(sa.exc.DBAPIError) as caught:
        async with db.uow() as uow:
            await uow.contacts.get_or_create(URN, "sms", now)
    assert caught.value.connection_invalidated
    async with db.uow() as uow:
        assert (await uow.conn.execute(pid_of)).scalar_one() != pid
        await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is not None


async def test_postgres_ping_answers_when_units_of_work_keep_every_pooled_connection(db):
    """The units of work keep the connections they used; /healthz's ping takes one of those
    rather than wait for the pool, which they may have emptied."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only (SQLite's ping has a connection of its own)")
    from bot.store.db import POOL_SIZE

    opened = asyncio.Event()
    count = 0

    async def hold() -> None:
        nonlocal count
        async with db.uow() as uow:
            await uow.conn.execute(sa.text("SELECT 1"))
            count += 1
            if count == POOL_SIZE:
                opened.set()
            await opened.wait()

    await asyncio.gather(*(hold() for _ in range(POOL_SIZE)))
    assert await db.ping() is True


async def test_more_units_of_work_at_once_than_the_pool_has_connections_all_run(db, now):
    """Beyond POOL_SIZE at once, a unit of work waits for a connection another gives back
    (it waited in SQLAlchemy's pool for its 30 s timeout while the others kept them)."""
    from bot.store.db import POOL_SIZE

    async def one(i: int) -> None:
        async with db.uow() as uow:
            await uow.contacts.get_or_create(f"tel:+3556900{i:05d}", "sms", now)
            await asyncio.sleep(0)  # a turn of the loop: the others start meanwhile
            await uow.commit()

    await asyncio.gather(*(one(i) for i in range(3 * POOL_SIZE)))
    async with db.uow() as uow:
        count = await uow.conn.execute(sa.text("SELECT count(*) FROM contacts"))
        assert count.scalar_one() == 3 * POOL_SIZE


async def test_a_unit_of_work_cancelled_while_waiting_for_a_connection_takes_none(db, monkeypatch):
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only (SQLite's units of work wait for the write lock first)")
    from bot.store import db as db_module

    monkeypatch.setattr(db_module, "POOL_SIZE", 1)
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with db.uow() as uow:
            await uow.conn.execute(sa.text("SELECT 1"))
            held.set()
            await release.wait()

    async def waiter() -> None:
        async with db.uow():
            pass

    first = asyncio.create_task(holder())
    await held.wait()
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # a turn of the loop: it queues for the one connection
    assert len(db._waiting) == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await first
    async with db.uow() as uow:  # the connection given back went to no one cancelled
        assert (await uow.conn.execute(sa.text("SELECT 1"))).scalar_one() == 1
    assert db._leases == 1 and not db._waiting


async def test_postgres_sessions_end_abandoned_transactions_and_notice_lost_clients(db, now):
    """A transaction left open by a stuck or killed process must not hold its locks forever
    (a worker's start-up waited behind one): the server ends it, and notices a client gone."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only (SQLite's locks go with the process)")
    async with db.uow() as uow:
        show = sa.text("SELECT current_setting(:name)")
        idle = await uow.conn.execute(show, {"name": "idle_in_transaction_session_timeout"})
        check = await uow.conn.execute(show, {"name": "client_connection_check_interval"})
        assert (idle.scalar_one(), check.scalar_one()) == ("1min", "5s")
