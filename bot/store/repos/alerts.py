"""Alerts to coordinators, who accepted which case, and the case status changes they make."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa

from bot.store.driver import Prepared, inserting
from bot.store.models import (
    ALERT_KINDS,
    ALERT_STATES,
    AlertRow,
    CaseAssignmentRow,
    CaseRow,
    ContactRow,
    OutboxRow,
)
from bot.store.records import Alert, Assignment
from bot.store.repos.base import Repo

alerts = AlertRow.__table__
assignments = CaseAssignmentRow.__table__
cases = CaseRow.__table__
contacts = ContactRow.__table__
outbox = OutboxRow.__table__

OPEN_FOR_ACCEPTANCE = ("new", "alerted")
WORKED = ("accepted", "referred")
# Built once and run on the driver (bot/store/driver.py): every message a person sends asks
# whether a coordinator relays for her.
ASSIGNMENTS_OF_CONTACT = Prepared(
    sa.select(assignments)
    .join(cases, cases.c.id == assignments.c.case_id)
    .where(cases.c.contact_id == sa.bindparam("of_contact"), cases.c.status.in_(WORKED))
)
# A case's alerts with its reference and status, oldest first: read by every request for a
# coordinator (an urgent message), built once and run on the driver.
FOR_CASE = Prepared(
    sa.select(alerts, cases.c.reference, cases.c.status.label("case_status"))
    .join(cases, cases.c.id == alerts.c.case_id)
    .where(alerts.c.case_id == sa.bindparam("of_case"))
    .order_by(alerts.c.id)
)
ADD_ALERT = inserting(sa.insert(alerts))


@lru_cache(maxsize=64)
def _page_stats(count: int) -> Prepared:
    """Pages per coordinator since `since` and the last one, for `count` ids (id0, id1...):
    built once per number of coordinators and run on the driver (every urgent case)."""
    since = alerts.c.created_at >= sa.bindparam("since")
    recent = sa.func.sum(sa.case((since, 1), else_=0)).label("recent")
    ids: list[Any] = [sa.bindparam(f"id{i}") for i in range(count)]
    return Prepared(
        sa.select(alerts.c.coordinator_id, recent, sa.func.max(alerts.c.created_at).label("last"))
        .where(alerts.c.coordinator_id.in_(ids), alerts.c.kind == "page")
        .group_by(alerts.c.coordinator_id)
    )


@cache
def _change_status(allowed: tuple[str, ...]) -> Prepared:
    """A case's compare-and-set status change from one of `allowed` (a few, fixed in code)."""
    return Prepared(
        sa.update(cases).where(cases.c.id == sa.bindparam("of_id"), cases.c.status.in_(allowed))
    )


# A message still being retried after this many failed attempts goes the other way too, at
# once: the sender's backoff would otherwise hold an urgent page for half an hour.
FALLBACK_AFTER_ATTEMPTS = 1
# Only messages due this recently are looked at again: keeps the sweep's queries small as the
# outbox grows, and an alert a day old is no use on any channel.
FALLBACK_WINDOW = timedelta(days=1)


class AlertRepo(Repo):
    """The alerts and case_assignments tables, and compare-and-set changes of a case's status."""

    @staticmethod
    def _record(row: Any, reference: str = "", case_status: str = "") -> Alert:
        """An Alert from a row."""
        return Alert(
            id=row.id,
            case_id=row.case_id,
            coordinator_id=row.coordinator_id,
            kind=row.kind,
            step=row.step,
            state=row.state,
            channel=row.channel,
            outbox_id=row.outbox_id,
            fallback_at=row.fallback_at,
            due_at=row.due_at,
            created_at=row.created_at,
            sent_at=row.sent_at,
            answered_at=row.answered_at,
            reference=reference,
            case_status=case_status,
        )

    def _joined(self) -> Any:
        """Alerts with their case's reference and status."""
        return sa.select(alerts, cases.c.reference, cases.c.status.label("case_status")).join(
            cases, cases.c.id == alerts.c.case_id
        )

    def _records(self, rows: Iterable[Any]) -> list[Alert]:
        """Alerts from joined rows."""
        return [self._record(r, r.reference, r.case_status) for r in rows]

    async def add(
        self,
        *,
        case_id: int,
        coordinator_id: int,
        kind: str,
        state: str,
        due_at: datetime,
        now: datetime,
        step: int = 0,
        channel: str | None = None,
        outbox_id: int | None = None,
        sent_at: datetime | None = None,
    ) -> int:
        """Record an alert; returns its id."""
        if kind not in ALERT_KINDS or state not in ALERT_STATES:
            raise ValueError(f"unknown alert kind or state: {kind}, {state}")
        values = {
            "case_id": case_id,
            "coordinator_id": coordinator_id,
            "kind": kind,
            "step": step,
            "state": state,
            "channel": channel,
            "outbox_id": outbox_id,
            "due_at": due_at,
            "created_at": now,
            "sent_at": sent_at,
        }
        alert_id: int = await ADD_ALERT.scalar_one(self.conn, values)
        return alert_id

    async def set_delivery(
        self,
        alert_ids: Sequence[int],
        *,
        channel: str,
        outbox_id: int,
        sent_at: datetime,
    ) -> None:
        """The alerts now travel in this outbox row on this channel."""
        if alert_ids:
            await self.conn.execute(
                sa.update(alerts)
                .where(alerts.c.id.in_(list(alert_ids)))
                .values(channel=channel, outbox_id=outbox_id, sent_at=sent_at)
            )

    async def for_case(self, case_id: int) -> list[Alert]:
        """A case's alerts, oldest first."""
        return self._records(await FOR_CASE.rows(self.conn, {"of_case": case_id}))

    async def waiting_for(self, coordinator_id: int) -> list[Alert]:
        """Pages and digest entries this coordinator may still accept, oldest first."""
        rows = await self.conn.execute(
            self._joined()
            .where(
                alerts.c.coordinator_id == coordinator_id,
                alerts.c.state == "waiting",
                cases.c.status.in_(OPEN_FOR_ACCEPTANCE),
            )
            .order_by(alerts.c.id)
        )
        return self._records(rows)

    async def page_stats(
        self, coordinator_ids: Iterable[int], since: datetime
    ) -> dict[int, tuple[int, datetime | None]]:
        """Per coordinator: pages since `since`, and when they were last paged at all."""
        ids = sorted(set(coordinator_ids))
        if not ids:
            return {}
        params: dict[str, Any] = {f"id{i}": v for i, v in enumerate(ids)}
        rows = await _page_stats(len(ids)).rows(self.conn, params | {"since": since})
        stats: dict[int, tuple[int, datetime | None]] = {i: (0, None) for i in ids}
        found: list[Any] = rows
        for coordinator_id, count, last in found:
            stats[coordinator_id] = (int(count or 0), _aware(last))
        return stats

    async def settle(self, case_id: int, winner_id: int | None, now: datetime) -> list[int]:
        """A case was taken (or closed): the winner's alerts answered, the others' ended.

        Returns the coordinators who were waiting on it and did not take it, to be told.
        """
        waiting = (
            await self.conn.execute(
                sa.select(alerts.c.coordinator_id)
                .where(alerts.c.case_id == case_id, alerts.c.state == "waiting")
                .distinct()
            )
        ).scalars()
        others = sorted(c for c in waiting if c != winner_id)
        if winner_id is not None:
            await self.conn.execute(
                sa.update(alerts)
                .where(
                    alerts.c.case_id == case_id,
                    alerts.c.coordinator_id == winner_id,
                    alerts.c.state.in_(("waiting", "queued")),
                )
                .values(state="accepted", answered_at=now)
            )
        await self.conn.execute(
            sa.update(alerts)
            .where(alerts.c.case_id == case_id, alerts.c.state == "waiting")
            .values(state="taken" if winner_id is not None else "cancelled")
        )
        await self.conn.execute(
            sa.update(alerts)
            .where(alerts.c.case_id == case_id, alerts.c.state == "queued")
            .values(state="cancelled")
        )
        return others

    async def claim_due_digests(self, now: datetime, limit: int = 500) -> list[Alert]:
        """Digest entries whose time came: marked waiting here, so no two sweeps send them."""
        pick = (
            sa.select(alerts.c.id)
            .where(alerts.c.kind == "digest", alerts.c.state == "queued", alerts.c.due_at <= now)
            .order_by(alerts.c.due_at, alerts.c.id)
            .limit(limit)
        )
        if self.postgres:
            pick = pick.with_for_update(skip_locked=True).cte("picked").select()
        ids = (
            await self.conn.execute(
                sa.update(alerts)
                .where(alerts.c.id.in_(pick), alerts.c.state == "queued")
                .values(state="waiting", sent_at=now)
                .returning(alerts.c.id)
            )
        ).scalars()
        wanted = sorted(ids)
        if not wanted:
            return []
        rows = await self.conn.execute(
            self._joined().where(alerts.c.id.in_(wanted)).order_by(alerts.c.id)
        )
        return self._records(rows)

    async def claim_failed(self, now: datetime, limit: int = 200) -> list[Alert]:
        """Alerts whose message failed (or keeps failing) and were not sent another way yet."""
        failing = sa.or_(
            outbox.c.status == "failed",
            sa.and_(outbox.c.status == "pending", outbox.c.attempts >= FALLBACK_AFTER_ATTEMPTS),
        )
        pick = (
            sa.select(alerts.c.id)
            .join(outbox, outbox.c.id == alerts.c.outbox_id)
            .where(
                failing,
                outbox.c.due_at >= now - FALLBACK_WINDOW,
                alerts.c.fallback_at.is_(None),
            )
            .order_by(alerts.c.id)
            .limit(limit)
        )
        if self.postgres:
            # Lock only the alerts: the outbox rows belong to the sender.
            pick = pick.with_for_update(skip_locked=True, of=alerts).cte("picked").select()
        ids = (
            await self.conn.execute(
                sa.update(alerts)
                .where(alerts.c.id.in_(pick), alerts.c.fallback_at.is_(None))
                .values(fallback_at=now)
                .returning(alerts.c.id)
            )
        ).scalars()
        wanted = sorted(ids)
        if not wanted:
            return []
        rows = await self.conn.execute(
            self._joined().where(alerts.c.id.in_(wanted)).order_by(alerts.c.id)
        )
        return self._records(rows)

    async def dead_pages(self, now: datetime) -> list[Alert]:
        """Waiting pages that failed on every channel the coordinator has."""
        rows = await self.conn.execute(
            self._joined()
            .join(outbox, outbox.c.id == alerts.c.outbox_id)
            .where(
                outbox.c.status == "failed",
                outbox.c.due_at >= now - FALLBACK_WINDOW,
                alerts.c.kind == "page",
                alerts.c.state == "waiting",
                alerts.c.fallback_at.is_not(None),
            )
            .order_by(alerts.c.id)
        )
        return self._records(rows)

    async def set_state(self, alert_ids: Iterable[int], state: str) -> None:
        """Set the state of some alerts."""
        if state not in ALERT_STATES:
            raise ValueError(f"unknown alert state {state!r}")
        ids = sorted(set(alert_ids))
        if ids:
            await self.conn.execute(
                sa.update(alerts).where(alerts.c.id.in_(ids)).values(state=state)
            )

    async def supersede(self, outbox_id: int, channel: str) -> bool:
        """Stop retrying a message that was sent another way; False if it is mid-send or done."""
        result = await self.conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.status == "pending")
            .values(status="failed", last_error=f"superseded: sent by {channel}")
        )
        return bool(result.rowcount)

    async def message_of(self, outbox_id: int) -> tuple[str, list[dict[str, Any]], str] | None:
        """The text, buttons and status of an outbox row (to send it again another way)."""
        row = (
            await self.conn.execute(
                sa.select(outbox.c.payload_enc, outbox.c.status).where(outbox.c.id == outbox_id)
            )
        ).first()
        if row is None:
            return None
        payload = self.crypto.decrypt_json(row.payload_enc)
        return payload["text"], list(payload.get("buttons") or []), row.status

    async def case_of_message(
        self, coordinator_id: int, channel: str, external_id: str
    ) -> int | None:
        """The case a message we sent this coordinator was about (a Telegram reply to it)."""
        row = (
            await self.conn.execute(
                sa.select(alerts.c.case_id)
                .join(outbox, outbox.c.id == alerts.c.outbox_id)
                .where(
                    alerts.c.coordinator_id == coordinator_id,
                    outbox.c.channel == channel,
                    outbox.c.external_id == external_id,
                )
                .order_by(alerts.c.id.desc())
                .limit(1)
            )
        ).first()
        return row.case_id if row else None

    # -- case status and assignment ------------------------------------------------------------

    async def change_status(
        self, case_id: int, allowed: Sequence[str], status: str, now: datetime
    ) -> bool:
        """Compare-and-set a case's status; False when it was not in `allowed` (someone won)."""
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "closed":
            values["closed_at"] = now
        changed = await _change_status(tuple(allowed)).rowcount(
            self.conn, {"of_id": case_id, **values}
        )
        return changed == 1

    async def accept(self, case_id: int, coordinator_id: int, now: datetime) -> bool:
        """Exactly one coordinator wins a case: a conditional UPDATE, checked by its row count.

        On PostgreSQL a second acceptance waits on the row lock, then re-reads the status and
        matches nothing; on SQLite the write lock serialises them the same way.
        """
        if self.postgres:
            # Accepting writes to the person (outbox and messages rows referencing their
            # contact), and the pipeline holds that contact FOR UPDATE while it handles their
            # message, which may change this case. Take the person's row first, the case
            # second, in the same order as that transaction, or the two can deadlock.
            person = sa.select(cases.c.contact_id).where(cases.c.id == case_id).scalar_subquery()
            await self.conn.execute(
                sa.select(contacts.c.id)
                .where(contacts.c.id == person)
                .with_for_update(key_share=True, read=True)
            )
        if not await self.change_status(case_id, OPEN_FOR_ACCEPTANCE, "accepted", now):
            return False
        await self.conn.execute(
            sa.insert(assignments).values(
                case_id=case_id, coordinator_id=coordinator_id, accepted_at=now, quiet=False
            )
        )
        return True

    @staticmethod
    def _assignment(row: Any) -> Assignment:
        """An Assignment from a row."""
        return Assignment(
            case_id=row.case_id,
            coordinator_id=row.coordinator_id,
            accepted_at=row.accepted_at,
            relay_until=row.relay_until,
            quiet=row.quiet,
        )

    async def assignment(self, case_id: int) -> Assignment | None:
        """Who accepted the case, if anyone."""
        row = (
            await self.conn.execute(sa.select(assignments).where(assignments.c.case_id == case_id))
        ).first()
        return self._assignment(row) if row else None

    async def open_cases_of(
        self, coordinator_id: int, *, simulated: bool = False
    ) -> list[tuple[Assignment, str, str]]:
        """The real (or simulated) cases a coordinator accepted that are not closed:
        (assignment, reference, status)."""
        rows = await self.conn.execute(
            sa.select(assignments, cases.c.reference, cases.c.status)
            .join(cases, cases.c.id == assignments.c.case_id)
            .where(
                assignments.c.coordinator_id == coordinator_id,
                cases.c.status.in_(WORKED),
                cases.c.simulated.is_(simulated),
            )
            .order_by(assignments.c.accepted_at, assignments.c.case_id)
        )
        return [(self._assignment(r), r.reference, r.status) for r in rows]

    async def relay_for_contact(self, contact_id: int, now: datetime) -> Assignment | None:
        """The worked case of this person whose relay is open at `now`, newest first."""
        return open_relay(await self.assignments_for_contact(contact_id), now)

    async def assignments_for_contact(self, contact_id: int) -> list[Assignment]:
        """Every worked case of this person that has a coordinator."""
        rows = await ASSIGNMENTS_OF_CONTACT.rows(self.conn, {"of_contact": contact_id})
        return [self._assignment(r) for r in rows]

    async def set_relay(
        self, case_id: int, *, until: datetime | None = None, quiet: bool | None = None
    ) -> None:
        """Open, extend or close the relay (until=None leaves it), or set the quiet flag."""
        values: dict[str, Any] = {}
        if until is not None:
            values["relay_until"] = until
        if quiet is not None:
            values["quiet"] = quiet
        if values:
            await self.conn.execute(
                sa.update(assignments).where(assignments.c.case_id == case_id).values(**values)
            )

    async def close_relay(self, case_id: int) -> None:
        """No more relaying for this case."""
        await self.conn.execute(
            sa.update(assignments).where(assignments.c.case_id == case_id).values(relay_until=None)
        )


def open_relay(worked: Iterable[Assignment], now: datetime) -> Assignment | None:
    """Of a person's worked cases' assignments, the one whose relay is open at `now`, newest."""
    open_now = [a for a in worked if a.relay_until is not None and a.relay_until > now]
    return max(open_now, key=lambda a: a.relay_until or now, default=None)


def _aware(value: datetime | str | None) -> datetime | None:
    """Aggregates may bypass the column type on SQLite: make them aware UTC again."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
