"""Opening the database from settings: URL and keys joined in one place, an old schema refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.store import migrate
from bot.store.db import Database
from bot.store.opening import OLD_SCHEMA, OldSchema, open_database, opened_database
from tests.store.fixtures import DATA_KEYS, SECRET_KEY


def settings_for(url: str, var: Path) -> Settings:
    """Settings naming `url`, with the test keys."""
    return load_settings(
        env={
            "HELPLINE_DATABASE_URL": url,
            "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
            "HELPLINE_SECRET_KEY": SECRET_KEY,
            "HELPLINE_VAR_DIR": str(var),
        }
    )


async def test_the_database_reads_with_the_settings_keys(db_url: str, tmp_path: Path) -> None:
    settings = settings_for(db_url, tmp_path)
    async with opened_database(settings, newest_schema=True) as db:
        assert await db.ping()
        token = db.crypto.encrypt("tel:+355691234567")
    # Another opening with the same settings reads what the first one wrote.
    async with opened_database(settings) as again:
        assert again.crypto.decrypt(token) == "tel:+355691234567"


async def test_an_old_schema_is_refused_only_when_the_newest_is_asked_for(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    settings = settings_for(url, tmp_path)
    with pytest.raises(OldSchema, match="helpline db upgrade") as refused:
        await open_database(settings, newest_schema=True)
    assert str(refused.value) == OLD_SCHEMA
    async with opened_database(settings) as db:  # a CLI that needs no schema check still opens
        assert await db.ping()
    await migrate.upgrade_async(url)
    async with opened_database(settings, newest_schema=True) as db:
        assert await db.ping()


async def test_the_database_is_disposed_of_when_the_work_fails(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disposed: list[Database] = []
    real_dispose = Database.dispose

    async def dispose(self: Database) -> None:
        disposed.append(self)
        await real_dispose(self)

    monkeypatch.setattr(Database, "dispose", dispose)
    with pytest.raises(LookupError):
        async with opened_database(settings_for(db_url, tmp_path)) as db:
            raise LookupError("the work failed")
    assert disposed == [db]
