"""The services directory: public services per municipality and kind, replaced as a whole."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from bot.store.models import ServiceRow
from bot.store.records import Service
from bot.store.repos.base import Repo

services = ServiceRow.__table__


class ServiceRepo(Repo):
    """The services table."""

    async def replace_all(self, items: Sequence[Service]) -> None:
        """The directory becomes exactly `items`, in their order (one transaction)."""
        await self.conn.execute(sa.delete(services))
        if items:
            await self.conn.execute(
                sa.insert(services),
                [
                    {
                        "country": s.country,
                        "municipality": s.municipality,
                        "kind": s.kind,
                        "name": s.name,
                        "phone": s.phone,
                        "hours": s.hours,
                        "notes": s.notes,
                        "serves": list(s.serves),
                        "position": position,
                    }
                    for position, s in enumerate(items)
                ],
            )

    async def list_all(self, *, kind: str | None = None) -> list[Service]:
        """Every service (of one kind), in the order they were imported."""
        stmt = sa.select(services).order_by(services.c.position, services.c.id)
        if kind is not None:
            stmt = stmt.where(services.c.kind == kind)
        return [
            Service(
                country=r.country,
                municipality=r.municipality,
                kind=r.kind,
                name=r.name,
                phone=r.phone,
                hours=r.hours,
                notes=r.notes,
                serves=tuple(r.serves or ()),
            )
            for r in await self.conn.execute(stmt)
        ]
