"""Follow-up test fixtures: the store's `db` and a desk running the shipped flows."""

from __future__ import annotations

import pytest

from tests.followups.harness import FollowupDesk
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
    """A pipeline with referral and follow-ups on the shipped flows, one coordinator on duty."""
    return await FollowupDesk(db).start()
