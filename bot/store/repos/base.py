"""What every repository shares: the connection, the crypto and dialect-specific SQL helpers."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.crypto import Crypto
from bot.store.driver import Prepared


class Repo:
    """Base of the repositories: one per table family, all sharing the unit of work's connection."""

    def __init__(self, conn: AsyncConnection, crypto: Crypto, dialect: str) -> None:
        self.conn = conn
        self.crypto = crypto
        self.dialect = dialect

    def insert(self, table: sa.Table) -> Any:
        """An INSERT that supports ON CONFLICT on this database."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @property
    def postgres(self) -> bool:
        """True on PostgreSQL (row locks and SKIP LOCKED exist)."""
        return self.dialect == "postgresql"

    async def claim_rows(
        self,
        table: sa.Table,
        now: datetime,
        limit: int,
        lease: timedelta,
        owner: str,
        *,
        count_reclaims: bool = False,
        returning: tuple[str, ...] = (),
    ) -> list[Any]:
        """Lease due rows (pending and due, or leased with an expired lease), oldest first.

        One UPDATE whose WHERE re-checks the claim condition: a row another claimer took in the
        meantime no longer matches, so no row goes to two owners. On PostgreSQL the candidates
        are picked FOR UPDATE SKIP LOCKED, so claimers never wait on each other; on SQLite the
        unit of work holds the write lock (BEGIN IMMEDIATE), so the statement is a plain
        compare-and-set. Commits nothing: the caller's unit of work does. `returning`: the
        columns the caller reads (with `id` and `due_at`, for the order), else all of them.
        """
        if limit <= 0:
            return []
        stmt = _claim(table, self.dialect, count_reclaims, returning)
        params = {"now": now, "n": limit, "until": now + lease, "owner": owner}
        rows = await stmt.rows(self.conn, params)
        return sorted(rows, key=lambda r: (r.due_at, r.id))


@cache
def _claim(
    table: sa.Table, dialect: str, count_reclaims: bool, returning: tuple[str, ...] = ()
) -> Prepared:
    """Repo.claim_rows's UPDATE for this table and database, built once and run on the
    driver (bot/store/driver.py): the sender claims on every pass."""
    now = sa.bindparam("now", type_=table.c.due_at.type)
    # Statuses written into the SQL, not bound: on a table with a partial index on its status
    # (fires), SQLite would re-prepare the statement at every run (see repos/sessions.py).
    pending = sa.literal("pending", literal_execute=True)
    leased = sa.literal("leased", literal_execute=True)
    due = sa.or_(
        sa.and_(table.c.status == pending, table.c.due_at <= now),
        sa.and_(table.c.status == leased, table.c.leased_until <= now),
    )
    pick: Any = (
        sa.select(table.c.id)
        .where(due)
        .order_by(table.c.due_at, table.c.id)
        .limit(sa.bindparam("n", type_=sa.Integer()))
    )
    if dialect == "postgresql":
        # A CTE runs once; `id IN (subquery)` may be re-run by the planner, and with
        # SKIP LOCKED each run can pick other rows, so more than `limit` get leased.
        pick = (
            pick.with_for_update(skip_locked=True)
            .cte("picked")
            .prefix_with("MATERIALIZED")
            .select()
        )
    values: dict[str, Any] = {
        "status": "leased",
        "leased_until": sa.bindparam("until", type_=table.c.leased_until.type),
        "lease_owner": sa.bindparam("owner", type_=table.c.lease_owner.type),
    }
    if count_reclaims:
        # A lease that ran out means a sender died mid-attempt: count it, so a row that
        # crashes every sender ends up failed instead of looping forever.
        values["attempts"] = table.c.attempts + sa.case((table.c.status == "leased", 1), else_=0)
    columns = [table.c[name] for name in ("id", "due_at", *returning) if name in table.c]
    # Only what the caller reads: each column returned is a value converted for every row
    # (on SQLite a datetime is parsed from text), and the lease's own columns are known.
    if not returning:
        columns = list(table.c)
    return Prepared(
        sa.update(table)
        .where(table.c.id.in_(pick), due)
        .values(**values)
        .returning(*dict.fromkeys(columns))
    )
