"""The shipped files' publications recorded twice by workers starting at once are removed.

Revision ID: 0012_publication_duplicates
Revises: 0011_outbox_contact_index
Create Date: 2026-12-03

Before PublicationRepo.lock_for_files, `helpline serve --workers N` on PostgreSQL had every
worker record a publication of each shipped flow file at start-up: the admin's flow history
showed the same version N times in a row. What goes is a publication from the files (no admin,
note "files") of the same version as the one just before it of the same flow (by published_at,
then id), which is also from the files: the earliest of each such run stays. An admin's
publications all stay, and so does a flow that really went A -> B -> A.

Nothing refers to a publication's id (no foreign key; the audit log names flow and version;
the workers compare only the newest id, PublicationRepo.last_id, and a worker that sees it
change reloads the publications, which is harmless). The downgrade restores nothing: the rows
removed said only what the one before them said.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_publication_duplicates"
down_revision: str | None = "0011_outbox_contact_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Window functions: PostgreSQL, and SQLite since 3.25 (2018). The first row of a flow has no
# row before it: its before_note is NULL, so it stays.
DELETE_REPEATS = """
DELETE FROM flow_publications WHERE id IN (
    SELECT id FROM (
        SELECT
            id,
            version,
            published_by,
            note,
            LAG(version) OVER (PARTITION BY name ORDER BY published_at, id) AS before_version,
            LAG(published_by) OVER (PARTITION BY name ORDER BY published_at, id) AS before_by,
            LAG(note) OVER (PARTITION BY name ORDER BY published_at, id) AS before_note
        FROM flow_publications
    ) AS ordered
    WHERE published_by IS NULL AND note = 'files'
        AND before_by IS NULL AND before_note = 'files'
        AND version = before_version
)
"""


def upgrade() -> None:
    """Delete each files publication that repeats the files publication just before it."""
    op.execute(DELETE_REPEATS)


def downgrade() -> None:
    """Nothing: the repeats deleted are not restored (they added nothing to the history)."""
