"""Referral: coordinators, duty shifts, alerts, case assignments, audit log, services directory.

Revision ID: 0002_referral
Revises: 0001_initial
Create Date: 2026-11-23

Written by hand in the style of 0001: portable types, names from the naming convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_referral"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY autoincrements


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", ID, nullable=False)


def upgrade() -> None:
    """Create the referral tables."""
    op.create_table(
        "coordinators",
        _id(),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_hash", sa.String(64), nullable=True),
        sa.Column("telegram_enc", sa.LargeBinary(), nullable=True),
        sa.Column("telegram_hash", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("failing_channel", sa.String(32), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("demo", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("removed_at", _time(), nullable=True),
        sa.CheckConstraint("language IN ('sq', 'en')", name=op.f("ck_coordinators_language")),
        sa.CheckConstraint(
            "role IN ('coordinator', 'backup')", name=op.f("ck_coordinators_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinators")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_coordinators_phone_hash")),
        sa.UniqueConstraint("telegram_hash", name=op.f("uq_coordinators_telegram_hash")),
    )
    op.create_index(op.f("ix_coordinators_municipality"), "coordinators", ["municipality"])

    op.create_table(
        "duty_shifts",
        _id(),
        sa.Column("coordinator_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("starts_at", _time(), nullable=True),
        sa.Column("ends_at", _time(), nullable=True),
        sa.Column("days", sa.String(32), nullable=True),
        sa.Column("start_time", sa.String(5), nullable=True),
        sa.Column("end_time", sa.String(5), nullable=True),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('always', 'window', 'weekly')", name=op.f("ck_duty_shifts_kind")
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["coordinators.id"],
            name=op.f("fk_duty_shifts_coordinator_id_coordinators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_shifts")),
    )
    op.create_index(op.f("ix_duty_shifts_coordinator_id"), "duty_shifts", ["coordinator_id"])

    op.create_table(
        "alerts",
        _id(),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("coordinator_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("outbox_id", ID, nullable=True),
        sa.Column("fallback_at", _time(), nullable=True),
        sa.Column("due_at", _time(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("sent_at", _time(), nullable=True),
        sa.Column("answered_at", _time(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('page', 'digest', 'relay', 'notice')", name=op.f("ck_alerts_kind")
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'waiting', 'accepted', 'taken', 'cancelled', 'info')",
            name=op.f("ck_alerts_state"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_alerts_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["coordinators.id"],
            name=op.f("fk_alerts_coordinator_id_coordinators"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_alerts_outbox_id_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_case_id"), "alerts", ["case_id"])
    op.create_index(op.f("ix_alerts_outbox_id"), "alerts", ["outbox_id"])
    op.create_index(
        op.f("ix_alerts_coordinator_id_created_at"), "alerts", ["coordinator_id", "created_at"]
    )
    op.create_index(op.f("ix_alerts_state_due_at"), "alerts", ["state", "due_at"])

    op.create_table(
        "case_assignments",
        sa.Column("case_id", ID, nullable=False),
        sa.Column("coordinator_id", ID, nullable=False),
        sa.Column("accepted_at", _time(), nullable=False),
        sa.Column("relay_until", _time(), nullable=True),
        sa.Column("quiet", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_assignments_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["coordinators.id"],
            name=op.f("fk_case_assignments_coordinator_id_coordinators"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_assignments")),
    )
    op.create_index(
        op.f("ix_case_assignments_coordinator_id"), "case_assignments", ["coordinator_id"]
    )

    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", _time(), nullable=False),
        sa.Column("coordinator_id", ID, nullable=True),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["coordinators.id"],
            name=op.f("fk_audit_log_coordinator_id_coordinators"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_audit_log_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_case_id_at"), "audit_log", ["case_id", "at"])

    op.create_table(
        "services",
        _id(),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("phone", sa.String(64), nullable=False),
        sa.Column("hours", sa.String(255), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("serves", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("country IN ('AL', 'XK')", name=op.f("ck_services_country")),
        sa.CheckConstraint(
            "kind IN ('shelter', 'police', 'health', 'legal', 'psychosocial', 'social', "
            "'economic')",
            name=op.f("ck_services_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    op.create_index(
        op.f("ix_services_municipality_kind"), "services", ["municipality", "kind"]
    )


def downgrade() -> None:
    """Drop the referral tables (indexes go with their tables)."""
    for table in (
        "services",
        "audit_log",
        "case_assignments",
        "alerts",
        "duty_shifts",
        "coordinators",
    ):
        op.drop_table(table)
