"""Migration 0012 on SQLite and PostgreSQL: the files' publications that workers starting at
once recorded twice go, the earliest of each run stays, an admin's and A -> B -> A stay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import migrate
from bot.store.crypto import Crypto
from bot.store.db import Database, create_engine
from bot.store.models import AdminUserRow, FlowPublicationRow
from tests.store.fixtures import BACKENDS, NOW, unmigrated_url

BEFORE = "0011_outbox_contact_index"
AFTER = "0012_publication_duplicates"
FILES = "files"

publications = FlowPublicationRow.__table__
admin_users = AdminUserRow.__table__


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own (migrated by the test, to 0011 first)."""
    with unmigrated_url(request.param, tmp_path / "helpline.db") as url:
        yield url


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


# (key, flow, version, minutes after NOW, by the admin?, note, kept?), inserted in this order
# (so in id order); the two workers' copies of a start-up come a few milliseconds apart.
ROWS = [
    # Three workers start: one publication each of intake@A; the first stays.
    ("i1", "intake", "A", 0, False, FILES, True),
    ("i2", "intake", "A", 0.001, False, FILES, False),
    ("o1", "other", "A", 0.0015, False, FILES, True),  # another flow, same version: its own
    ("i3", "intake", "A", 0.002, False, FILES, False),
    ("o2", "other", "A", 0.0025, False, FILES, False),
    # An admin publishes B; a later deploy ships A again (A -> B -> A), by two workers.
    ("i4", "intake", "B", 10, True, None, True),
    ("i6", "intake", "A", 20.001, False, FILES, False),  # inserted first, published later
    ("i5", "intake", "A", 20, False, FILES, True),
    # The admin publishes A twice over: an admin's publications all stay.
    ("i7", "intake", "A", 30, True, "revert to A", True),
    ("i8", "intake", "A", 31, True, None, True),
    # Files after an admin's same version: not a repeat of a files publication.
    ("i9", "intake", "A", 40, False, FILES, True),
    # Same time to the microsecond: id decides which came first.
    ("i10", "intake", "C", 50, False, FILES, True),
    ("i11", "intake", "C", 50, False, FILES, False),
    # An admin's note that happens to say "files": still an admin's.
    ("i12", "intake", "C", 51, True, FILES, True),
    # understanding.yaml is published like a flow.
    ("u1", "understanding", "U", 0, False, FILES, True),
    ("u2", "understanding", "U", 0.001, False, FILES, False),
    # An admin since deleted (published_by set to NULL), no note: not from the files.
    ("i13", "intake", "C", 60, False, None, True),
    ("i14", "intake", "C", 61, False, None, True),
]


async def _insert(url: str) -> dict[str, int]:
    """ROWS into the database at 0011; their ids by key."""
    engine = create_engine(url)
    ids: dict[str, int] = {}
    try:
        async with engine.begin() as conn:
            admin = (
                await conn.execute(
                    sa.insert(admin_users)
                    .values(
                        username="admin",
                        password_hash="x",
                        role="admin",
                        language="en",
                        active=True,
                        created_at=NOW,
                    )
                    .returning(admin_users.c.id)
                )
            ).scalar_one()
            for key, flow, version, minutes, by_admin, note, _ in ROWS:
                ids[key] = (
                    await conn.execute(
                        sa.insert(publications)
                        .values(
                            name=flow,
                            version=version,
                            published_at=at(minutes),
                            published_by=admin if by_admin else None,
                            note=note,
                        )
                        .returning(publications.c.id)
                    )
                ).scalar_one()
    finally:
        await engine.dispose()
    return ids


async def _ids(url: str) -> set[int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(sa.select(publications.c.id))).scalars())
    finally:
        await engine.dispose()


async def _history(url: str, crypto: Crypto) -> list[tuple[str, str | None]]:
    """The flow intake's history as the admin's page reads it, newest first."""
    db = Database(url, crypto)
    try:
        async with db.uow() as uow:
            return [(p.version, p.note) for p in await uow.publications.history("intake")]
    finally:
        await db.dispose()


def test_repeated_files_publications_go_and_the_earliest_of_each_run_stays(url, crypto):
    migrate.upgrade(url, BEFORE)
    ids = asyncio.run(_insert(url))
    assert asyncio.run(_ids(url)) == set(ids.values())

    migrate.upgrade(url, AFTER)

    kept = {ids[key] for key, *_, keep in ROWS if keep}
    assert asyncio.run(_ids(url)) == kept
    assert asyncio.run(_history(url, crypto)) == [
        ("C", None),
        ("C", None),
        ("C", FILES),  # i12, the admin's
        ("C", FILES),  # i10
        ("A", FILES),  # i9
        ("A", None),
        ("A", "revert to A"),
        ("A", FILES),  # i5: A -> B -> A
        ("B", None),
        ("A", FILES),  # i1
    ]

    # The downgrade restores nothing and breaks nothing; upgrading again removes no more.
    migrate.downgrade(url, BEFORE)
    assert asyncio.run(_ids(url)) == kept
    migrate.upgrade(url)
    assert asyncio.run(_ids(url)) == kept
