"""Who is signed in to /admin: browsers' sessions, by a hash of their token."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.store.models import AdminSessionRow, AdminUserRow
from bot.store.records import AdminUser
from bot.store.repos.accounts import user_record
from bot.store.repos.base import Repo

sessions = AdminSessionRow.__table__
users = AdminUserRow.__table__


class AdminSessionRepo(Repo):
    """The admin_sessions table."""

    async def add(self, token_hash: str, user_id: int, now: datetime, expires_at: datetime) -> None:
        """Remember a signed-in browser by a hash of its token."""
        await self.conn.execute(
            sa.insert(sessions).values(
                token_hash=token_hash,
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )

    async def user(
        self, token_hash: str, now: datetime, started_after: datetime | None = None
    ) -> AdminUser | None:
        """The active user of an unexpired session (begun after `started_after`, if given)."""
        row = (
            await self.conn.execute(
                sa.select(users)
                .join(sessions, sessions.c.user_id == users.c.id)
                .where(
                    sessions.c.token_hash == token_hash,
                    sessions.c.expires_at > now,
                    sessions.c.created_at > (started_after or datetime.min),
                    users.c.active.is_(True),
                )
            )
        ).first()
        return user_record(row) if row else None

    async def touch(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        """Slide an active session's expiry forward."""
        await self.conn.execute(
            sa.update(sessions)
            .where(sessions.c.token_hash == token_hash)
            .values(last_seen_at=now, expires_at=expires_at)
        )

    async def end(self, token_hash: str) -> None:
        """Sign a browser out."""
        await self.conn.execute(sa.delete(sessions).where(sessions.c.token_hash == token_hash))

    async def end_all_of(self, user_id: int) -> None:
        """Sign a user out everywhere (password changed, user disabled)."""
        await self.conn.execute(sa.delete(sessions).where(sessions.c.user_id == user_id))

    async def purge(self, now: datetime) -> int:
        """Forget expired sessions; how many."""
        result = await self.conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now))
        return int(result.rowcount or 0)
