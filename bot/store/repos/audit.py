"""The audit log: sensitive actions (a survivor's number revealed) with who and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.models import AuditRow
from bot.store.records import AuditEntry
from bot.store.repos.base import Repo

audit = AuditRow.__table__


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to list; None matches every entry."""

    admin_user_id: int | None = None
    coordinator_id: int | None = None
    action: str | None = None
    case_id: int | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before


class AuditRepo(Repo):
    """The audit_log table; entries are only ever added."""

    async def add(
        self,
        action: str,
        *,
        now: datetime,
        coordinator_id: int | None = None,
        case_id: int | None = None,
        data: dict[str, Any] | None = None,
        admin_user_id: int | None = None,
    ) -> int:
        """Record an action; returns the entry's id."""
        stmt = (
            sa.insert(audit)
            .values(
                at=now,
                coordinator_id=coordinator_id,
                case_id=case_id,
                action=action,
                data_enc=self.crypto.encrypt_json(dict(data or {})),
                admin_user_id=admin_user_id,
            )
            .returning(audit.c.id)
        )
        return (await self.conn.execute(stmt)).scalar_one()

    async def list_all(
        self, *, case_id: int | None = None, newest_first: bool = False, limit: int | None = None
    ) -> list[AuditEntry]:
        """Entries, oldest first (or newest first), of one case or all."""
        order = (audit.c.at.desc(), audit.c.id.desc()) if newest_first else (audit.c.at, audit.c.id)
        stmt = sa.select(audit).order_by(*order).limit(limit)
        if case_id is not None:
            stmt = stmt.where(audit.c.case_id == case_id)
        return [self._entry(r) for r in await self.conn.execute(stmt)]

    async def page(
        self, where: AuditFilter, *, before_id: int | None = None, size: int = 100
    ) -> tuple[list[AuditEntry], int | None]:
        """One page of matching entries, newest (highest id) first, and the id to continue
        before (None on the last page). Keyset paging: every entry stays reachable however
        many are added, and a page is an index range scan however deep it is."""
        stmt = sa.select(audit).order_by(audit.c.id.desc()).limit(size + 1)
        conditions = [
            audit.c.admin_user_id == where.admin_user_id
            if where.admin_user_id is not None
            else None,
            audit.c.coordinator_id == where.coordinator_id
            if where.coordinator_id is not None
            else None,
            audit.c.action == where.action if where.action is not None else None,
            audit.c.case_id == where.case_id if where.case_id is not None else None,
            audit.c.at >= where.since if where.since is not None else None,
            audit.c.at < where.until if where.until is not None else None,
            audit.c.id < before_id if before_id is not None else None,
        ]
        stmt = stmt.where(*(c for c in conditions if c is not None))
        rows = (await self.conn.execute(stmt)).all()
        more = len(rows) > size
        entries = [self._entry(r) for r in rows[:size]]
        return entries, (entries[-1].id if more else None)

    async def actions(self) -> list[str]:
        """Every action recorded so far, for the filter's choices."""
        query = sa.select(audit.c.action).distinct().order_by(audit.c.action)
        found = await self.conn.execute(query)
        return list(found.scalars())

    def _entry(self, r: Any) -> AuditEntry:
        return AuditEntry(
            id=r.id,
            at=r.at,
            coordinator_id=r.coordinator_id,
            case_id=r.case_id,
            action=r.action,
            data=self.crypto.decrypt_json(r.data_enc),
            admin_user_id=r.admin_user_id,
        )
