"""Alembic migrations run from code: the scripts ship inside the package."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.store.db import async_url, create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
URL_ATTRIBUTE = "helpline_url"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for `url` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not a main option: ini interpolation would mangle '%' in passwords.
    config.attributes[URL_ATTRIBUTE] = async_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database to `revision`.

    Synchronous: the migration environment runs its own event loop, so call it from a thread
    (see upgrade_async) when a loop is already running in this one.
    """
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to `revision` ("base" empties it)."""
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Migrate to `revision` from async code, in a worker thread."""
    await asyncio.to_thread(upgrade, url, revision)


def head() -> str:
    """The newest revision the package ships."""
    revision = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert revision is not None
    return revision


async def current_async(url: str) -> str | None:
    """The database's revision; None when it was never migrated."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
            )
    finally:
        await engine.dispose()


def current(url: str) -> str | None:
    """The database's revision; None when it was never migrated (sync, like upgrade)."""
    return asyncio.run(current_async(url))
