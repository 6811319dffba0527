"""FSHI asks the person's channel what its provider lets the helpline delete (its Recall)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.base import Recall
from bot.channels.recalls import RECALLS
from bot.engine.runner import Outcome
from bot.handlers.erasure import Erasure
from bot.handlers.registry import Turn
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("urn", "channel", "meta", "due"),
    [
        # Telegram: chat ids of the last 48 hours, deleted at once from her phone.
        ("telegram:5551", "telegram", {"message_ids": [2]}, NOW),
        # SMS: every Twilio SID (no window), once Twilio has finished with them.
        (
            "tel:+355691110001",
            "sms",
            {"message_sids": ["SM-new", "SM-old"]},
            NOW + timedelta(minutes=2),
        ),
        # WhatsApp: Twilio's copies as for SMS (her own copy stays: Recall.note tells her).
        (
            "whatsapp:+355691110002",
            "whatsapp",
            {"message_sids": ["SM-new", "SM-old"]},
            NOW + timedelta(minutes=2),
        ),
        # The simulator keeps nothing anywhere else.
        ("sim:page", "simulator", None, None),
    ],
)
async def test_unsay_queues_what_her_channels_provider_can_delete(db, urn, channel, meta, due):
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(urn, channel, NOW)
        for external_id, chat_id, age in (("SM-old", "1", 49), ("SM-new", "2", 1)):
            await uow.messages.add_inbound(
                contact.id,
                channel,
                external_id,
                "hi",
                NOW - timedelta(hours=age),
                chat_message_id=chat_id,
            )
        turn = Turn(uow, contact, None, Outcome(None), NOW)
        await Erasure(RECALLS, lambda lang, msgid, params: msgid).unsay(turn)
        await uow.commit()
    async with db.uow() as uow:
        queued = await uow.outbox.claim_due(NOW + timedelta(hours=1), 10, timedelta(minutes=1), "t")
    if meta is None:
        assert queued == []
        return
    [item] = queued
    ids = {key: sorted(value) for key, value in item.meta.items()}  # in any order
    assert (item.kind, item.channel, ids) == ("delete", channel, meta)
    async with db.uow() as uow:
        assert (
            await uow.outbox.claim_due(due - timedelta(seconds=1), 10, timedelta(minutes=1), "u")
            == []
        )


async def test_a_channel_without_a_window_recalls_every_chat_message(db):
    recalls = {"telegram": Recall(ids="chat", meta_key="ids")}
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create("telegram:5552", "telegram", NOW)
        await uow.messages.add_inbound(
            contact.id, "telegram", "u1", "hi", NOW - timedelta(days=400), chat_message_id="7"
        )
        erasure = Erasure(recalls, lambda lang, msgid, params: msgid)
        await erasure.unsay(Turn(uow, contact, None, Outcome(None), NOW))
        await uow.commit()
    async with db.uow() as uow:
        [item] = await uow.outbox.claim_due(NOW, 10, timedelta(minutes=1), "t")
    assert item.meta == {"ids": [7]}
