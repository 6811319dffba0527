"""Admin start-up records the shipped flows' publications once, however many workers start."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from bot.app import store_flow_versions
from bot.flows.library import FlowLibrary
from bot.store.crypto import Crypto
from bot.store.db import Database
from bot.web.flows_pages import apply_publications
from tests.store.fixtures import NOW, crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

FLOWS = Path(__file__).resolve().parents[2] / "bot" / "flows"


def _library() -> FlowLibrary:
    """The shipped flows, loaded as each worker loads them."""
    flows = FlowLibrary(FLOWS)
    assert flows.reload().ok
    return flows


async def _files_publications(db: Database) -> Counter[str]:
    """How many "files" publications each flow has."""
    async with db.uow() as uow:
        return Counter(p.name for p in await uow.publications.history() if p.note == "files")


async def test_workers_starting_at_once_record_one_publication_a_flow(
    db: Database, db_url: str, crypto: Crypto
) -> None:
    other = Database(db_url, crypto)  # a second worker, on the same fresh database
    try:
        first, second = _library(), _library()
        await store_flow_versions(db, first, NOW)
        await store_flow_versions(other, second, NOW)
        await asyncio.gather(
            apply_publications(db, first, NOW, record_files=True),
            apply_publications(other, second, NOW, record_files=True),
        )
    finally:
        await other.dispose()
    recorded = await _files_publications(db)
    assert set(recorded) == set(first.sources)
    assert set(recorded.values()) == {1}


async def test_a_second_start_up_records_nothing_more(db: Database) -> None:
    flows = _library()
    await store_flow_versions(db, flows, NOW)
    await apply_publications(db, flows, NOW, record_files=True)
    once = await _files_publications(db)
    again = _library()
    await apply_publications(db, again, NOW, record_files=True)
    assert await _files_publications(db) == once
    assert set(once.values()) == {1}
