"""Failed attempts, counted per keyed hash: admin sign-ins (by user name and by address) and
coordinators' look-ups of unknown case references (bot/referral/desk.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from bot.store.models import LoginAttemptRow
from bot.store.repos.base import Repo

attempts = LoginAttemptRow.__table__


class FailureRepo(Repo):
    """The login_attempts table."""

    async def add(self, key_hashes: Iterable[str], now: datetime) -> None:
        """Count a failure against each key (a user name, a client address, a coordinator)."""
        rows = [{"key_hash": k, "at": now} for k in key_hashes]
        if rows:
            await self.conn.execute(sa.insert(attempts), rows)

    async def count_since(self, key_hash: str, since: datetime) -> int:
        """Failures of a key since a time."""
        return (
            await self.conn.execute(
                sa.select(sa.func.count())
                .select_from(attempts)
                .where(attempts.c.key_hash == key_hash, attempts.c.at > since)
            )
        ).scalar_one()

    async def clear(self, key_hash: str) -> None:
        """Forget a key's failures (a good sign-in clears the user name's)."""
        await self.conn.execute(sa.delete(attempts).where(attempts.c.key_hash == key_hash))

    async def purge(self, before: datetime) -> None:
        """Forget failures older than any limit's window."""
        await self.conn.execute(sa.delete(attempts).where(attempts.c.at <= before))
