"""Leader election: one holder of the advisory lock; a follower takes over when the leader dies."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest

from bot.store.leader import HUNG_SECONDS, Leader
from tests.store.fixtures import PG_HOST, PG_PORT, PG_USER, postgres_url  # noqa: F401

WAIT = 30.0  # a bound on each wait, so a broken election fails instead of hanging


@pytest.mark.postgres
async def test_one_leader_and_a_takeover_when_its_connection_dies(postgres_url: str) -> None:
    key = secrets.randbits(62)  # this test's own lock: other tests may run workers meanwhile
    first = Leader(postgres_url, key=key, retry=0.05, name="first")
    second = Leader(postgres_url, key=key, retry=0.05, name="second")
    tasks = [asyncio.create_task(first.run())]
    try:
        async with asyncio.timeout(WAIT):
            await first.wait_until(True)
        tasks.append(asyncio.create_task(second.run()))
        # The second has tried the lock (a failed try is what it does between checks): not it.
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
        try:
            query = (
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND ((classid::bigint << 32) | objid::bigint) = $1"
            )
            [holder] = await admin.fetch(query, key)
            assert second.is_leader is False
            # The leader's process dies: PostgreSQL ends its session, and the lock with it.
            await admin.execute("SELECT pg_terminate_backend($1)", holder["pid"])
            async with asyncio.timeout(WAIT):
                await second.wait_until(True)
                await first.wait_until(False)
            [new_holder] = await admin.fetch(query, key)
            assert new_holder["pid"] != holder["pid"]
            assert second.is_leader and not first.is_leader
        finally:
            await admin.close()
        # A leader that stops lets go at once; the other takes over.
        second.stop()
        async with asyncio.timeout(WAIT):
            await tasks[1]
            await first.wait_until(True)
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_on_sqlite_the_one_process_leads(tmp_path) -> None:
    leader = Leader(f"sqlite:///{tmp_path}/helpline.db")
    assert leader.is_leader
    await leader.run()  # nothing to elect: returns at once
    ran: list[int] = []

    async def job() -> int:
        ran.append(1)
        return 1

    assert await leader.only(job)() == 1 and ran == [1]
    follower = Leader("postgresql://postgres@127.0.0.1:5432/x")
    assert await follower.only(job)() is None and ran == [1]  # never elected: does not run


def test_a_short_retry_does_not_make_a_slow_check_a_lost_lock() -> None:
    """Under load a check of a healthy connection can take longer than two short retries (the
    workers' test uses 0.2 s): only a check slower than HUNG_SECONDS gives up the lead."""
    url = "postgresql://postgres@127.0.0.1:5432/x"
    assert Leader(url, retry=0.2).hung_after == HUNG_SECONDS == 10.0
    assert Leader(url, retry=30.0).hung_after == 60.0
