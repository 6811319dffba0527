"""Security: retention marks (when a message's text was purged, when a case was anonymised).

Revision ID: 0006_security
Revises: 0005_admin
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_security"
down_revision: str | None = "0005_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """messages.purged_at and cases.anonymised_at: the daily retention job sets them once."""
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the two marks (purged texts stay purged)."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("purged_at")
