"""Flow versions: the source of every flow version served, kept for sessions pinned to it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.store.models import FlowVersionRow
from bot.store.repos.base import Repo

flow_versions = FlowVersionRow.__table__


class FlowRepo(Repo):
    """The flow_versions table."""

    async def save(self, name: str, version: str, source: str, now: datetime) -> bool:
        """Keep a flow version's source; False when that version was kept already."""
        stmt = (
            self.insert(flow_versions)
            .values(name=name, version=version, source=source, created_at=now, published=False)
            .on_conflict_do_nothing(index_elements=["name", "version"])
            .returning(flow_versions.c.id)
        )
        return (await self.conn.execute(stmt)).scalar_one_or_none() is not None

    async def get(self, name: str, version: str) -> str | None:
        """The source of one version of a flow."""
        return (
            await self.conn.execute(
                sa.select(flow_versions.c.source).where(
                    flow_versions.c.name == name, flow_versions.c.version == version
                )
            )
        ).scalar_one_or_none()

    async def versions(self, name: str) -> list[tuple[str, datetime]]:
        """A flow's versions, oldest first: (version, stored at)."""
        rows = await self.conn.execute(
            sa.select(flow_versions.c.version, flow_versions.c.created_at)
            .where(flow_versions.c.name == name)
            .order_by(flow_versions.c.created_at, flow_versions.c.id)
        )
        return [(r.version, r.created_at) for r in rows]
