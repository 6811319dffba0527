"""Conversation sessions: the engine's state, encrypted; at most one waiting per contact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.crypto import Crypto
from bot.store.driver import Prepared, inserting
from bot.store.models import SESSION_STATUSES, SessionRow
from bot.store.records import StoredSession
from bot.store.repos.base import Repo

sessions = SessionRow.__table__
# Built once (every message loads its contact's session and saves it): building a statement
# cost about as much CPU as running it; and run on the driver (bot/store/driver.py).
# The status is written into the SQL, not bound: SQLite re-prepares a statement at every run
# when a bound value meets the WHERE of a partial index (uq_sessions_contact_id_waiting), as
# its planner might use the index for some values only: 26-35 against 7-8 µs a run.
WAITING = sa.literal("waiting", literal_execute=True)
ACTIVE_OF_CONTACT = Prepared(
    sa.select(sessions).where(
        sessions.c.contact_id == sa.bindparam("of_contact"), sessions.c.status == WAITING
    )
)
# Whether it found the row by its row count, not by RETURNING its id: SQLite collects what a
# statement returns in a temporary B-tree (see driver.inserting), ~24,000 instructions a run.
SAVE_SESSION = Prepared(
    sa.update(sessions).where(
        sessions.c.id == sa.bindparam("of_id"), sessions.c.contact_id == sa.bindparam("of_contact")
    )
)
INSERT_SESSION = inserting(sa.insert(sessions))


def stored_session(crypto: Crypto, row: Any) -> StoredSession:
    """A session from its row (all of the table's columns, by name)."""
    return StoredSession(
        id=row.id,
        contact_id=row.contact_id,
        status=row.status,
        state=crypto.decrypt_json(row.state_enc),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SessionRepo(Repo):
    """The sessions table."""

    def _record(self, row: Any) -> StoredSession:
        return stored_session(self.crypto, row)

    async def get_active(self, contact_id: int) -> StoredSession | None:
        """The contact's waiting session, if any."""
        row = await ACTIVE_OF_CONTACT.first(self.conn, {"of_contact": contact_id})
        return self._record(row) if row else None

    async def get(self, session_id: int) -> StoredSession | None:
        """A session by id."""
        row = (
            await self.conn.execute(sa.select(sessions).where(sessions.c.id == session_id))
        ).first()
        return self._record(row) if row else None

    async def save(
        self,
        contact_id: int,
        session_id: int | None,
        state: dict[str, Any],
        status: str,
        now: datetime,
    ) -> int:
        """Insert a session (session_id None) or update one; returns its id."""
        if status not in SESSION_STATUSES:
            raise ValueError(f"unknown session status {status!r}")
        state_enc = self.crypto.encrypt_json(state)
        if session_id is None:
            new = {"contact_id": contact_id, "status": status, "state_enc": state_enc}
            new |= {"created_at": now, "updated_at": now}
            created: int = await INSERT_SESSION.scalar_one(self.conn, new)
            return created
        values = {"of_id": session_id, "of_contact": contact_id, "status": status}
        values |= {"state_enc": state_enc, "updated_at": now}
        if await SAVE_SESSION.rowcount(self.conn, values) != 1:
            raise LookupError(f"session {session_id} of contact {contact_id} does not exist")
        return session_id
