"""Retention: after HELPLINE_RETENTION_DAYS, texts and free-text answers go, closed cases lose
their link to the person, and people long gone are forgotten; run daily by the scheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.store.db import Database

log = logging.getLogger(__name__)

JOB_ID = "retention"
RUN_AT = "03:30"  # Europe/Tirane: the quietest hour
BATCHES = 200  # a bound on one run's work (500 rows a batch); the next day picks up the rest


@dataclass(slots=True)
class RetentionReport:
    """What one run did (figures only; recorded in the audit log)."""

    messages_purged: int = 0
    outbox_deleted: int = 0
    sessions_deleted: int = 0
    cases_anonymised: int = 0
    contacts_forgotten: int = 0

    @property
    def total(self) -> int:
        """Rows changed in all."""
        return sum(asdict(self).values())


async def run_retention(db: Database, days: int, now: datetime) -> RetentionReport:
    """Apply the retention period once; nothing happens when `days` is 0 (keep forever)."""
    report = RetentionReport()
    if days <= 0:
        return report
    cutoff = now - timedelta(days=days)
    async with db.uow() as uow:
        r = uow.retention
        report.messages_purged = await r.purge_message_texts(cutoff, now)
        report.outbox_deleted = await r.delete_finished_outbox(cutoff)
        report.sessions_deleted = await r.delete_ended_sessions(cutoff)
        await uow.commit()
    # Cases and people in batches, one transaction each, so a big backlog never holds the
    # database for long (SQLite has one writer).
    for _ in range(BATCHES):
        async with db.uow() as uow:
            done = await uow.retention.anonymise_closed_cases(cutoff, now)
            await uow.commit()
        report.cases_anonymised += done
        if not done:
            break
    for _ in range(BATCHES):
        async with db.uow() as uow:
            gone = await uow.retention.contacts_gone(cutoff)
            for contact_id in gone:
                # The same erasure as FSHI (cases keep anonymised figures), without the goodbye.
                await uow.contacts.erase(contact_id, now)
            await uow.commit()
        report.contacts_forgotten += len(gone)
        if not gone:
            break
    async with db.uow() as uow:
        await uow.audit.add("retention_applied", now=now, data={"days": days, **asdict(report)})
        await uow.commit()
    log.info(
        "retention (%d days): %d texts purged, %d outbox rows and %d sessions deleted, "
        "%d cases anonymised, %d people forgotten",
        days,
        report.messages_purged,
        report.outbox_deleted,
        report.sessions_deleted,
        report.cases_anonymised,
        report.contacts_forgotten,
    )
    return report


def schedule_retention(
    scheduler: Any,
    db: Database,
    days: int,
    clock: Callable[[], datetime],
    leads: Callable[[], bool] = lambda: True,
) -> None:
    """Add the daily job to bot.followups.scheduler.Scheduler (only the leading worker runs it)."""
    if days <= 0:
        log.info("retention is off (HELPLINE_RETENTION_DAYS=0): personal data is kept")
        return

    async def job() -> None:
        if not leads():
            return
        try:
            await run_retention(db, days, clock())
        except Exception:
            log.exception("the retention job failed; it runs again tomorrow")

    # Local night in Albania and Kosovo; the job catches up by itself (it reads rows, not dates).
    scheduler.add_daily(job, at=RUN_AT, id=JOB_ID)
