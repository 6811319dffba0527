"""Flow publications: which stored version of each flow is current, since when, by whom."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.store.models import FlowPublicationRow
from bot.store.records import Publication
from bot.store.repos.base import Repo

publications = FlowPublicationRow.__table__
# Any fixed bigint, the same in every worker, not the leader's ("HELP"): "PUBL" in ASCII.
FILES_LOCK_KEY = 0x5055424C


class PublicationRepo(Repo):
    """The flow_publications table."""

    async def lock_for_files(self) -> None:
        """Hold, until the transaction ends, the right to record the shipped files' publications.

        Workers starting at once each read "no publication yet", then each recorded one: the
        history showed one copy a worker. On PostgreSQL a transaction-level advisory lock makes
        them take turns, and each reads the publications only once it holds the lock, so the
        second sees the first's. On SQLite the unit of work's first statement takes the write
        lock (BEGIN IMMEDIATE), which already does the same: nothing to run here.
        """
        if self.postgres:
            await self.conn.execute(
                sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", FILES_LOCK_KEY)))
            )

    async def publish(
        self, name: str, version: str, now: datetime, user_id: int | None, note: str | None = None
    ) -> int:
        """Make a stored flow version the current one."""
        stmt = (
            sa.insert(publications)
            .values(name=name, version=version, published_at=now, published_by=user_id, note=note)
            .returning(publications.c.id)
        )
        return (await self.conn.execute(stmt)).scalar_one()

    async def history(self, name: str | None = None) -> list[Publication]:
        """Publications, newest first, of one flow or all."""
        stmt = sa.select(publications).order_by(
            publications.c.published_at.desc(), publications.c.id.desc()
        )
        if name is not None:
            stmt = stmt.where(publications.c.name == name)
        return [
            Publication(
                id=r.id,
                name=r.name,
                version=r.version,
                published_at=r.published_at,
                published_by=r.published_by,
                note=r.note,
            )
            for r in await self.conn.execute(stmt)
        ]

    async def current(self) -> dict[str, Publication]:
        """The newest publication of each flow."""
        current: dict[str, Publication] = {}
        for pub in await self.history():
            current.setdefault(pub.name, pub)
        return current

    async def last_id(self) -> int:
        """The id of the newest publication (0 when none): workers compare it to reload."""
        found = (await self.conn.execute(sa.select(sa.func.max(publications.c.id)))).scalar()
        return int(found or 0)
