"""Alembic environment: async engines, the helpline's metadata, URL from the caller or settings."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.db import create_engine
from bot.store.migrate import URL_ATTRIBUTE
from bot.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get(URL_ATTRIBUTE) or config.get_main_option("sqlalchemy.url")
    if not url:
        # Run through the alembic CLI: read the same settings the app reads.
        from bot.config import load_settings

        url = load_settings().database_url
    return url


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # With the foreign keys off (below), nothing checked them while tables were
            # rebuilt: a reference left dangling rolls the whole migration back.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                tables = sorted({str(row[0]) for row in broken})
                raise RuntimeError(
                    f"migration left {len(broken)} broken reference(s) in {', '.join(tables)}; "
                    "nothing was changed"
                )


def _foreign_keys_off(engine: AsyncEngine) -> None:
    """SQLite: migrate with the foreign keys off, as SQLite's ALTER TABLE procedure says.

    Why: batch mode rebuilds a table by copying it and dropping the old one, in the migration's
    transaction, where PRAGMA foreign_keys can no longer be changed. With them on, that DROP
    deletes the old table's rows first and runs their references' actions: ON DELETE CASCADE
    deleted every session, timer and message of a contacts rebuild (0010's downgrade), SET
    NULL forgot which alert an outbox row sent (0003). Off before the transaction begins, and
    checked with PRAGMA foreign_key_check before it commits (_run_sync)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine.sync_engine, "connect")
    def _off(dbapi_connection: Any, _record: Any) -> None:  # after db.py's own PRAGMAs
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()


async def run_migrations_online() -> None:
    """Run the migrations on a connection of the async engine."""
    engine = create_engine(_url())
    _foreign_keys_off(engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
