"""Admin web: users, sign-in sessions, translation overrides.

Revision ID: 0005_admin
Revises: 0004_followups
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_admin"
down_revision: str | None = "0004_followups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet: filled in by the issue that owns this revision."""


def downgrade() -> None:
    """Nothing yet."""
