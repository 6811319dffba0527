"""Cases opened in the simulator are marked, so they never mix with real ones.

Revision ID: 0007_case_simulated
Revises: 0006_security
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_case_simulated"
down_revision: str | None = "0006_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """cases.simulated, set on the cases whose person wrote from the simulator."""
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("simulated", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Existing cases: the contact's channel says where they came from (an erased person's
    # contact row keeps its channel, but the case lost its link: those stay real, the safe side).
    op.execute(
        "UPDATE cases SET simulated = TRUE WHERE contact_id IN "
        "(SELECT id FROM contacts WHERE channel = 'simulator')"
    )


def downgrade() -> None:
    """Drop the mark."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("simulated")
