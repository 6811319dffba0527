"""The scheduler: APScheduler 3.11's AsyncIOScheduler runs the sweeps; the rows are the truth.

Nothing about a timer or a check-in lives in APScheduler's job store: every job here is a sweep
that claims due rows from the database (fires: waits' timeouts, session expiry, the referral's
alert escalation; check-ins of follow-up plans). A job missed while the process was down is
simply the next sweep's work; several processes sweep the same tables safely (SKIP LOCKED on
PostgreSQL, one writer on SQLite).

More periodic jobs go through Scheduler.add_job / Scheduler.add_daily (e.g. the daily retention
purge): `app[SCHEDULER].add_daily(purge, at="03:30", id="retention")` in bot/app.py.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import Counter, Histogram

from bot.followups.service import Followups, Starter

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5.0  # how often due timers and check-ins are looked for
# APScheduler's default misfire grace is 1 s: a daily job whose moment passes while the loop is
# busy for longer would be skipped until tomorrow. Hours late is still better than a day.
DAILY_GRACE = timedelta(hours=6)
SWEEP_TIME = Histogram(
    "helpline_sweep_seconds",
    "Time one sweep of due timers and check-ins took",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHECKINS = Counter("helpline_checkins_run_total", "Due check-ins handled by the sweep")


class Sweeps(Starter, Protocol):
    """What the sweep needs of the pipeline (bot/pipeline.py): due timers, its follow-ups, and
    what a check-in needs (it runs them through the pipeline)."""

    followups: Followups

    async def sweep_fires(self) -> int:
        """Claim due timers and run them; how many ran."""
        ...


class Scheduler:
    """Owns the AsyncIOScheduler of one process and its jobs."""

    def __init__(
        self,
        pipeline: Sweeps,
        *,
        interval: float = SWEEP_SECONDS,
        timezone: str = "UTC",
    ) -> None:
        self.pipeline = pipeline
        self.interval = interval
        self.aps = AsyncIOScheduler(timezone=timezone)
        self.aps.add_job(
            self.sweep,
            "interval",
            seconds=interval,
            id="sweep",
            max_instances=1,  # a slow sweep is never overlapped by the next one
            coalesce=True,
        )

    async def sweep(self) -> int:
        """One tick: due fires (timeouts, expiry, alert escalation), then due check-ins."""
        started = _time.perf_counter()
        done = 0
        try:
            done += await self.pipeline.sweep_fires()
        except Exception:
            log.exception("the timer sweep failed")
        try:
            ran = await self.pipeline.followups.sweep(self.pipeline)
            CHECKINS.inc(ran)
            done += ran
        except Exception:
            log.exception("the follow-up sweep failed")
        SWEEP_TIME.observe(_time.perf_counter() - started)
        return done

    def add_job(
        self, func: Callable[..., Awaitable[Any]], trigger: str = "interval", **options: Any
    ) -> Any:
        """Another periodic job (APScheduler's add_job: trigger and its options, an `id`)."""
        options.setdefault("max_instances", 1)
        options.setdefault("coalesce", True)
        return self.aps.add_job(func, trigger, **options)

    def add_daily(
        self,
        func: Callable[..., Awaitable[Any]],
        *,
        at: str,
        id: str,
        timezone: str = "Europe/Tirane",
    ) -> Any:
        """A job once a day at local time `at` ("HH:MM"). A run late by up to DAILY_GRACE (a busy
        loop, a pause) still runs; a day missed while down is skipped, so the job must itself
        catch up (read its rows, not the date it last ran)."""
        hour, minute = (int(x) for x in at.split(":"))
        return self.add_job(
            func,
            "cron",
            hour=hour,
            minute=minute,
            timezone=timezone,
            id=id,
            misfire_grace_time=int(DAILY_GRACE.total_seconds()),
        )

    def start(self) -> None:
        """Start ticking (needs the running event loop)."""
        self.aps.start()

    def shutdown(self, wait: bool = False) -> None:
        """Stop; a sweep under way finishes its current row's transaction or rolls it back."""
        if self.aps.running:
            self.aps.shutdown(wait=wait)
