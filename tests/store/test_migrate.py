"""Migrations: an empty database to head and back, on SQLite and PostgreSQL, matching the models."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.store import migrate
from bot.store.db import create_engine
from bot.store.models import Base
from tests.store.fixtures import BACKENDS, unmigrated_url
from tests.store.rows import look

FIRST = "0001_initial"


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody migrated yet."""
    # On SQLite, in a directory that does not exist yet: the store must create it.
    with unmigrated_url(request.param, tmp_path / "var" / "fresh.db") as url:
        yield url


async def _schema(url: str) -> tuple[set[str], list]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def inspect(sync_conn: sa.Connection) -> tuple[set[str], list]:
                tables = set(sa.inspect(sync_conn).get_table_names())
                context = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "compare_server_default": True}
                )
                return tables, compare_metadata(context, Base.metadata)

            return await conn.run_sync(inspect)
    finally:
        await engine.dispose()


def test_empty_database_to_head_matches_the_models_and_back(empty_url):
    assert migrate.current(empty_url) is None
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    tables, diff = asyncio.run(_schema(empty_url))
    assert {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"} == tables
    assert diff == []
    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) is None
    assert asyncio.run(_schema(empty_url))[0] == {"alembic_version"}
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()


def test_upgrading_twice_is_harmless(empty_url):
    migrate.upgrade(empty_url)
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()


async def test_upgrade_async_runs_while_an_event_loop_runs(empty_url):
    await migrate.upgrade_async(empty_url)
    assert await migrate.current_async(empty_url) == migrate.head()


def test_the_migrations_ship_inside_the_package():
    assert migrate.MIGRATIONS.is_dir()
    assert Path(migrate.MIGRATIONS, "env.py").is_file()
    assert migrate.MIGRATIONS.parent == Path(migrate.__file__).parent


def _rows_now(sync_conn: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows as {column: value}, in primary-key order."""
    found = {}
    for name in sa.inspect(sync_conn).get_table_names():
        table = sa.Table(name, sa.MetaData(), autoload_with=sync_conn)
        order = list(table.primary_key) or list(table.c)
        query = sa.select(table).order_by(*order)
        found[name] = [dict(r._mapping) for r in sync_conn.execute(query)]
    return found


def _kept(
    before: dict[str, list[dict[str, Any]]], *others: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, list[dict[str, Any]]], ...]:
    """Each snapshot cut to the tables and columns all of them have (alembic_version apart)."""
    tables = set(before).intersection(*others) - {"alembic_version"}
    cut = []
    for snapshot in (before, *others):
        cut.append({})
        for table in tables:
            columns = set.intersection(*(set(o[table][0]) for o in (before, *others)))
            cut[-1][table] = [{c: row[c] for c in columns} for row in snapshot[table]]
    return tuple(cut)


@pytest.mark.parametrize("backend", BACKENDS)
def test_down_to_the_first_revision_and_back_keeps_every_row(backend, tmp_path):
    # Batch mode rebuilds SQLite tables by copy and DROP: with the foreign keys on, that DROP
    # ran their actions (0010's downgrade deleted every session, timer and message; 0003's
    # upgrade set the outbox ids of messages and alerts to NULL). env.py turns them off.
    with unmigrated_url(backend, tmp_path / "rows.db") as url:
        migrate.upgrade(url)
        head = asyncio.run(look(url, _rows_now, fill=True))
        assert all(head[t] for t in head if t != "alembic_version")
        migrate.downgrade(url, FIRST)
        low = asyncio.run(look(url, _rows_now))
        migrate.upgrade(url)
        back = asyncio.run(look(url, _rows_now))
        kept_head, kept_low, kept_back = _kept(head, low, back)
        assert kept_low == kept_head and kept_back == kept_head
        # Tables the downgrade dropped come back empty; every other one has its rows.
        assert {t: len(back[t]) for t in low} == {t: len(head[t]) for t in low}
