"""Security: retention and erasure bookkeeping.

Revision ID: 0006_security
Revises: 0005_admin
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_security"
down_revision: str | None = "0005_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet: filled in by the issue that owns this revision."""


def downgrade() -> None:
    """Nothing yet."""
