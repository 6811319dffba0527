"""Municipalities of Albania and Kosovo, by slug."""

from __future__ import annotations

import sqlalchemy as sa

from bot.store.models import MunicipalityRow
from bot.store.records import Municipality
from bot.store.repos.base import Repo

municipalities = MunicipalityRow.__table__


class MunicipalityRepo(Repo):
    """The municipalities table."""

    async def upsert_all(self, items: list[Municipality]) -> None:
        """Insert new municipalities and update known ones (matched by slug)."""
        if not items:
            return
        stmt = self.insert(municipalities).values(
            [
                {
                    "slug": m.slug,
                    "name": m.name,
                    "country": m.country,
                    "county": m.county,
                    "tz": m.tz,
                    "aliases": list(m.aliases),
                }
                for m in items
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["slug"],
            set_={c: stmt.excluded[c] for c in ("name", "country", "county", "tz", "aliases")},
        )
        await self.conn.execute(stmt)

    async def list_all(self) -> list[Municipality]:
        """Every municipality, ordered by slug."""
        rows = await self.conn.execute(sa.select(municipalities).order_by(municipalities.c.slug))
        return [
            Municipality(
                slug=r.slug,
                name=r.name,
                country=r.country,
                county=r.county,
                tz=r.tz,
                aliases=tuple(r.aliases or ()),
            )
            for r in rows
        ]
