"""Follow-ups: protection orders, check-in plans, integration milestones.

Revision ID: 0004_followups
Revises: 0003_outbox_delete
Create Date: 2026-11-23

Written by hand in the style of 0001/0002: portable types, names from the naming convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_followups"
down_revision: str | None = "0003_outbox_delete"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(
    sa.Integer(), "sqlite"
)  # SQLite: INTEGER PRIMARY KEY autoincrements


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", ID, nullable=False)


def upgrade() -> None:
    """Create the follow-up tables."""
    op.create_table(
        "protection_orders",
        _id(),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("end_is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("registered_by", ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.CheckConstraint("country IN ('AL', 'XK')", name=op.f("ck_protection_orders_country")),
        sa.CheckConstraint(
            "status IN ('active', 'ended', 'replaced', 'erased')",
            name=op.f("ck_protection_orders_status"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_protection_orders_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_protection_orders_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"],
            ["coordinators.id"],
            name=op.f("fk_protection_orders_registered_by_coordinators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protection_orders")),
    )
    op.create_index(op.f("ix_protection_orders_case_id"), "protection_orders", ["case_id"])
    op.create_index(op.f("ix_protection_orders_contact_id"), "protection_orders", ["contact_id"])

    op.create_table(
        "followup_plans",
        _id(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=True),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("starts_at", _time(), nullable=False),
        sa.Column("ends_at", _time(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("ended_at", _time(), nullable=True),
        sa.CheckConstraint("kind IN ('order', 'integration')", name=op.f("ck_followup_plans_kind")),
        sa.CheckConstraint(
            "status IN ('active', 'ended', 'stopped', 'replaced', 'erased')",
            name=op.f("ck_followup_plans_status"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_followup_plans_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_followup_plans_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["protection_orders.id"],
            name=op.f("fk_followup_plans_order_id_protection_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_plans")),
    )
    op.create_index(op.f("ix_followup_plans_case_id"), "followup_plans", ["case_id"])
    op.create_index(
        op.f("ix_followup_plans_contact_id_status"), "followup_plans", ["contact_id", "status"]
    )

    op.create_table(
        "milestones",
        _id(),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.String(16), nullable=True),
        sa.Column("set_by", ID, nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("answered_at", _time(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('housing', 'job', 'training', 'income')", name=op.f("ck_milestones_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'answered', 'cancelled')", name=op.f("ck_milestones_status")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["followup_plans.id"],
            name=op.f("fk_milestones_plan_id_followup_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_by"],
            ["coordinators.id"],
            name=op.f("fk_milestones_set_by_coordinators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
    )
    op.create_index(op.f("ix_milestones_plan_id"), "milestones", ["plan_id"])

    op.create_table(
        "checkins",
        _id(),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("milestone_id", ID, nullable=True),
        sa.Column("purpose", sa.String(16), server_default=sa.text("'checkin'"), nullable=False),
        sa.Column("nominal_at", _time(), nullable=False),
        sa.Column("due_at", _time(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("deferrals", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("leased_until", _time(), nullable=True),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("sent_at", _time(), nullable=True),
        sa.Column("answered_at", _time(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'leased', 'done', 'cancelled')",
            name=op.f("ck_checkins_status"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["followup_plans.id"],
            name=op.f("fk_checkins_plan_id_followup_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_checkins_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["milestones.id"],
            name=op.f("fk_checkins_milestone_id_milestones"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    op.create_index(op.f("ix_checkins_plan_id"), "checkins", ["plan_id"])
    op.create_index(op.f("ix_checkins_contact_id"), "checkins", ["contact_id"])
    op.create_index(op.f("ix_checkins_milestone_id"), "checkins", ["milestone_id"])
    op.create_index(op.f("ix_checkins_status_due_at"), "checkins", ["status", "due_at"])
    op.create_index(op.f("ix_checkins_status_leased_until"), "checkins", ["status", "leased_until"])


def downgrade() -> None:
    """Drop the follow-up tables (their rows go with them)."""
    for table in ("checkins", "milestones", "followup_plans", "protection_orders"):
        op.drop_table(table)
