"""Referral test fixtures: the store's `db` (SQLite and PostgreSQL) and a referral desk on it."""

from __future__ import annotations

import pytest

from tests.referral.harness import Desk
from tests.store.fixtures import (  # noqa: F401
    crypto,
    db,
    db_url,
    now,
    postgres_url,
    sqlite_template,
)


@pytest.fixture
async def desk(db):
    """A pipeline with the referral desk, municipalities loaded, no coordinators yet."""
    return await Desk(db).start()
