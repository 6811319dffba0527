"""Queueing a message to the person: nothing to an SMS number that sent STOP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.messages import Button
from bot.replies import can_write, queue_to_person
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("urn", "channel", "opted_out", "queued"),
    [
        ("tel:+355691110001", "sms", False, True),
        ("tel:+355691110002", "sms", True, False),  # STOP: the carrier blocks every SMS
        ("telegram:5551", "telegram", True, True),  # a blocked bot learns it only by sending
    ],
)
async def test_queue_to_person(db, urn: str, channel: str, opted_out: bool, queued: bool) -> None:
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(urn, channel, NOW)
        await uow.contacts.set_flags(contact.id, opted_out=opted_out)
        contact = await uow.contacts.get(contact.id)
        assert contact is not None and can_write(contact) is queued
        outbox_id = await queue_to_person(
            uow, contact, "Hello", kind="reply", due_at=NOW, now=NOW, buttons=[Button("Yes", "1")]
        )
        await uow.commit()
    assert (outbox_id is not None) is queued
    async with db.uow() as uow:
        items = await uow.outbox.claim_due(
            NOW + timedelta(seconds=1), 10, timedelta(minutes=1), "t"
        )
        kept = await uow.messages.list_for_contact(contact.id)
    if not queued:
        assert items == [] and kept == []
        return
    [item] = items
    assert (item.id, item.urn, item.text, item.buttons) == (
        outbox_id,
        urn,
        "Hello",
        [{"label": "Yes", "value": "1"}],
    )
    assert [(d, t) for d, t, _ in kept] == [("out", "Hello")]  # in her conversation
