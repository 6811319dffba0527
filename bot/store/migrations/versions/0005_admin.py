"""Admin web: users, sign-in sessions, login attempts, translation overrides, flow publications.

Revision ID: 0005_admin
Revises: 0004_followups
Create Date: 2026-11-23

Written by hand in the style of 0001/0002: portable types, names from the naming convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_admin"
down_revision: str | None = "0004_followups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY autoincrements


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", ID, nullable=False)


def upgrade() -> None:
    """Create the admin tables; audit entries learn which admin user acted."""
    op.create_table(
        "admin_users",
        _id(),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("last_login_at", _time(), nullable=True),
        sa.CheckConstraint("role IN ('admin', 'coordinator')", name=op.f("ck_admin_users_role")),
        sa.CheckConstraint("language IN ('sq', 'en')", name=op.f("ck_admin_users_language")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_users_username")),
    )
    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("last_seen_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["admin_users.id"],
            name=op.f("fk_admin_sessions_user_id_admin_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_admin_sessions")),
    )
    op.create_index(op.f("ix_admin_sessions_user_id"), "admin_sessions", ["user_id"])
    op.create_index(op.f("ix_admin_sessions_expires_at"), "admin_sessions", ["expires_at"])
    op.create_table(
        "login_attempts",
        _id(),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        op.f("ix_login_attempts_key_hash_at"), "login_attempts", ["key_hash", "at"]
    )
    op.create_table(
        "translation_overrides",
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("msgid", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("updated_by", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["admin_users.id"],
            name=op.f("fk_translation_overrides_updated_by_admin_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("locale", "msgid", name=op.f("pk_translation_overrides")),
    )
    op.create_table(
        "flow_publications",
        _id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(12), nullable=False),
        sa.Column("published_at", _time(), nullable=False),
        sa.Column("published_by", ID, nullable=True),
        sa.Column("note", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["admin_users.id"],
            name=op.f("fk_flow_publications_published_by_admin_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_publications")),
    )
    op.create_index(
        op.f("ix_flow_publications_name_published_at"),
        "flow_publications",
        ["name", "published_at"],
    )
    op.add_column("audit_log", sa.Column("admin_user_id", ID, nullable=True))
    op.create_index(op.f("ix_audit_log_admin_user_id"), "audit_log", ["admin_user_id"])


def downgrade() -> None:
    """Drop the admin tables."""
    op.drop_index(op.f("ix_audit_log_admin_user_id"), table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("admin_user_id")
    op.drop_index(op.f("ix_flow_publications_name_published_at"), table_name="flow_publications")
    op.drop_table("flow_publications")
    op.drop_table("translation_overrides")
    op.drop_index(op.f("ix_login_attempts_key_hash_at"), table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_index(op.f("ix_admin_sessions_expires_at"), table_name="admin_sessions")
    op.drop_index(op.f("ix_admin_sessions_user_id"), table_name="admin_sessions")
    op.drop_table("admin_sessions")
    op.drop_table("admin_users")
