"""Statements on the driver (bot/store/driver.py) on SQLite and PostgreSQL: the same rows as
SQLAlchemy for every column type, errors as SQLAlchemy raises them, savepoints honoured, and
nothing run outside the unit of work's transaction."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.engine.result import result_tuple
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import driver
from bot.store.db import Database, storage_failure
from bot.store.models import UTCDateTime
from bot.store.repos import alerts, base, cases, contacts, coordinators, messages, outbox, sessions
from bot.store.repos.fires import INSERT_FIRE, REPLACE_FIRE
from tests.store.same_sql import both, same

URN = "tel:+355690000001"

# Every column type the repositories read and write, nullable so NULL goes through too.
meta = sa.MetaData()
kinds = sa.Table(
    "driver_kinds",
    meta,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("small", sa.Integer),
    sa.Column("name", sa.String(64)),
    sa.Column("blob", sa.LargeBinary),
    sa.Column("flag", sa.Boolean),
    sa.Column("at", UTCDateTime()),
    sa.Column("doc", sa.JSON),
)
KIND_ROWS = [
    {
        "small": 7,
        "name": "Ëndërr",
        "blob": b"\x00\xffcipher",
        "flag": True,
        "at": datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC),
        "doc": {"a": [1, 2.5, None, "ç"], "b": {"c": False}},
    },
    {
        "small": None,
        "name": None,
        "blob": None,
        "flag": False,
        "at": datetime(2026, 1, 1, tzinfo=UTC),
        "doc": [],
    },
    {"small": 0, "name": "", "blob": b"", "flag": None, "at": None, "doc": None},
]
INSERT_KIND = driver.Prepared(sa.insert(kinds).returning(*kinds.c))
SELECT_KINDS = driver.Prepared(sa.select(kinds).order_by(kinds.c.id))
FLAGGED = driver.Prepared(
    sa.select(kinds.c.id, kinds.c.flag.label("on"), sa.func.count().over().label("n"))
    .where(kinds.c.flag.is_(True), kinds.c.name.in_(("x", "Ëndërr")))
    .order_by(kinds.c.id)
)


@pytest.fixture
async def kinds_table(db: Database) -> Any:
    """The driver_kinds table, dropped at the end (PostgreSQL's database is shared)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    yield kinds
    async with db.engine.begin() as conn:
        await conn.run_sync(meta.drop_all)


async def test_every_column_type_reads_and_writes_as_sqlalchemy_does(db, kinds_table):
    async with db.uow() as uow:
        written = [await INSERT_KIND.first(uow.conn, row) for row in KIND_ROWS]
        # What the driver wrote, SQLAlchemy reads back as it was given.
        read = (await uow.conn.execute(sa.select(kinds).order_by(kinds.c.id))).all()
        assert [dict(r._mapping) for r in written] == [dict(r._mapping) for r in read]
        for row, given in zip(read, KIND_ROWS, strict=True):
            assert {k: row._mapping[k] for k in given} == given
        # What SQLAlchemy wrote, the driver reads as SQLAlchemy does.
        await uow.conn.execute(sa.insert(kinds), KIND_ROWS)
        same(*await both(uow.conn, SELECT_KINDS))
        same(*await both(uow.conn, FLAGGED))
        await uow.commit()


async def test_values_the_statement_fixes_are_written_as_sqlalchemy_writes_them(db, kinds_table):
    """The statement's own values (bound once at compile time, processed then) of every
    type, with the caller's beside them; the same fixed value at every run."""
    fixed = dict(KIND_ROWS[0])
    given = {"small": sa.bindparam("n")}
    stmt = driver.Prepared(sa.insert(kinds).values(**(fixed | given)).returning(*kinds.c))
    async with db.uow() as uow:
        by_driver = [await stmt.first(uow.conn, {"n": n}) for n in (1, 2)]
        read = (await uow.conn.execute(sa.select(kinds).order_by(kinds.c.id))).all()
        assert [dict(r._mapping) for r in by_driver] == [dict(r._mapping) for r in read]
        for row, n in zip(read, (1, 2), strict=True):
            assert dict(row._mapping) == {"id": row.id} | fixed | {"small": n}
        same(*await both(uow.conn, stmt, {"n": 3}), ignore=["id"])
        # A value the statement fixes, given by the caller, is the caller's (as SQLAlchemy).
        other = await stmt.first(uow.conn, {"n": 4, "name": "tjetër"})
        assert other is not None and (other.small, other.name) == (4, "tjetër")
        await uow.commit()


async def test_hot_statements_give_what_sqlalchemy_gives(db, now):
    """The repositories' prebuilt statements, each run both ways on the same data."""
    later = now + timedelta(minutes=5)
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        session_id = await uow.sessions.save(contact.id, None, {"node": "a"}, "waiting", now)
        case = await uow.cases.open(contact.id, now)
        oid = await uow.outbox.add(
            contact_id=contact.id, channel="sms", urn=URN, text="hi", due_at=now, now=now
        )
        await uow.outbox.add(
            contact_id=contact.id, channel="sms", urn=URN, text="later", due_at=later, now=now
        )
        await uow.messages.add_outbound(contact.id, "sms", "hi", now, oid)
        # A pending timer to replace: a new row would take another id on PostgreSQL (sequences
        # do not roll back with the savepoint).
        await uow.fires.schedule(
            contact_id=contact.id, session_id=session_id, kind="timeout", due_at=now, seq=0, now=now
        )
        lookup = uow.contacts.crypto.lookup_hash(URN)
        dialect = db.dialect
        runs: list[tuple[driver.Prepared, dict[str, Any]]] = [
            (
                contacts.LOCKED_BY_HASH,
                {"of_hash": lookup, "phone_key": lookup, "chat_key": lookup},
            ),
            (contacts.LOCKED_BY_HASH, {"of_hash": lookup, "phone_key": None, "chat_key": None}),
            *(
                (
                    contacts.SEEN_BY_HASH,
                    {"of_hash": lookup, "phone_key": key, "chat_key": None, "seen_at": later}
                    | {"of_channel": channel, "of_external_id": external_id},
                )
                for key in (lookup, None)
                for channel, external_id in (("sms", "SM0"), ("sms", None), ("telegram", "SM0"))
            ),
            (contacts.STANDING, {"of_contact": contact.id, "held_after": now}),
            (contacts.STANDING, {"of_contact": contact.id + 1000, "held_after": now}),
            (contacts.TOUCH, {"of_id": contact.id, "last_seen_at": later}),
            (sessions.ACTIVE_OF_CONTACT, {"of_contact": contact.id}),
            (
                sessions.SAVE_SESSION,
                {"of_id": session_id, "of_contact": contact.id, "status": "ended"}
                | {"state_enc": b"x", "updated_at": later},
            ),
            (cases.OPEN_OF_CONTACT, {"of_contact": contact.id}),
            (alerts.ASSIGNMENTS_OF_CONTACT, {"of_contact": contact.id}),
            (coordinators.BY_URN, {"phone_key": lookup, "chat_key": lookup}),
            (coordinators.BY_URN, {"phone_key": lookup, "chat_key": None}),
            (outbox.RELEASE, {"of_contact": contact.id, "now": now, "held_after": now}),
            (outbox.MARK_SENT, {"oid": oid, "sid": "SM1", "n_segments": 1, "at": now}),
            (
                outbox.MARK_MESSAGE_SENT,
                {"oid": oid, "sid": "SM1", "n_segments": 1, "of_channel": "sms"},
            ),
            (
                base._claim(outbox.outbox, dialect, True),
                {"now": later, "n": 10, "until": later, "owner": "me"},
            ),
            (
                REPLACE_FIRE[dialect],
                {"contact_id": contact.id, "session_id": session_id, "kind": "timeout"}
                | {"due_at": later, "seq": 1, "status": "pending", "created_at": now}
                | {"payload": {"n": 1}},
            ),
        ]
        if dialect == "postgresql":  # an UPDATE in WITH: PostgreSQL's only
            mark = {"oid": oid, "sid": "SM1", "n_segments": 1, "at": now, "of_channel": "sms"}
            runs += [(outbox.MARK_SENT_WITH_MESSAGE[with_id], mark) for with_id in (True, False)]
        assert case.id
        for prepared, params in runs:
            by_sqlalchemy, by_driver = await both(uow.conn, prepared, params)
            same(by_sqlalchemy, by_driver)
        claimed = await base._claim(outbox.outbox, dialect, True).rows(
            uow.conn, {"now": later, "n": 1, "until": later, "owner": "me"}
        )
        assert [r.id for r in claimed] == [oid]  # the limit and the order hold


ROW_KEYS = [
    ("id", "contact_id", "status", "state_enc"),
    ("id", "case_id", "case_status", "held"),
    ("_private", "x", "min_1"),
    ("only",),
]


@pytest.mark.parametrize("keys", ROW_KEYS)
def test_a_driver_row_reads_as_sqlalchemys_row(keys):
    """driver.row_type's rows against SQLAlchemy's Row of the same names, on many values: by
    name, by position, slices, as a tuple and a mapping, equality, hash, what is not there."""
    ours, theirs = driver.row_type(keys), result_tuple(keys)
    values = [None, 0, 1, -7, "", "ç", b"\x00", 2.5, True, (1,), datetime(2026, 1, 1, tzinfo=UTC)]
    rng = random.Random(19)
    for _ in range(300):
        data = tuple(rng.choice(values) for _ in keys)
        mine, sa_row = ours(data), theirs(data)
        assert isinstance(mine, driver.Row) and not isinstance(mine, Row)
        assert mine._fields == sa_row._fields == keys
        for i, key in enumerate(keys):
            assert getattr(mine, key) is getattr(sa_row, key) is data[i]
            assert mine[i] is sa_row[i]
            assert mine[-1 - i] is sa_row[-1 - i]
        assert mine[1:] == sa_row[1:] and mine[:1] == sa_row[:1]
        assert tuple(mine) == tuple(sa_row) == data and list(mine) == list(sa_row)
        assert dict(mine._mapping) == dict(sa_row._mapping) == mine._asdict()
        assert mine == sa_row and mine == data and hash(mine) == hash(sa_row)
        assert len(mine) == len(sa_row) and repr(mine) == repr(sa_row)
        with pytest.raises(AttributeError):
            mine.not_a_column  # noqa: B018 - what a missing column does, as on Row
        with pytest.raises(AttributeError):
            sa_row.not_a_column  # noqa: B018
        with pytest.raises(AttributeError):
            mine.id2 = 1  # type: ignore[attr-defined]  # immutable, as Row


def test_names_a_tuple_cannot_give_are_sqlalchemys_row():
    """A name taken twice, or one SQLAlchemy's Row answers itself (count, t, _mapping...):
    SQLAlchemy's own Row, whose rules for them this does not mimic."""
    for keys in (("id", "id"), ("id", "count"), ("index",), ("t",), ("_mapping", "x")):
        row = driver.row_type(keys)((1,) * len(keys))
        assert isinstance(row, Row), keys


async def test_rowcount_is_what_the_statement_changed(db, now):
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        for text in ("a", "b"):
            await uow.outbox.add(
                contact_id=contact.id,
                channel="sms",
                urn=URN,
                text=text,
                kind="system",
                due_at=now + timedelta(hours=1),
                now=now,
            )
        assert await uow.outbox.release(contact.id, now) == 0  # "system" is not hers
        await uow.outbox.add(
            contact_id=contact.id,
            channel="sms",
            urn=URN,
            text="c",
            kind="followup",
            due_at=now + timedelta(hours=1),
            now=now,
        )
        assert await uow.outbox.release(contact.id, now) == 1


async def _error_of(call: Callable[[], Awaitable[Any]]) -> BaseException:
    with pytest.raises(Exception) as caught:
        await call()
    return caught.value


async def test_a_duplicate_is_an_integrity_error_as_with_sqlalchemy(db, now):
    """The error a caller catches (IntegrityError with the driver's error as .orig), and only
    the savepoint rolled back."""
    insert = driver.Prepared(sa.insert(messages.messages))
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        row = {
            "contact_id": contact.id,
            "channel": "sms",
            "direction": "in",
            "external_id": "SM1",
            "text_enc": b"t",
            "created_at": now,
        }
        await insert.execute(uow.conn, row)

        async def twice(run: Callable[[], Awaitable[Any]]) -> BaseException:
            async with uow.savepoint():
                return await _error_of(run)
            raise AssertionError("unreachable")

        by_sqlalchemy = await twice(lambda: uow.conn.execute(insert.statement, row))
        by_driver = await twice(lambda: insert.execute(uow.conn, row))
        assert isinstance(by_driver, sa.exc.IntegrityError)
        assert type(by_driver) is type(by_sqlalchemy)
        assert type(by_driver.orig) is type(by_sqlalchemy.orig)
        assert "SM1" not in str(by_driver)  # parameters hidden, as the engine hides them
        # The outer transaction goes on and keeps what came before.
        assert await uow.messages.seen("sms", "SM1")
        await uow.commit()


async def test_a_refused_value_is_a_statement_error_as_with_sqlalchemy(db, now):
    async with db.uow() as uow:
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            await contacts.TOUCH.execute(
                uow.conn, {"of_id": 1, "last_seen_at": now.replace(tzinfo=None)}
            )
        with pytest.raises(sa.exc.StatementError, match="required"):
            await contacts.TOUCH.execute(uow.conn, {"last_seen_at": now})


async def test_a_read_only_database_is_a_storage_failure(db, now):
    async with db.uow() as uow:
        await uow.contacts.get_or_create(URN, "sms", now)
        if db.dialect == "sqlite":
            await uow.conn.exec_driver_sql("PRAGMA query_only=ON")
        else:
            await uow.conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        try:
            error = await _error_of(lambda: uow.contacts.touch(1, now))
        finally:
            if db.dialect == "sqlite":
                await uow.conn.exec_driver_sql("PRAGMA query_only=OFF")
        assert isinstance(error, sa.exc.DBAPIError)
        assert storage_failure(error) == "the database is read-only"


async def test_a_statement_in_a_savepoint_is_rolled_back_with_it(db, now):
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    later = now + timedelta(hours=1)
    async with db.uow() as uow:
        async with uow.savepoint() as kept:
            await kept.contacts.touch(contact.id, later)
            await kept.commit()
        async with uow.savepoint() as undone:
            await undone.contacts.touch(contact.id, later + timedelta(hours=1))
            await undone.outbox.add(
                contact_id=contact.id, channel="sms", urn=URN, text="x", due_at=now, now=now
            )
        await uow.commit()
    async with db.uow() as uow:
        found = await uow.contacts.get(contact.id)
        assert found is not None and found.last_seen_at == later
        assert await uow.outbox.claim_due(later, 10, timedelta(minutes=1), "me") == []


async def in_transaction(conn: AsyncConnection) -> bool:
    """Whether the database's own transaction is open on a unit of work's connection (its
    SQLAlchemy transaction is bookkeeping, open throughout)."""
    raw = (await conn.get_raw_connection()).dbapi_connection
    if conn.dialect.name == "sqlite":
        return bool(raw.driver_connection.sqlite.in_transaction)
    return raw._transaction is not None


async def test_nothing_runs_outside_the_unit_of_works_transaction(db, now):
    """The driver's first statement, and one after a commit, are undone by a rollback: neither
    ran outside the transaction (autocommitted)."""
    async with db.uow() as uow:
        assert not await in_transaction(uow.conn)
        await uow.contacts.get_or_create(URN, "sms", now)  # first statement: on the driver
        assert await in_transaction(uow.conn)
        await uow.rollback()
        assert not await in_transaction(uow.conn)
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is None
        await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
        await uow.contacts.get_or_create("tel:+355690000002", "sms", now)  # after the commit
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is not None
        assert await uow.contacts.find_by_urn("tel:+355690000002") is None


async def test_sqlite_statements_run_on_the_connection_sqlalchemy_hands_out(db, now):
    """The driver finds the sqlite3 connection through the adapter's private members (cheaper
    than the pool's driver_connection property chain): the same one SQLAlchemy's public
    driver_connection gives, for as long as SQLAlchemy keeps them."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with db.uow() as uow:
        pooled = await uow.conn.get_raw_connection()
        assert pooled.dbapi_connection._connection is pooled.driver_connection
        assert pooled.driver_connection._conn is pooled.driver_connection.sqlite
        await uow.contacts.get_or_create(URN, "sms", now)  # on the driver
        assert pooled.driver_connection.sqlite.in_transaction


async def test_the_driver_reads_the_same_state_as_sqlalchemys_accessors(db, now):
    """Prepared statements read SQLAlchemy's and aiosqlite's attributes behind their accessors
    (Connection.in_transaction(), Connection.connection, aiosqlite's _conn): the same values,
    before and after a transaction begins, for as long as the libraries keep them."""

    def in_transaction(sync: sa.Connection) -> bool:
        transaction = sync._transaction  # as driver.Prepared._run reads it
        return transaction is not None and transaction.is_active

    async with db.engine.connect() as conn:  # a connection of SQLAlchemy's own
        sync = conn.sync_connection
        assert sync is not None
        assert in_transaction(sync) is sync.in_transaction() is False
        assert await driver.Prepared(sa.select(sa.literal(1))).scalar(conn) == 1  # it begins
        assert in_transaction(sync) is sync.in_transaction() is True
        assert sync._dbapi_connection is sync.connection
        await conn.rollback()
        assert in_transaction(sync) is sync.in_transaction() is False
    async with db.uow() as uow:
        sync = uow.conn.sync_connection
        assert sync is not None
        assert in_transaction(sync) is sync.in_transaction() is True
        assert sync._dbapi_connection is sync.connection
        if db.dialect == "sqlite":
            loop_connection = sync.connection.dbapi_connection._connection
            assert loop_connection._connection is loop_connection._conn
        await uow.contacts.get_or_create(URN, "sms", now)
        assert in_transaction(sync) is sync.in_transaction() is True


async def test_sqlite_a_statement_with_no_transaction_to_begin_is_refused(db, now):
    """A statement on a connection whose sqlite3 side is in no transaction, and that would not
    begin one (autobegin off), is refused: it never autocommits outside the unit of work."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with db.uow() as uow:
        loop_connection = (await uow.conn.get_raw_connection()).driver_connection
        assert not loop_connection.sqlite.in_transaction
        loop_connection.autobegin = None
        try:
            with pytest.raises(RuntimeError, match="no transaction open"):
                await uow.contacts.get_or_create(URN, "sms", now)
        finally:
            loop_connection.autobegin = "IMMEDIATE"
        assert not loop_connection.sqlite.in_transaction
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(URN) is None


@pytest.mark.postgres
async def test_postgres_reuses_the_adapters_prepared_statements(db, now):
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    async with db.uow() as uow:
        for _ in range(3):
            await uow.contacts.get_or_create(URN, "sms", now)
        adapter = (await uow.conn.get_raw_connection()).dbapi_connection
        names = frozenset({"of_hash", "phone_key", "chat_key"})
        compiled = contacts.LOCKED_BY_HASH.compiled(uow.conn.dialect, names)
        assert compiled.sql in adapter._prepared_statement_cache
        assert "FOR NO KEY UPDATE" in compiled.sql or "FOR KEY SHARE" in compiled.sql


def test_each_database_gets_its_own_sql():
    """ON CONFLICT, RETURNING and SKIP LOCKED as SQLAlchemy renders them for each database."""
    claim = base._claim(outbox.outbox, "postgresql", True)
    pg = claim.compiled(postgresql.asyncpg.dialect(), frozenset({"now", "n", "until", "owner"}))
    assert "SKIP LOCKED" in pg.sql and "$1" in pg.sql
    lite = base._claim(outbox.outbox, "sqlite", True)
    sq = lite.compiled(sqlite.aiosqlite.dialect(), frozenset({"now", "n", "until", "owner"}))
    assert "SKIP LOCKED" not in sq.sql and "?" in sq.sql and "RETURNING" in sq.sql


async def test_postgres_a_lost_connection_is_invalidated_as_sqlalchemy_does(db, now):
    """The server drops the connection mid-transaction: the statement fails as a DBAPIError
    saying so, and the pool never hands that connection out again."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    import asyncpg

    from tests.store.fixtures import PG_HOST, PG_PORT, PG_USER

    async with db.uow() as uow:
        pid = (await uow.conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER)
        try:
            # With a timeout it returns once the backend is gone (PostgreSQL 14+).
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
        finally:
            await admin.close()
        with pytest.raises(sa.exc.DBAPIError) as caught:
            await uow.contacts.get_or_create(URN, "sms", now)
        assert caught.value.connection_invalidated
    async with db.uow() as uow:  # a new connection, at once
        _, created = await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    assert created


async def test_a_driver_savepoint_undoes_only_its_own_statements(db, now):
    later = now + timedelta(hours=1)
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        with pytest.raises(RuntimeError):
            async with driver.savepoint(uow.conn):
                await uow.contacts.touch(contact.id, later)
                raise RuntimeError("undo")
        async with driver.savepoint(uow.conn):
            await uow.contacts.touch(contact.id, now + timedelta(minutes=1))
        await uow.commit()
    async with db.uow() as uow:
        found = await uow.contacts.get(contact.id)
        assert found is not None and found.last_seen_at == now + timedelta(minutes=1)


async def test_postgres_two_sends_given_one_id_at_once_both_count_as_sent(db, now):
    """Two workers record the same provider id for two messages at the same moment: the second
    waits for the first on the unique id and fails when it commits (mark_sent has no savepoint
    of its own: the sender's record is rolled back and tried again, tests/test_outbox_records.py);
    tried again, it keeps its mark without the id."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only (SQLite has one writer)")
    import asyncio

    from tests.store.fixtures import until_a_lock_wait

    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        ids = []
        for text in ("a", "b"):
            oid = await uow.outbox.add(
                contact_id=contact.id, channel="sms", urn=URN, text=text, due_at=now, now=now
            )
            await uow.messages.add_outbound(contact.id, "sms", text, now, oid)
            ids.append(oid)
        await uow.commit()
    marked, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with db.uow() as uow:
            await uow.outbox.mark_sent(ids[0], external_id="SM-SAME", segments=1, now=now)
            marked.set()
            await release.wait()
            await uow.commit()

    async def second() -> None:
        async with db.uow() as uow:
            with pytest.raises(sa.exc.IntegrityError):
                await uow.outbox.mark_sent(ids[1], external_id="SM-SAME", segments=1, now=now)
        async with db.uow() as uow:  # the retry
            await uow.outbox.mark_sent(ids[1], external_id="SM-SAME", segments=1, now=now)
            await uow.commit()

    one = asyncio.create_task(first())
    await marked.wait()
    two = asyncio.create_task(second())
    await until_a_lock_wait(db, two)
    release.set()
    await asyncio.gather(one, two)
    async with db.uow() as uow:
        table = messages.messages
        rows = (
            await uow.conn.execute(
                sa.select(table.c.external_id, table.c.status)
                .where(table.c.outbox_id.in_(ids))
                .order_by(table.c.outbox_id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [("SM-SAME", "sent"), (None, "sent")]


async def test_nested_savepoints_of_one_name_undo_only_the_inner_one(db, now):
    """Savepoints all share one name: the innermost is the one released or rolled back."""
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        async with uow.savepoint() as outer:
            await outer.contacts.touch(contact.id, now + timedelta(minutes=1))
            with pytest.raises(RuntimeError):
                async with outer.savepoint() as inner:
                    await inner.contacts.touch(contact.id, now + timedelta(minutes=2))
                    await inner.audit.add("inner", now=now)  # through SQLAlchemy
                    raise RuntimeError("undo the inner one")
            assert await outer.audit.list_all() == []
            await outer.commit()
        await uow.commit()
    async with db.uow() as uow:
        found = await uow.contacts.get(contact.id)
        assert found is not None and found.last_seen_at == now + timedelta(minutes=1)


# Parameter names that would break generated source if pasted in it unquoted.
ODD_NAMES = ["it's", 'a "b"', "c\\nd)", "e'); import os; ('", "ë\n"]


def test_generated_functions_hold_no_value_and_process_only_what_needs_it():
    """The generated source names values and processors by position only; the parameter names
    are its only constants (as literals of exactly those names); columns without a result
    processor are taken as they come."""
    fixed = dict(KIND_ROWS[0])
    stmt = driver.Prepared(
        sa.insert(kinds)
        .values(**(fixed | {"small": sa.bindparam(ODD_NAMES[0]), "at": sa.bindparam(ODD_NAMES[1])}))
        .returning(kinds.c.id, kinds.c.at, kinds.c.name, kinds.c.doc, kinds.c.small)
    )
    for dialect in (sqlite.aiosqlite.dialect(), postgresql.asyncpg.dialect()):
        compiled = stmt.compiled(dialect, frozenset(ODD_NAMES[:2]))
        args, convert = compiled.args.__code__, compiled.convert.__code__
        assert {c for c in args.co_consts if c is not None} == set(ODD_NAMES[:2])
        assert all(name.startswith(("_v", "_p")) for name in args.co_names)
        # What the statement fixes is in the function's globals, processed once.
        held = {k: v for k, v in compiled.args.__globals__.items() if k.startswith("_v")}
        assert len(held) == len(fixed) - 2  # small and at come from the caller
        processed = sum(p is not None for p in compiled.results)
        converters = [k for k in compiled.convert.__globals__ if k.startswith("_c")]
        assert len(converters) == processed < len(compiled.results)
        given = compiled.args({ODD_NAMES[0]: 5, ODD_NAMES[1]: fixed["at"], "unused": 1})
        assert len(given) == len(compiled.binds)
        assert not any(isinstance(c, str) for c in convert.co_consts if c is not None)


async def test_odd_parameter_names_and_mixed_processing_as_sqlalchemy_does(db, kinds_table):
    """Every column type through parameters whose names need quoting, a name used twice, and
    rows whose processed columns come first, last, together and apart."""
    names = dict(
        zip(("small", "name", "blob", "flag", "at", "doc"), [*ODD_NAMES, "f"], strict=True)
    )
    insert = driver.Prepared(
        sa.insert(kinds)
        .values(**{column: sa.bindparam(name) for column, name in names.items()})
        .returning(*kinds.c)
    )
    orders = [
        (kinds.c.at, kinds.c.id, kinds.c.name, kinds.c.doc, kinds.c.flag, kinds.c.small),
        (kinds.c.id, kinds.c.doc, kinds.c.at, kinds.c.blob, kinds.c.flag),
        (kinds.c.name, kinds.c.small),
    ]
    async with db.uow() as uow:
        for row in KIND_ROWS:
            given = {name: row[column] for column, name in names.items()}
            same(*await both(uow.conn, insert, given), ignore=["id"])
            written = await insert.first(uow.conn, given)
            assert written is not None
            assert {column: written._mapping[column] for column in names} == row
        for columns in orders:
            select = driver.Prepared(
                sa.select(*columns)
                .where(sa.or_(kinds.c.name == sa.bindparam(ODD_NAMES[1]), kinds.c.name.is_(None)))
                .where(
                    sa.func.coalesce(kinds.c.name, sa.bindparam(ODD_NAMES[1]))
                    == sa.bindparam(ODD_NAMES[1])
                )
                .order_by(kinds.c.id)
            )
            by_sqlalchemy, by_driver = await both(uow.conn, select, {ODD_NAMES[1]: "Ëndërr"})
            same(by_sqlalchemy, by_driver)
            assert len(by_driver) == 2
        await uow.commit()


class _Refusing(sa.types.TypeDecorator[str]):
    """A bind processor that raises KeyError itself."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        raise KeyError(value)


async def test_a_processors_own_key_error_is_a_refused_value_not_a_missing_one(db, now):
    stmt = driver.Prepared(
        sa.select(sa.literal(1)).where(sa.bindparam("k", type_=_Refusing()).is_not(None))
    )
    async with db.uow() as uow:
        with pytest.raises(sa.exc.StatementError) as raised:
            await stmt.execute(uow.conn, {"k": "v"})
        assert "required" not in str(raised.value)
        assert isinstance(raised.value.orig, KeyError)
        with pytest.raises(sa.exc.StatementError, match="required for parameter 'k'"):
            await stmt.execute(uow.conn, {})


def _inserts(
    dialect: str, contact_id: int, case_id: int, now: datetime
) -> list[tuple[driver.Prepared, dict[str, Any]]]:
    """The INSERTs the repositories run through driver.inserting() (alerts.ADD_ALERT aside:
    tests/store/test_referral_repos.py), each with a row."""
    message = {"contact_id": contact_id, "channel": "sms", "text_enc": b"t", "created_at": now}
    return [
        (messages.INSERT_MESSAGE, message | {"direction": "out", "status": "queued"}),
        (
            messages._insert_inbound(dialect),
            message | {"direction": "in", "external_id": "SM9", "chat_message_id": None},
        ),
        (
            outbox.INSERT_OUTBOX,
            {"contact_id": contact_id, "channel": "sms", "urn_enc": b"u", "payload_enc": b"p"}
            | {"kind": "reply", "status": "pending", "attempts": 0, "due_at": now}
            | {"created_at": now, "meta": {"a": 1}},
        ),
        (
            sessions.INSERT_SESSION,
            {"contact_id": contact_id, "status": "ended", "state_enc": b"s"}
            | {"created_at": now, "updated_at": now},
        ),
        (
            INSERT_FIRE,
            {"contact_id": contact_id, "session_id": None, "kind": "escalate", "due_at": now}
            | {"seq": 0, "status": "pending", "created_at": now, "payload": {"case_id": 1}},
        ),
        (
            contacts.CREATE[dialect],
            {"urn_hash": "h" * 64, "urn_enc": b"u", "channel": "sms", "fields_enc": b"f"}
            | {"opted_out": False, "unreachable": False, "created_at": now, "last_seen_at": now},
        ),
        (
            cases.ADD_EVENT,
            {"case_id": case_id, "kind": "note", "at": now, "data_enc": b"d"},
        ),
    ]


async def test_an_insert_gives_its_new_id_as_returning_does(db, now):
    """driver.inserting(): the row SQLAlchemy's RETURNING gives, on SQLite from the cursor's
    lastrowid without RETURNING; the id is the row's; nothing when ON CONFLICT DO NOTHING
    inserted nothing (then no other statement's rowid leaks through)."""
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        case = await uow.cases.open(contact.id, now)
        for prepared, row in _inserts(db.dialect, contact.id, case.id, now):
            by_sqlalchemy, by_driver = await both(uow.conn, prepared, row)
            # PostgreSQL's sequences do not roll back with the savepoint: the ids differ there.
            same(by_sqlalchemy, by_driver, ignore=("id",) if db.dialect == "postgresql" else ())
            assert [r._fields for r in by_driver] == [("id",)]
            new_id = await prepared.scalar_one(uow.conn, row)
            table = prepared.statement.table  # type: ignore[attr-defined]
            kept = (await uow.conn.execute(sa.select(table).where(table.c.id == new_id))).one()
            assert all(kept._mapping[k] == v for k, v in row.items() if k != "meta")
            sql = prepared.compiled(uow.conn.dialect, frozenset(row)).sql
            assert ("RETURNING" in sql) == (db.dialect == "postgresql")
        # A repeat: nothing inserted, no id, though the last INSERT just set one.
        again = _inserts(db.dialect, contact.id, case.id, now)
        for prepared, row in (again[1], again[5]):
            other = await again[0][0].scalar_one(uow.conn, again[0][1])
            assert other is not None
            assert await prepared.first(uow.conn, row) is None
            by_sqlalchemy, by_driver = await both(uow.conn, prepared, row)
            assert by_sqlalchemy == by_driver == []


def test_only_sqlites_rowid_is_read_from_the_cursor():
    """A table whose id is not an INTEGER PRIMARY KEY has no rowid alias: refused on SQLite."""
    table = sa.Table("big_ids", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True))
    prepared = driver.inserting(sa.insert(table))
    with pytest.raises(sa.exc.ArgumentError, match="rowid"):
        prepared.compiled(sqlite.aiosqlite.dialect(), frozenset())
    assert "RETURNING" in prepared.compiled(postgresql.asyncpg.dialect(), frozenset()).sql
    compiled = driver.inserting(sa.insert(kinds)).compiled(sqlite.aiosqlite.dialect(), frozenset())
    assert compiled.lastrowid and "RETURNING" not in compiled.sql
