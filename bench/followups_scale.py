"""Follow-ups at scale: 100,000 active protection orders, and the sweep ticking over them.

Seeds a fresh database (PostgreSQL by default, or SQLite) with N people, each with a case, an
active order, an order plan and its next check-in: most due over the next 30 days, a burst of
them due within the first seconds of the run (a morning window opening). Then runs the real
sweep (bot/followups/scheduler.Scheduler.sweep, the APScheduler job's body) once every
`--interval` seconds on the real clock, in one process or `--workers` processes, and reports:

- database rows per table;
- sweep time per tick, when nothing is due (the cost of looking) and while the burst is due;
- lateness of due check-ins: from the time a check-in was due to the time its message was
  queued in the outbox (p50/p99; the outbox sender's own pacing comes after);
- the sweeping process's peak memory (max RSS).

    .venv/bin/python bench/followups_scale.py [--orders 100000] [--burst 2000] [--interval 1]
                                              [--burst-seconds 10] [--idle-ticks 10]
                                              [--database postgres|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bot.config import ROOT as BOT_ROOT  # noqa: E402
from bot.data import load_municipalities  # noqa: E402
from bot.data.numbers import load_numbers  # noqa: E402
from bot.flows.library import FlowLibrary  # noqa: E402
from bot.followups.scheduler import Scheduler  # noqa: E402
from bot.followups.service import Followups  # noqa: E402
from bot.i18n import Catalogs  # noqa: E402
from bot.pipeline import Pipeline, places_from  # noqa: E402
from bot.referral.service import Referral  # noqa: E402
from bot.store import migrate  # noqa: E402
from bot.store.crypto import Crypto  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import CaseRow, ContactRow  # noqa: E402
from bot.store.repos.followups import checkins, orders, plans  # noqa: E402
from bot.store.repositories import Municipality  # noqa: E402

KEYS = ("hkArhHvODLmz--tDrnBG7OkAiGdL7L3K9u37eCe6K1I=",)  # a throwaway key for the bench only
SECRET = "bench-secret"  # noqa: S105 - for the bench only
PG = ("127.0.0.1", 5432, "postgres")
CHUNK = 5000


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(host=PG[0], port=PG[1], user=PG[2], database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(db: Database, n: int, burst: int, spread: float, start: datetime) -> None:
    """N people with an active order each; `burst` check-ins due in the run's first seconds."""
    crypto = db.crypto
    fields_enc = crypto.encrypt_json({})
    for base in range(0, n, CHUNK):
        ids = range(base + 1, min(n, base + CHUNK) + 1)
        async with db.uow() as uow:
            ex = uow.conn.execute
            await ex(
                sa.insert(ContactRow.__table__),
                [
                    {
                        "id": i,
                        "urn_hash": f"bench{i:064d}"[-64:],
                        # Distinct people: the pipeline serialises one person's turns.
                        "urn_enc": crypto.encrypt(f"tel:+35569{i:07d}"),
                        "channel": "sms",
                        "language": "sq",
                        "fields_enc": fields_enc,
                        "opted_out": False,
                        "unreachable": False,
                        "created_at": start,
                        "last_seen_at": start - timedelta(days=2),
                    }
                    for i in ids
                ],
            )
            await ex(
                sa.insert(CaseRow.__table__),
                [
                    {
                        "id": i,
                        "reference": f"B-{i:07d}",
                        "contact_id": i,
                        "municipality": "tirane",
                        "urgency": "normal",
                        "flags": [],
                        "status": "accepted",
                        "consent": {},
                        "created_at": start,
                        "updated_at": start,
                    }
                    for i in ids
                ],
            )
            await ex(
                sa.insert(orders),
                [
                    {
                        "id": i,
                        "case_id": i,
                        "contact_id": i,
                        "country": "AL",
                        "kind": "um",
                        "issued_on": start.date(),
                        "ends_on": (start + timedelta(days=365)).date(),
                        "end_is_default": True,
                        "status": "active",
                        "created_at": start,
                        "updated_at": start,
                    }
                    for i in ids
                ],
            )
            await ex(
                sa.insert(plans),
                [
                    {
                        "id": i,
                        "kind": "order",
                        "contact_id": i,
                        "case_id": i,
                        "order_id": i,
                        "status": "active",
                        "windows": ["any", "night"],  # lateness of the sweep, not of windows
                        "tz": "Europe/Tirane",
                        "starts_at": start - timedelta(days=1),
                        "ends_at": start + timedelta(days=365),
                        "created_at": start,
                    }
                    for i in ids
                ],
            )
            rows = []
            for i in ids:
                if i <= burst:  # spread over the first `spread` seconds of the run
                    due = start + timedelta(seconds=spread * i / burst)
                else:  # the rest over the coming 30 days
                    due = start + timedelta(hours=1, seconds=(i * 2593) % (30 * 86400))
                rows.append(
                    {
                        "plan_id": i,
                        "contact_id": i,
                        "purpose": "checkin",
                        "nominal_at": due,
                        "due_at": due,
                        "status": "pending",
                        "tries": 0,
                        "deferrals": 0,
                        "created_at": start,
                    }
                )
            await ex(sa.insert(checkins), rows)
            await uow.commit()
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            for table in ("contacts", "cases", "protection_orders", "followup_plans", "checkins"):
                await conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table}))"  # fixed table names, no input
                    )
                )
                await conn.execute(sa.text(f"ANALYZE {table}"))
            await conn.commit()


def build(db: Database, concurrency: int) -> Pipeline:
    """The pipeline and follow-ups as `helpline serve` builds them (no channels: the outbox
    keeps the messages)."""
    flows = FlowLibrary(BOT_ROOT / "bot" / "flows")
    assert flows.reload().ok
    catalogs = Catalogs()
    referral = Referral(catalogs)
    return Pipeline(
        db,
        flows,
        catalogs,
        places=places_from([Municipality(**m) for m in load_municipalities()]),
        numbers=load_numbers(),
        clock=lambda: datetime.now(UTC),
        referral=referral,
        followups=Followups(referral.ctx, concurrency=concurrency),
    )


async def run(args: argparse.Namespace) -> None:
    if args.database == "postgres":
        name = f"helpline_bench_{secrets.token_hex(4)}"
        await _pg_admin(f'CREATE DATABASE "{name}"')
        url = f"postgresql+asyncpg://{PG[2]}@{PG[0]}:{PG[1]}/{name}"
    else:
        tmp = tempfile.mkdtemp(prefix="helpline-bench-")
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        name = ""
    try:
        await migrate.upgrade_async(url)
        db = Database(url, Crypto(KEYS, SECRET))
        started = time.perf_counter()
        # The burst comes due once seeding is surely over (about 5,000 orders a second here).
        start = datetime.now(UTC) + timedelta(seconds=20 + args.orders / 2500)
        await seed(db, args.orders, args.burst, args.burst_seconds, start)
        seeded = time.perf_counter() - started
        async with db.uow() as uow:
            counts = await uow.followups.counts()
            counts["contacts"] = (
                await uow.conn.execute(sa.text("SELECT count(*) FROM contacts"))
            ).scalar_one()
            counts["cases"] = (
                await uow.conn.execute(sa.text("SELECT count(*) FROM cases"))
            ).scalar_one()
        pipeline = build(db, args.concurrency)
        scheduler = Scheduler(pipeline, interval=args.interval)
        idle, busy = [], []
        for _ in range(args.idle_ticks):  # before the burst: the cost of looking
            t0 = time.perf_counter()
            await scheduler.sweep()
            idle.append(time.perf_counter() - t0)
        # Wait for the burst to come due (the bench's own schedule, not a test's wait).
        await asyncio.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))
        deadline = time.monotonic() + args.burst_seconds + args.interval * 2
        sent = 0
        while sent < args.burst or time.monotonic() < deadline:
            tick = time.monotonic()
            t0 = time.perf_counter()
            sent += await scheduler.sweep()
            busy.append(time.perf_counter() - t0)
            if sent >= args.burst and time.monotonic() >= deadline:
                break
            await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - tick)))
        async with db.uow() as uow:
            rows = (
                await uow.conn.execute(
                    sa.text(
                        "SELECT c.nominal_at, o.created_at FROM checkins c "
                        "JOIN outbox o ON o.contact_id = c.contact_id AND o.kind = 'followup'"
                    )
                )
            ).all()
        lateness = []
        for due, queued in rows:
            due = due if due.tzinfo else due.replace(tzinfo=UTC)
            queued = queued if queued.tzinfo else queued.replace(tzinfo=UTC)
            lateness.append((queued - due).total_seconds())
        await db.dispose()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"database: {args.database}; orders: {args.orders}; "
            f"burst: {args.burst} due over {args.burst_seconds:g} s"
        )
        print(f"seeded in {seeded:.1f} s; rows: {counts}")
        print(
            f"sweep per tick, nothing due: p50 {statistics.median(idle) * 1000:.1f} ms, "
            f"max {max(idle) * 1000:.1f} ms ({len(idle)} ticks)"
        )
        print(
            f"sweep per tick, burst due: p50 {statistics.median(busy) * 1000:.1f} ms, "
            f"max {max(busy) * 1000:.1f} ms ({len(busy)} ticks, interval {args.interval} s)"
        )
        print(
            f"check-ins sent: {len(lateness)} of {args.burst} due; lateness p50 "
            f"{pct(lateness, 50):.2f} s, p99 {pct(lateness, 99):.2f} s, max {max(lateness):.2f} s"
        )
        print(f"peak memory (max RSS): {rss:.0f} MiB")
    finally:
        if name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=2_000)
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8, help="check-ins run at once")
    parser.add_argument("--idle-ticks", type=int, default=10)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
