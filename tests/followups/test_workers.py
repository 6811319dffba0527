"""Two worker processes on PostgreSQL sweep many due check-ins: none twice, none missed."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.store import migrate
from bot.store.crypto import Crypto
from bot.store.db import Database
from tests.auxil.server_process import ROOT
from tests.followups.seed import seed_due_checkins
from tests.store.fixtures import DATA_KEYS, SECRET_KEY, create_pg_database, drop_pg_database, pg_url

N = 80
BATCH = 5  # small claims, so the two workers interleave many times
WAIT = 120.0


@pytest.mark.postgres
async def test_two_workers_send_every_due_checkin_exactly_once() -> None:
    name = await asyncio.to_thread(create_pg_database)
    url = pg_url(name)
    try:
        await migrate.upgrade_async(url)
        contacts = await seed_due_checkins(url, N, datetime.now(UTC))
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.auxil.followup_worker",
                url,
                str(BATCH),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        async with asyncio.timeout(WAIT):
            for w in workers:
                assert await w.stdout.readline() == b"ready\n"
            for w in workers:  # both start sweeping together
                w.stdin.write(b"go\n")
                await w.stdin.drain()
            outputs = [(await w.communicate())[0].decode() for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        ran = [int(o.split()[-1]) for o in outputs]
        assert sum(ran) == N and all(ran), ran  # both worked, together exactly N
        db = Database(url, Crypto(DATA_KEYS, SECRET_KEY))
        try:
            async with db.uow() as uow:
                rows = (
                    await uow.conn.execute(
                        sa.text("SELECT contact_id FROM outbox WHERE kind = 'followup'")
                    )
                ).all()
                tries = (await uow.conn.execute(sa.text("SELECT tries FROM checkins"))).all()
        finally:
            await db.dispose()
        assert Counter(r.contact_id for r in rows) == Counter(contacts)  # once each, none missed
        assert Counter(t.tries for t in tries) == Counter({1: N})
    finally:
        await asyncio.to_thread(drop_pg_database, name)
