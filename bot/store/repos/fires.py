"""Timers the pipeline sweeps: one pending timer of a kind per session, leased when claimed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.driver import Prepared, inserting
from bot.store.models import FireRow
from bot.store.records import Fire
from bot.store.repos.base import Repo

fires = FireRow.__table__

# Built once (every message that waits schedules a timer); see repos/outbox.py.
INSERT_FIRE = inserting(sa.insert(fires))


def _replacing(insert: Any) -> Any:
    """An INSERT that takes the place of the session's pending timer of that kind, if any: one
    statement where a DELETE and an INSERT were (uq_fires_session_id_kind_pending)."""
    stmt = insert(fires)
    return stmt.on_conflict_do_update(
        index_elements=[fires.c.session_id, fires.c.kind],
        index_where=sa.text("status = 'pending'"),  # literal: PostgreSQL matches it to the index
        set_={
            name: stmt.excluded[name]
            for name in ("contact_id", "due_at", "seq", "created_at", "payload")
        },
    ).returning(fires.c.id)


# Built once for each database, run on the driver (bot/store/driver.py): every message that
# waits schedules one or two timers.
REPLACE_FIRE = {
    "postgresql": Prepared(_replacing(postgresql.insert)),
    "sqlite": Prepared(_replacing(sqlite.insert)),
}


class FireRepo(Repo):
    """The fires table."""

    @staticmethod
    def _record(row: Any) -> Fire:
        return Fire(
            id=row.id,
            contact_id=row.contact_id,
            session_id=row.session_id,
            kind=row.kind,
            due_at=row.due_at,
            seq=row.seq,
            payload=dict(row.payload or {}),
        )

    async def schedule(
        self,
        *,
        contact_id: int,
        session_id: int | None,
        kind: str,
        due_at: datetime,
        seq: int,
        now: datetime,
        payload: dict[str, Any] | None = None,
    ) -> int:
        """Schedule a timer, replacing a pending one of the same (session, kind); returns its id."""
        row = {
            "contact_id": contact_id,
            "session_id": session_id,
            "kind": kind,
            "due_at": due_at,
            "seq": seq,
            "status": "pending",
            "created_at": now,
            "payload": payload,
        }
        # NULLs never conflict: without a session there is nothing to replace.
        stmt = INSERT_FIRE if session_id is None else REPLACE_FIRE[self.dialect]
        fire_id: int = await stmt.scalar_one(self.conn, row)
        return fire_id

    async def cancel_for_session(self, session_id: int) -> None:
        """Cancel a session's timers that have not run."""
        await self.conn.execute(
            sa.update(fires)
            .where(fires.c.session_id == session_id, fires.c.status.in_(("pending", "leased")))
            .values(status="cancelled", leased_until=None, lease_owner=None)
        )

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, owner: str
    ) -> list[Fire]:
        """Lease due timers to `owner` (see Repo.claim_rows); the caller commits."""
        return [self._record(r) for r in await self.claim_rows(fires, now, limit, lease, owner)]

    async def done(self, fire_id: int) -> None:
        """The timer ran."""
        await self.conn.execute(
            sa.update(fires)
            .where(fires.c.id == fire_id)
            .values(status="done", leased_until=None, lease_owner=None)
        )
