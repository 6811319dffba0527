"""The audit log: sensitive actions (a survivor's number revealed) with who and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.models import AuditRow
from bot.store.records import AuditEntry
from bot.store.repos.base import Repo

audit = AuditRow.__table__


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
        return [
            AuditEntry(
                id=r.id,
                at=r.at,
                coordinator_id=r.coordinator_id,
                case_id=r.case_id,
                action=r.action,
                data=self.crypto.decrypt_json(r.data_enc),
                admin_user_id=r.admin_user_id,
            )
            for r in await self.conn.execute(stmt)
        ]
