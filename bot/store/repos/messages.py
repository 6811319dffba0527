"""Messages in and out: texts encrypted, inbound deduplicated by the provider's id."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.driver import Prepared, inserting
from bot.store.models import ALSO_SENT, MessageRow, OutboxRow
from bot.store.repos.base import Repo

messages = MessageRow.__table__
outbox = OutboxRow.__table__
ERROR_MAX = 255

# Built once and run on the driver (bot/store/driver.py): every message runs these.
INSERT_MESSAGE = inserting(sa.insert(messages))


@cache
def _insert_inbound(dialect: str) -> Prepared:
    """INSERT of an inbound message that does nothing for a repeat, for this database."""
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return inserting(
        insert(messages).on_conflict_do_nothing(
            index_elements=["channel", "direction", "external_id"]
        )
    )


class MessageRepo(Repo):
    """The messages table."""

    async def add_inbound(
        self,
        contact_id: int,
        channel: str,
        external_id: str | None,
        text: str,
        received_at: datetime,
        chat_message_id: str | None = None,
    ) -> int | None:
        """Store an inbound message; None when this (channel, external id) was stored already."""
        row = {
            "contact_id": contact_id,
            "channel": channel,
            "direction": "in",
            "external_id": external_id,
            "text_enc": self.crypto.encrypt(text),
            "created_at": received_at,
            "chat_message_id": chat_message_id,
        }
        found: int | None = await _insert_inbound(self.dialect).scalar(self.conn, row)
        return found

    async def seen(self, channel: str, external_id: str | None) -> bool:
        """Whether an inbound message with this provider id was stored already."""
        if external_id is None:
            return False
        found = await self.conn.execute(
            sa.select(messages.c.id).where(
                messages.c.channel == channel,
                messages.c.direction == "in",
                messages.c.external_id == external_id,
            )
        )
        return found.first() is not None

    async def add_outbound(
        self, contact_id: int, channel: str, text: str, now: datetime, outbox_id: int | None
    ) -> int:
        """Log an outbound message; the outbox row that sends it fills in the provider's id."""
        row = {
            "contact_id": contact_id,
            "channel": channel,
            "direction": "out",
            "text_enc": self.crypto.encrypt(text),
            "created_at": now,
            "status": "queued",
            "outbox_id": outbox_id,
        }
        message_id: int = await INSERT_MESSAGE.scalar_one(self.conn, row)
        return message_id

    async def chat_message_ids(self, contact_id: int, since: datetime) -> list[int]:
        """Ids inside the chat of the messages in and out since `since`, oldest first."""
        inbound = await self.conn.execute(
            sa.select(messages.c.chat_message_id).where(
                messages.c.contact_id == contact_id,
                messages.c.direction == "in",
                messages.c.chat_message_id.is_not(None),
                messages.c.created_at >= since,
            )
        )
        # The outbox keeps the provider's ids of what it sent ("12,13" for a text sent in parts).
        outbound = await self.conn.execute(
            sa.select(outbox.c.external_id).where(
                outbox.c.contact_id == contact_id,
                outbox.c.status == "sent",
                outbox.c.external_id.is_not(None),
                outbox.c.sent_at >= since,
            )
        )
        ids = {int(i) for i in inbound.scalars() if i.isdigit()}
        for joined in outbound.scalars():
            ids.update(int(i) for i in joined.split(",") if i.isdigit())
        return sorted(ids)

    async def provider_ids(self, contact_id: int) -> list[str]:
        """The provider's ids of every message in and out (Twilio SIDs), to delete them there."""
        inbound = await self.conn.execute(
            sa.select(messages.c.external_id).where(
                messages.c.contact_id == contact_id,
                messages.c.direction == "in",
                messages.c.external_id.is_not(None),
            )
        )
        outbound = await self.conn.execute(
            sa.select(outbox.c.external_id).where(
                outbox.c.contact_id == contact_id,
                outbox.c.status == "sent",
                outbox.c.external_id.is_not(None),
            )
        )
        # What went in a held row's stead (WhatsApp's "a message waits"): in its meta.
        stead = await self.conn.execute(
            sa.select(outbox.c.meta).where(
                outbox.c.contact_id == contact_id, outbox.c.meta.is_not(None)
            )
        )
        nudges = {sid for (meta,) in stead for sid in (meta or {}).get(ALSO_SENT, [])}
        return sorted({*inbound.scalars(), *outbound.scalars(), *nudges})

    async def list_for_contact(
        self, contact_id: int, limit: int = 50
    ) -> list[tuple[str, str, datetime]]:
        """The latest `limit` messages of a contact, oldest first: (direction, text, at)."""
        rows = (
            await self.conn.execute(
                sa.select(messages.c.direction, messages.c.text_enc, messages.c.created_at)
                .where(messages.c.contact_id == contact_id)
                .order_by(messages.c.created_at.desc(), messages.c.id.desc())
                .limit(limit)
            )
        ).all()
        return [
            (r.direction, self.crypto.decrypt(r.text_enc), r.created_at) for r in reversed(rows)
        ]

    async def set_status(
        self, channel: str, external_id: str, status: str, error: str | None = None
    ) -> int | None:
        """Record a delivery status for a message we sent; returns its contact's id, if known."""
        result = await self.conn.execute(
            sa.update(messages)
            .where(
                messages.c.channel == channel,
                messages.c.direction == "out",
                messages.c.external_id == external_id,
            )
            .values(status=status, error=None if error is None else str(error)[:ERROR_MAX])
            .returning(messages.c.contact_id)
        )
        return result.scalars().first()
