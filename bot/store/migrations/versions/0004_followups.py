"""Follow-ups: protection orders, check-in plans, integration milestones.

Revision ID: 0004_followups
Revises: 0003_outbox_delete
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_followups"
down_revision: str | None = "0003_outbox_delete"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet: filled in by the issue that owns this revision."""


def downgrade() -> None:
    """Nothing yet."""
