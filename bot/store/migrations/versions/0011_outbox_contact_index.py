"""The outbox's index on contact_id becomes (contact_id, status, due_at) (issue 19).

Revision ID: 0011_outbox_contact_index
Revises: 0010_contact_nudged
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_outbox_contact_index"
down_revision: str | None = "0010_contact_nudged"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Her waiting rows found by her contact: releasing them read every contact's pending rows."""
    op.create_index(
        "ix_outbox_contact_id_status_due_at", "outbox", ["contact_id", "status", "due_at"]
    )
    op.drop_index("ix_outbox_contact_id", table_name="outbox")


def downgrade() -> None:
    """Back to contact_id alone."""
    op.create_index("ix_outbox_contact_id", "outbox", ["contact_id"])
    op.drop_index("ix_outbox_contact_id_status_due_at", table_name="outbox")
