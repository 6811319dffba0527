"""Timers the pipeline sweeps: one pending timer of a kind per session, leased when claimed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.store.models import FireRow
from bot.store.records import Fire
from bot.store.repos.base import Repo

fires = FireRow.__table__

# Built once (every message that waits schedules a timer); see repos/outbox.py.
DROP_PENDING = sa.delete(fires).where(
    fires.c.session_id == sa.bindparam("of_session"),
    fires.c.kind == sa.bindparam("of_kind"),
    fires.c.status == "pending",
)
INSERT_FIRE = sa.insert(fires).returning(fires.c.id)


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
        if session_id is not None:
            await self.conn.execute(DROP_PENDING, {"of_session": session_id, "of_kind": kind})
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
        return (await self.conn.execute(INSERT_FIRE, row)).scalar_one()

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
