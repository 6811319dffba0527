"""Store fixtures for any test package: `db` on SQLite and PostgreSQL, `crypto`, a fixed `now`.

Use from another conftest.py:  from tests.store.fixtures import *  # noqa: F403
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from bot.store import driver, migrate
from bot.store.crypto import Crypto
from bot.store.db import Database
from bot.store.models import Base

# Test-only keys, never used anywhere else.
DATA_KEYS = (
    "hkArhHvODLmz--tDrnBG7OkAiGdL7L3K9u37eCe6K1I=",
    "e1PFak2wViMmdIvoOcKHowfi2do1X0OGUM9-QIgmNTo=",
)
SECRET_KEY = "test-secret-key-for-lookup-hashes"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

__all__ = [
    "crypto",
    "db",
    "db_url",
    "now",
    "postgres_url",
    "sqlite_template",
]


def pg_url(name: str) -> str:
    """The URL of a database on the test server."""
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def until_a_lock_wait(db: Database, task: asyncio.Task[Any]) -> None:
    """Return once a session of `db`'s PostgreSQL database waits on a lock; `task` (the one
    meant to wait) must not finish before. This database's sessions only: the server is shared
    with other tests' databases, and a lock wait there ended the look too early."""
    name = db.engine.url.database
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=name)
    try:
        waiting = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        while not await admin.fetchval(waiting):  # each look a round trip: `task` runs meanwhile
            assert not task.done()
    finally:
        await admin.close()


def create_pg_database() -> str:
    """Create an empty database with a random name; skip (fail under CI) if there is no server."""
    name = f"helpline_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable ({type(exc).__name__})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return name


def drop_pg_database(name: str) -> None:
    """Drop a test database, even if a connection was left open."""
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def unmigrated_url(backend: str, sqlite_file: Path) -> Iterator[str]:
    """A synchronous URL of an empty database of its own: a SQLite file, or a PostgreSQL
    database made for it and dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("store") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database migrated with the real migrations, dropped at the end."""
    name = create_pg_database()
    try:
        migrate.upgrade(pg_url(name))
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "helpline.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def crypto() -> Crypto:
    """Crypto with the test keys."""
    return Crypto(DATA_KEYS, SECRET_KEY)


@pytest.fixture
def now() -> datetime:
    """A fixed, aware UTC time."""
    return NOW


@pytest.fixture
async def db(db_url: str, crypto: Crypto) -> AsyncIterator[Database]:
    """A Database on an empty, migrated database (parametrised: sqlite, postgres)."""
    database = Database(db_url, crypto)
    if database.dialect == "postgresql":
        # The session's database is shared: empty it (the schema stays as migrated).
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def commits(db: Database) -> Iterator[list[int]]:
    """COMMITs the database's engine runs (a list that grows by one each)."""
    seen: list[int] = []

    def on_commit(_conn: object) -> None:
        seen.append(1)

    sa.event.listen(db.engine.sync_engine, "commit", on_commit)
    yield seen
    sa.event.remove(db.engine.sync_engine, "commit", on_commit)


@contextlib.contextmanager
def statements_seen(db: Database) -> Iterator[list[str]]:
    """The SQL of every statement run while inside, through SQLAlchemy or on the driver."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    driver.observers.append(seen.append)
    try:
        yield seen
    finally:
        driver.observers.remove(seen.append)
        sa_event.remove(db.engine.sync_engine, "before_cursor_execute", record)
