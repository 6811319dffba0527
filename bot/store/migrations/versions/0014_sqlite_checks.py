"""SQLite's CHECK constraints of three or more values read `col = 'a' OR ...` (issue 19).

Revision ID: 0014_sqlite_checks
Revises: 0013_cases_latest_index
Create Date: 2026-12-04

SQLite evaluates a CHECK's `col IN ('a', 'b', 'c')` by building an ephemeral table of the
values (OP_OpenEphemeral, one insert a value) every time it runs: at every INSERT into the
table and every UPDATE of the column, ~4.1 a message, ~30,000 instructions each (callgrind:
bench/instructions.py 2,150,307 -> 2,025,671 instructions a message, -5.8 %).
`col = 'a' OR col = 'b' OR col = 'c'` is a row of comparisons against constants loaded once,
and accepts the same values (NULL included: both give NULL, which a CHECK passes; both compare
with the column's affinity and collation). Two values SQLite already compares one by one, so
those constraints stay as they are. PostgreSQL keeps its constraints: nothing to do there.

How: the constraint's text is rewritten in sqlite_schema in place (PRAGMA writable_schema),
the procedure SQLite's ALTER TABLE documentation gives for changes that leave the stored
content as it is, such as removing or adding CHECK constraints (section "Making Other Kinds Of
Table Schema Changes"). Not batch mode's copy of the table: it copies every row of ten tables
and drops the old ones, whose implicit DELETE ran the foreign keys' actions (ON DELETE CASCADE,
SET NULL) while they were on during migrations (env.py now turns them off). In place, rows,
rowids, indexes, foreign keys and names stay exactly as they were; the text is replaced only
where it reads exactly as 0001-0013 wrote it (else the migration stops, changing nothing),
and PRAGMA integrity_check of each table, which also checks every row against its CHECK
constraints, must say "ok" before the transaction commits.

The values are this revision's (bot/store/models.py's at the time), not imported: a later
change to the models must not change what this migration did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0014_sqlite_checks"
down_revision: str | None = "0013_cases_latest_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint, column, values): every CHECK of three or more values at 0013.
CHECKS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("outbox", "ck_outbox_kind", "kind", ("reply", "alert", "followup", "system", "delete")),
    ("outbox", "ck_outbox_status", "status", ("pending", "leased", "sent", "failed")),
    ("cases", "ck_cases_risk_level", "risk_level", ("standard", "medium", "high")),
    ("cases", "ck_cases_status", "status", ("new", "alerted", "accepted", "referred", "closed")),
    ("fires", "ck_fires_status", "status", ("pending", "leased", "done", "cancelled")),
    ("duty_shifts", "ck_duty_shifts_kind", "kind", ("always", "window", "weekly")),
    ("alerts", "ck_alerts_kind", "kind", ("page", "digest", "relay", "notice")),
    (
        "alerts",
        "ck_alerts_state",
        "state",
        ("queued", "waiting", "accepted", "taken", "cancelled", "info"),
    ),
    (
        "services",
        "ck_services_kind",
        "kind",
        ("shelter", "police", "health", "legal", "psychosocial", "social", "economic"),
    ),
    (
        "protection_orders",
        "ck_protection_orders_status",
        "status",
        ("active", "ended", "replaced", "erased"),
    ),
    (
        "followup_plans",
        "ck_followup_plans_status",
        "status",
        ("active", "ended", "stopped", "replaced", "erased"),
    ),
    ("milestones", "ck_milestones_kind", "kind", ("housing", "job", "training", "income")),
    ("milestones", "ck_milestones_status", "status", ("pending", "answered", "cancelled")),
    ("checkins", "ck_checkins_status", "status", ("pending", "leased", "done", "cancelled")),
)


def in_list(column: str, values: tuple[str, ...]) -> str:
    """The text 0001-0013 wrote (and PostgreSQL keeps)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def or_chain(column: str, values: tuple[str, ...]) -> str:
    """The text SQLite evaluates without an ephemeral table."""
    return " OR ".join(f"{column} = {v!r}" for v in values)


def _constraint(name: str, check: str) -> str:
    return f"CONSTRAINT {name} CHECK ({check})"


def _rewrite(old: Callable[[str, tuple[str, ...]], str], new: Callable[..., str]) -> None:
    """On SQLite, each CHECK of CHECKS from `old`'s text to `new`'s, in sqlite_schema."""
    if op.get_context().dialect.name != "sqlite":
        return
    if context.is_offline_mode():
        # The text rewritten is read from the database (and checked) first.
        raise NotImplementedError("0014 on SQLite runs online only (not with --sql)")
    bind = op.get_bind()
    tables: dict[str, str] = {}
    for table, name, column, values in CHECKS:
        if table not in tables:
            tables[table] = bind.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
                {"name": table},
            ).scalar_one()
        was, becomes = (
            _constraint(name, old(column, values)),
            _constraint(name, new(column, values)),
        )
        if tables[table].count(was) != 1:
            # Someone's schema differs from what the migrations wrote: stop, change nothing.
            raise RuntimeError(f"{table}: {name} does not read as expected; not rewritten")
        tables[table] = tables[table].replace(was, becomes)
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    try:
        for table, sql in tables.items():
            bind.execute(
                sa.text(
                    "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :name"
                ),
                {"sql": sql, "name": table},
            )
        # A new schema version: this connection and every other one reads the schema again.
        bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    finally:
        bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    for table in tables:
        found = [row[0] for row in bind.execute(sa.text(f'PRAGMA integrity_check("{table}")'))]
        if found != ["ok"]:
            raise RuntimeError(f"{table}: integrity_check after the rewrite: {found[:3]}")


def upgrade() -> None:
    """SQLite: `col IN (3+ values)` becomes `col = v OR ...`; PostgreSQL: nothing."""
    _rewrite(in_list, or_chain)


def downgrade() -> None:
    """SQLite: back to `col IN (...)`; PostgreSQL: nothing."""
    _rewrite(or_chain, in_list)
