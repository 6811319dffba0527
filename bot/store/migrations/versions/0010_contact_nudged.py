"""When a person was last sent WhatsApp's "a message waits for you" template (issue 18).

Revision ID: 0010_contact_nudged
Revises: 0009_coordinator_whatsapp
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_contact_nudged"
down_revision: str | None = "0009_coordinator_whatsapp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """contacts.nudged_at: one announcement a day for every worker, not one a worker."""
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop it (each worker counts its own announcements again)."""
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("nudged_at")
