"""Code words: the person's own word and her distress word, encrypted, on her contact row.

Revision ID: 0008_code_word
Revises: 0007_case_simulated
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_code_word"
down_revision: str | None = "0007_case_simulated"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """contacts.code_word_enc and contacts.distress_word_enc (both optional)."""
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("code_word_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("distress_word_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Drop both (the words are gone with them)."""
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("distress_word_enc")
        batch.drop_column("code_word_enc")
