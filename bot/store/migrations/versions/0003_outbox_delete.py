"""FSHI on Telegram: outbox kind "delete", and the chat message id of each inbound message.

Revision ID: 0003_outbox_delete
Revises: 0002_referral
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_outbox_delete"
down_revision: str | None = "0002_referral"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind IN ('reply', 'alert', 'followup', 'system')"
NEW = "kind IN ('reply', 'alert', 'followup', 'system', 'delete')"


def _kinds(sql: str) -> None:
    # Batch mode: on SQLite, which cannot alter a CHECK constraint, the table is copied.
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint("kind", sql)


def upgrade() -> None:
    """Allow outbox rows of kind delete; keep inbound messages' chat ids."""
    _kinds(NEW)
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("chat_message_id", sa.String(32), nullable=True))


def downgrade() -> None:
    """Drop delete rows, then narrow the kinds again."""
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("chat_message_id")
    op.execute("DELETE FROM outbox WHERE kind = 'delete'")
    _kinds(OLD)
