"""Opening the helpline's database from its settings: the one place that joins URL and data keys."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.config import Settings
from bot.store import migrate
from bot.store.crypto import Crypto
from bot.store.db import Database

OLD_SCHEMA = "the database is not at the newest schema: run `helpline db upgrade`"


class OldSchema(RuntimeError):
    """The database is behind the code's migrations; `helpline db upgrade` brings it up."""


async def open_database(settings: Settings, *, newest_schema: bool = False) -> Database:
    """The database `settings` name, reading with their data keys; the caller disposes of it.

    With `newest_schema`, OldSchema unless its migrations are at head (the server and the CLI
    that write refuse an old schema rather than fail half-way through a change).
    """
    if newest_schema and await migrate.current_async(settings.database_url) != migrate.head():
        raise OldSchema(OLD_SCHEMA)
    return Database(settings.database_url, Crypto(settings.data_keys, settings.secret_key))


@contextlib.asynccontextmanager
async def opened_database(
    settings: Settings, *, newest_schema: bool = False
) -> AsyncIterator[Database]:
    """open_database for one piece of work (a CLI command): disposed of when it ends."""
    db = await open_database(settings, newest_schema=newest_schema)
    try:
        yield db
    finally:
        await db.dispose()
