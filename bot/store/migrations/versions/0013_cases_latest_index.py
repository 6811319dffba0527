"""The cases' index on contact_id becomes (contact_id, created_at, id) (issue 19).

Revision ID: 0013_cases_latest_index
Revises: 0012_publication_duplicates
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_cases_latest_index"
down_revision: str | None = "0012_publication_duplicates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Her latest open case read in the index's order: every message's look at her standing
    sorted her cases in a temporary B-tree on SQLite (ORDER BY created_at DESC, id DESC)."""
    op.create_index(
        "ix_cases_contact_id_created_at_id", "cases", ["contact_id", "created_at", "id"]
    )
    op.drop_index("ix_cases_contact_id", table_name="cases")


def downgrade() -> None:
    """Back to contact_id alone."""
    op.create_index("ix_cases_contact_id", "cases", ["contact_id"])
    op.drop_index("ix_cases_contact_id_created_at_id", table_name="cases")
