"""CHECK constraints of listed values: the same acceptance on both databases, and on SQLite no
ephemeral table built at each INSERT or UPDATE (models.OneOf, migration 0014)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from bot.store import migrate
from bot.store.db import create_engine
from bot.store.models import Base, OneOf, in_list, or_chain
from tests.store.fixtures import BACKENDS, statements_seen, unmigrated_url
from tests.store.rows import insert_rows, look, one_ofs

BEFORE = "0013_cases_latest_index"
BAD = ("bogus", "")


def _value_sets() -> list[tuple[str, ...]]:
    return sorted({o.values for _, _, o in one_ofs() if len(o.values) >= 3})


def test_the_constraints_are_known():
    """The tests below look at all of these (a new one joins them by itself)."""
    names = {name for _, name, _ in one_ofs()}
    assert len(names) == 26 and {"ck_outbox_kind", "ck_outbox_status", "ck_fires_status"} <= names
    assert sum(len(o.values) >= 3 for _, _, o in one_ofs()) == 14


def test_the_text_each_database_gets():
    one_of = OneOf("status", ("pending", "sent", "failed"))
    assert or_chain("status", ("pending", "sent", "failed")) == (
        "status = 'pending' OR status = 'sent' OR status = 'failed'"
    )
    assert in_list("status", ("pending", "sent", "failed")) == (
        "status IN ('pending', 'sent', 'failed')"
    )
    assert or_chain("s", ("a", "b")) == in_list("s", ("a", "b")) == "s IN ('a', 'b')"
    compiled = {
        d.name: str(one_of.compile(dialect=d)) for d in (sqlite.dialect(), postgresql.dialect())
    }
    assert compiled == {
        "sqlite": or_chain(one_of.column, one_of.values),
        "postgresql": in_list(one_of.column, one_of.values),
    }
    # Told apart in SQLAlchemy's caches by column and values.
    keys = {
        OneOf(c, v)._generate_cache_key().key
        for c in ("a", "b")
        for v in (("x", "y", "z"), ("x", "y"))
    }
    assert len(keys) == 4


# --- the same acceptance: `IN` and the `OR` of comparisons, on SQLite, any value --------------

ANY_VALUE = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.binary(max_size=12),
)


def _sameness_tables(values: tuple[str, ...]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    # VARCHAR: the real columns' TEXT affinity, which both forms compare with.
    for name, check in (("old", in_list("v", values)), ("new", or_chain("v", values))):
        conn.execute(f"CREATE TABLE {name} (v VARCHAR(16), CONSTRAINT ck CHECK ({check}))")
    return conn


def _accepts(conn: sqlite3.Connection, table: str, value: Any) -> bool:
    try:
        conn.execute(f"INSERT INTO {table} (v) VALUES (?)", (value,))  # noqa: S608
    except sqlite3.IntegrityError:
        return False
    return True


@pytest.mark.parametrize("values", _value_sets())
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_or_of_comparisons_accepts_exactly_what_in_accepts(values, data):
    conn = _sameness_tables(values)
    listed = st.sampled_from(values)
    near = listed.map(lambda v: data.draw(st.sampled_from([v.upper(), f" {v}", f"{v} ", v[:-1]])))
    value = data.draw(st.one_of(listed, near, listed.map(str.encode), ANY_VALUE))
    assert _accepts(conn, "new", value) == _accepts(conn, "old", value)
    for good in values:  # and the listed values and NULL, always
        assert _accepts(conn, "new", good) and _accepts(conn, "old", good)
    assert _accepts(conn, "new", None) and _accepts(conn, "old", None)
    assert not _accepts(conn, "new", "bogus")


# --- what SQLite runs: no IN list built as a table --------------------------------------------


def _program(conn: sqlite3.Connection, sql: str) -> list[str]:
    return [row[1] for row in conn.execute(f"EXPLAIN {sql}", [None] * sql.count("?"))]


def _lists_built(ops: list[str]) -> int:
    """Ephemeral tables filled with values one by one: how SQLite evaluates `x IN (a, b, c)`."""
    loads = {"String8", "Integer", "Int64", "Real", "Null", "Variable", "SCopy"}
    return sum(
        1
        for i, op in enumerate(ops)
        if op == "OpenEphemeral"
        and ops[i + 1] in loads
        and ops[i + 2 : i + 4] == ["MakeRecord", "IdxInsert"]
    )


def test_the_detector_sees_the_old_form():
    conn = _sameness_tables(("a", "b", "c"))
    assert _lists_built(_program(conn, "INSERT INTO old (v) VALUES (?)")) == 1
    assert _lists_built(_program(conn, "INSERT INTO new (v) VALUES (?)")) == 0


def _sqlite_file(url: str) -> str:
    return url.split("///", 1)[1]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_insert_or_update_of_a_constrained_table_builds_a_table(db_url):
    conn = sqlite3.connect(_sqlite_file(db_url))
    tables = {table for table, _, _ in one_ofs()}
    for table in tables:
        columns = [c.name for c in table.c]
        marks = ", ".join("?" * len(columns))
        insert = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        assert "OpenEphemeral" not in _program(conn, insert), table.name
    for table, name, one_of in one_ofs():
        update = f"UPDATE {table.name} SET {one_of.column} = ? WHERE rowid = ?"  # noqa: S608
        assert "OpenEphemeral" not in _program(conn, update), name


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_outbox_and_timer_writes_build_no_table(db, now):
    """The statements a message's writes run (outbox in and out, timers, sessions)."""
    with statements_seen(db) as seen:
        async with db.uow() as uow:
            contact, _ = await uow.contacts.get_or_create("sim:checks", "simulator", now)
            sid = await uow.sessions.save(contact.id, None, {"n": 1}, "waiting", now)
            for seq in range(2):  # the second replaces the first (REPLACE_FIRE)
                await uow.fires.schedule(
                    contact_id=contact.id,
                    session_id=sid,
                    kind="wait_timeout",
                    due_at=now,
                    seq=seq,
                    now=now,
                )
            for i in range(2):
                await uow.outbox.add(
                    contact_id=contact.id,
                    channel="sms",
                    urn="sim:checks",
                    text=f"reply {i}",
                    kind="reply",
                    due_at=now,
                    now=now,
                )
            await uow.commit()
        async with db.uow() as uow:
            first, second = await uow.outbox.claim_due(now, 10, timedelta(seconds=60), "me")
            await uow.outbox.mark_sent(first.id, external_id="x1", segments=1, now=now)
            await uow.outbox.mark_failed(second.id, error="no", now=now)
            [fire] = await uow.fires.claim_due(now, 10, timedelta(seconds=60), "me")
            await uow.fires.done(fire.id)
            await uow.commit()
    writes = [s for s in seen if s.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE")]
    touched = " ".join(writes)
    assert all(t in touched for t in ("INTO outbox", "UPDATE outbox", "INTO fires", "UPDATE fires"))
    conn = sqlite3.connect(_sqlite_file(db.url))
    assert [s for s in writes if _lists_built(_program(conn, s))] == []


# --- the same acceptance on both databases, every table and constrained column -----------------


async def test_every_constraint_accepts_its_values_and_rejects_others(db):
    async with db.engine.connect() as conn, conn.begin():
        rows = await insert_rows(conn)
        for table, name, one_of in one_ofs():
            key = sa.and_(*(c == rows[table.name][c.name] for c in table.primary_key))
            column = table.c[one_of.column]
            goods = [*one_of.values, *([None] if column.nullable else [])]
            for good in goods:
                async with conn.begin_nested():
                    await conn.execute(table.update().where(key).values({column.name: good}))
            near = (*BAD, one_of.values[0].swapcase(), f"{one_of.values[0]} ")
            # Within the column's length: PostgreSQL would refuse a longer one for that.
            bads = {bad[: column.type.length] for bad in near} - set(one_of.values)
            for bad in sorted(bads):
                with pytest.raises(sa.exc.IntegrityError, match=name):
                    async with conn.begin_nested():
                        await conn.execute(table.update().where(key).values({column.name: bad}))
                # A new row too (its CHECK runs before its keys are compared with the first's).
                with pytest.raises(sa.exc.IntegrityError, match=name):
                    async with conn.begin_nested():
                        await conn.execute(
                            table.insert().values({**rows[table.name], column.name: bad})
                        )
        await conn.rollback()


# --- migrations: the models' text, rows and everything else kept, and back ----------------------


def _texts(options: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in options.items()}


def _schema(sync_conn: sa.Connection) -> dict[str, Any]:
    """What 0014 must keep: per table, its rows, indexes, keys and constraints (CHECK texts
    apart), and the CHECKs' names and texts."""
    inspector = sa.inspect(sync_conn)
    kept: dict[str, Any] = {}
    checks: dict[str, str] = {}
    for name in sorted(inspector.get_table_names()):
        table = sa.Table(name, sa.MetaData(), autoload_with=sync_conn)
        indexes = inspector.get_indexes(name)
        order = list(table.primary_key) or list(table.c)
        rows = [tuple(r) for r in sync_conn.execute(sa.select(table).order_by(*order))]
        kept[name] = (
            rows,
            sorted(
                # A partial index's WHERE comes as an expression: its text compares.
                ({**i, "dialect_options": _texts(i.get("dialect_options", {}))} for i in indexes),
                key=lambda i: str(i["name"]),
            ),
            sorted(inspector.get_foreign_keys(name), key=lambda f: str(f["name"])),
            sorted(inspector.get_unique_constraints(name), key=lambda u: str(u["name"])),
            inspector.get_pk_constraint(name),
            sorted(c["name"] for c in inspector.get_check_constraints(name)),
        )
        checks |= {str(c["name"]): c["sqltext"] for c in inspector.get_check_constraints(name)}
    extra: list[Any] = []
    if sync_conn.dialect.name == "sqlite":
        extra = list(
            sync_conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
            )
        )
        extra = [tuple(r) for r in extra]
    return {"kept": kept, "checks": checks, "master": extra}


async def _look(url: str, fill: bool = False) -> dict[str, Any]:
    return await look(url, _schema, fill)


async def _created(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with engine.connect() as conn:
            return await conn.run_sync(_schema)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_from_0013_keeps_everything_and_the_downgrade_restores_it(backend, tmp_path):
    with (
        unmigrated_url(backend, tmp_path / "old.db") as url,
        unmigrated_url(backend, tmp_path / "new.db") as fresh,
    ):
        migrate.upgrade(url, BEFORE)
        before = asyncio.run(_look(url, fill=True))
        assert all(rows for rows, *_ in before["kept"].values() if rows is not None)
        migrate.upgrade(url)
        after = asyncio.run(_look(url))
        created = asyncio.run(_created(fresh))
        # Rows, indexes, keys, constraint names: all as they were.
        assert {k: v for k, v in after["kept"].items() if k != "alembic_version"} == {
            k: v for k, v in before["kept"].items() if k != "alembic_version"
        }
        # The CHECKs read as the models write them: 3+ values rewritten on SQLite only.
        assert after["checks"] == created["checks"]
        assert after["checks"].keys() == before["checks"].keys()
        changed = {n for n in after["checks"] if after["checks"][n] != before["checks"][n]}
        three = {name for _, name, o in one_ofs() if len(o.values) >= 3}
        assert changed == (three if backend == "sqlite" else set())
        if backend == "sqlite":
            conn = sqlite3.connect(_sqlite_file(url))
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            master = lambda look: [r for r in look["master"] if r[0] != "table"]  # noqa: E731
            assert master(after) == master(before)  # indexes, byte for byte
        migrate.downgrade(url, BEFORE)
        back = asyncio.run(_look(url))
        assert back["kept"] == before["kept"] and back["checks"] == before["checks"]
        assert back["master"] == before["master"]  # SQLite: the schema's text, byte for byte


def test_a_schema_that_reads_otherwise_stops_the_upgrade_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    migrate.upgrade(url, BEFORE)
    conn = sqlite3.connect(tmp_path / "odd.db")
    before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    conn.execute("PRAGMA writable_schema = ON")
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, \"'high'\", \"'high' \") WHERE name = 'cases'"
    )
    conn.execute(f"PRAGMA schema_version = {version + 1}")
    conn.commit()
    odd = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    assert odd != before
    conn.close()
    with pytest.raises(RuntimeError, match="ck_cases_risk_level"):
        migrate.upgrade(url)
    assert migrate.current(url) == BEFORE
    conn = sqlite3.connect(tmp_path / "odd.db")
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == odd
