"""The scheduler's daily jobs: late by a busy loop is still today, not skipped to tomorrow."""

from __future__ import annotations

from datetime import timedelta

from bot.followups.scheduler import DAILY_GRACE, Scheduler


async def test_daily_jobs_run_late_rather_than_skip_a_day() -> None:
    scheduler = Scheduler(pipeline=None, interval=60)

    async def purge() -> None:
        return None

    job = scheduler.add_daily(purge, at="03:30", id="retention")
    # APScheduler's default grace is one second: a loop busy at 03:30 would lose the day.
    assert job.misfire_grace_time == DAILY_GRACE.total_seconds() >= timedelta(hours=1).seconds
    assert job.coalesce is True  # several missed moments run once
