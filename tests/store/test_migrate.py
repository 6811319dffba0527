"""Migrations: an empty database to head and back, on SQLite and PostgreSQL, matching the models."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.store import migrate
from bot.store.db import create_engine
from bot.store.models import Base
from tests.store.fixtures import BACKENDS, unmigrated_url


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
