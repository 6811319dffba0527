"""Queue a message to the person: the one place that knows when she may not be written to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import safe_times
from bot.messages import Button
from bot.store.records import Contact, Handoff

if TYPE_CHECKING:
    from bot.store.db import UnitOfWork


def provider_meta(
    contact: Contact, kind: str, timer: bool, language: str | None, now: datetime
) -> dict[str, Any] | None:
    """WhatsApp: the template a message the helpline starts may go as (safe_times); a direct
    answer carries when she wrote (after FSHI her contact no longer says)."""
    if contact.channel != "whatsapp":
        return None
    if not (timer or kind == "followup"):
        return {"heard_at": now.isoformat()}
    if kind == "followup":
        return safe_times.template(safe_times.TPL_CHECKIN, language)
    return safe_times.template(safe_times.TPL_WAITING, language, nudge=True)


def can_write(contact: Contact) -> bool:
    """False when she sent STOP to the SMS number (the carrier blocks every SMS to her then)."""
    return not (contact.opted_out and contact.channel == "sms")


async def queue_to_person(
    uow: UnitOfWork,
    contact: Contact,
    text: str,
    *,
    kind: str,
    due_at: datetime,
    now: datetime,
    buttons: Sequence[Button] = (),
    meta: dict[str, Any] | None = None,
    handoff: Handoff | None = None,
) -> int | None:
    """Queue `text` to her and keep it in her conversation; the outbox id, None if not allowed.
    `handoff`: the sender it goes to in hand when due at once (OutboxRepo.add)."""
    if not can_write(contact):
        return None
    outbox_id = await uow.outbox.add(
        contact_id=contact.id,
        channel=contact.channel,
        urn=contact.urn,
        text=text,
        buttons=[{"label": b.label, "value": b.value} for b in buttons],
        kind=kind,
        due_at=due_at,
        now=now,
        meta=meta,
        # Her address as her contact stores it (Contact.urn_enc): not encrypted a second time.
        urn_enc=contact.urn_enc,
        handoff=handoff,
    )
    await uow.messages.add_outbound(contact.id, contact.channel, text, now, outbox_id)
    return outbox_id
