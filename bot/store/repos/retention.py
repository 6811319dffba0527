"""Retention and key rotation: SQL that sweeps every table holding personal data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.safe_times import HELD
from bot.store.models import (
    AuditRow,
    Base,
    CaseEventRow,
    CaseRow,
    ContactRow,
    FollowupPlanRow,
    MessageRow,
    OutboxRow,
    SessionRow,
)
from bot.store.repos.base import Repo
from bot.store.repos.contacts import ANONYMOUS_EVENT_KINDS

messages = MessageRow.__table__
outbox = OutboxRow.__table__
sessions = SessionRow.__table__
cases = CaseRow.__table__
case_events = CaseEventRow.__table__
audit = AuditRow.__table__
contacts = ContactRow.__table__
plans = FollowupPlanRow.__table__

ENCRYPTED_SUFFIX = "_enc"  # every column holding personal data is named so, and encrypted
BATCH = 500


def encrypted_columns() -> Iterator[tuple[sa.Table, sa.Column[Any], list[sa.Column[Any]]]]:
    """(table, primary key, encrypted columns) of every table with personal data, found by name,
    so a table added later is rotated without anyone remembering to list it here."""
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if c.name.endswith(ENCRYPTED_SUFFIX)]
        keys = list(table.primary_key.columns)
        if columns and len(keys) == 1:
            yield table, keys[0], columns


class RetentionRepo(Repo):
    """Purges old texts, forgets people long gone, anonymises closed cases, rotates keys."""

    async def purge_message_texts(self, cutoff: datetime, now: datetime) -> int:
        """Replace the text of messages older than `cutoff` by an empty one; how many."""
        result = await self.conn.execute(
            sa.update(messages)
            .where(messages.c.created_at < cutoff, messages.c.purged_at.is_(None))
            .values(text_enc=self.crypto.encrypt(""), purged_at=now)
        )
        return int(result.rowcount or 0)

    async def forget_message_text(self, message_id: int, now: datetime) -> None:
        """Purge one message's text now (a coordinator's command, kept elsewhere as it must)."""
        await self.conn.execute(
            sa.update(messages)
            .where(messages.c.id == message_id)
            .values(text_enc=self.crypto.encrypt(""), purged_at=now)
        )

    async def forget_sent(self, outbox_id: int, now: datetime) -> None:
        """Once sent, blank a message marked `forget` (a survivor's number told to her
        coordinator): no copy of it stays with us for erasure or retention to miss."""
        await self.conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == outbox_id)
            .values(payload_enc=self.crypto.encrypt_json({"text": "", "buttons": []}))
        )
        await self.conn.execute(
            sa.update(messages)
            .where(messages.c.outbox_id == outbox_id)
            .values(text_enc=self.crypto.encrypt(""), purged_at=now)
        )

    async def delete_finished_outbox(self, cutoff: datetime) -> int:
        """Sent and failed outbox rows older than `cutoff` (they hold texts and addresses), and
        messages held for a person who never wrote again (safe times: stale by now)."""
        result = await self.conn.execute(
            sa.delete(outbox).where(
                sa.or_(
                    outbox.c.status.in_(("sent", "failed")),
                    sa.and_(outbox.c.status == "pending", outbox.c.due_at >= HELD),
                ),
                outbox.c.created_at < cutoff,
            )
        )
        return int(result.rowcount or 0)

    async def delete_ended_sessions(self, cutoff: datetime) -> int:
        """Ended conversations (their answers, free text included) last touched before `cutoff`."""
        result = await self.conn.execute(
            sa.delete(sessions).where(sessions.c.status == "ended", sessions.c.updated_at < cutoff)
        )
        return int(result.rowcount or 0)

    async def anonymise_closed_cases(self, cutoff: datetime, now: datetime) -> int:
        """Cases closed before `cutoff`: no link to the person, no words; figures stay."""
        ids = list(
            (
                await self.conn.execute(
                    sa.select(cases.c.id)
                    .where(
                        cases.c.status == "closed",
                        cases.c.closed_at < cutoff,
                        cases.c.anonymised_at.is_(None),
                    )
                    .limit(BATCH)
                )
            ).scalars()
        )
        if not ids:
            return 0
        empty = self.crypto.encrypt_json({})
        await self.conn.execute(
            sa.update(case_events)
            .where(
                case_events.c.case_id.in_(ids),
                case_events.c.kind.not_in(ANONYMOUS_EVENT_KINDS),
            )
            .values(data_enc=empty)
        )
        await self.conn.execute(
            sa.update(audit).where(audit.c.case_id.in_(ids)).values(data_enc=empty)
        )
        await self.conn.execute(
            sa.update(cases)
            .where(cases.c.id.in_(ids))
            .values(contact_id=None, anonymised_at=now, updated_at=now)
        )
        return len(ids)

    async def contacts_gone(self, cutoff: datetime) -> list[int]:
        """People not heard from since `cutoff`, with no open case and no active follow-up."""
        open_case = sa.exists().where(
            cases.c.contact_id == contacts.c.id, cases.c.status != "closed"
        )
        active_plan = sa.exists().where(
            plans.c.contact_id == contacts.c.id, plans.c.status == "active"
        )
        rows = await self.conn.execute(
            sa.select(contacts.c.id)
            .where(
                contacts.c.erased_at.is_(None),
                contacts.c.last_seen_at < cutoff,
                ~open_case,
                ~active_plan,
            )
            .order_by(contacts.c.id)
            .limit(BATCH)
        )
        return list(rows.scalars())

    # -- key rotation ------------------------------------------------------------------------

    async def rotate_batch(
        self,
        table: sa.Table,
        key: sa.Column[Any],
        columns: list[sa.Column[Any]],
        after: object,
        limit: int,
    ) -> tuple[object | None, int, int]:
        """Re-encrypt one batch of a table under the newest key, rows after `after` by key.

        Returns (last key seen or None when the table is done, values re-encrypted, values
        already under the newest key).
        """
        stmt = sa.select(key, *columns).order_by(key).limit(limit)
        if after is not None:
            stmt = stmt.where(key > after)
        rows = (await self.conn.execute(stmt)).all()
        if not rows:
            return None, 0, 0
        rotated = current = 0
        for row in rows:
            values = {}
            for column in columns:
                token = getattr(row, column.name)
                if token is None:
                    continue
                if self.crypto.is_current(token):
                    current += 1
                    continue
                values[column.name] = self.crypto.rotate(token)
            if values:
                await self.conn.execute(
                    sa.update(table).where(key == getattr(row, key.name)).values(**values)
                )
                rotated += len(values)
        return getattr(rows[-1], key.name), rotated, current
