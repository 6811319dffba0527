"""One follow-up worker process for tests: sweeps due check-ins of a database until none is left.

Usage: python -m tests.auxil.followup_worker DATABASE_URL BATCH
Prints "ready", waits for a line on stdin (so several workers start sweeping together), sweeps,
and prints "ran N" with the number of check-ins this process handled.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from bot.followups.service import Followups
from bot.i18n import Catalogs
from bot.referral.service import Referral
from bot.store.crypto import Crypto
from bot.store.db import Database
from bot.store.repos.followups import checkins
from tests.pipeline_harness import build_pipeline
from tests.store.fixtures import DATA_KEYS, SECRET_KEY


async def main(url: str, batch: int) -> None:
    db = Database(url, Crypto(DATA_KEYS, SECRET_KEY))
    catalogs = Catalogs()
    referral = Referral(catalogs)
    followups = Followups(referral.ctx, batch=batch)
    pipeline = build_pipeline(
        db,
        catalogs=catalogs,
        clock=lambda: datetime.now(UTC),
        referral=referral,
        followups=followups,
    )
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    ran, loops, started = 0, 0, time.perf_counter()
    while True:
        loops += 1
        ran += await followups.sweep(pipeline, limit=batch)
        async with db.uow() as uow:
            left = (
                await uow.conn.execute(
                    sa.select(sa.func.count())
                    .select_from(checkins)
                    .where(checkins.c.tries == 0, checkins.c.status.in_(("pending", "leased")))
                )
            ).scalar_one()
        if not left:
            break
    print(f"took {time.perf_counter() - started:.2f} s over {loops} sweeps", flush=True)
    print(f"ran {ran}", flush=True)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
