"""Coordinators may take alerts on WhatsApp at their phone number (issue 18).

Revision ID: 0009_coordinator_whatsapp
Revises: 0008_code_word
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_coordinator_whatsapp"
down_revision: str | None = "0008_code_word"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """coordinators.whatsapp: their phone number takes WhatsApp (off for everyone so far)."""
    with op.batch_alter_table("coordinators") as batch:
        batch.add_column(
            sa.Column("whatsapp", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Drop it (alerts go by Telegram or SMS again)."""
    with op.batch_alter_table("coordinators") as batch:
        batch.drop_column("whatsapp")
