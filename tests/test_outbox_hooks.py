"""The outbox sender's on_sent hooks: in the transaction that records a send, never on failure."""

from __future__ import annotations

from typing import Any

from bot.store.records import OutboxItem
from tests.pipeline_harness import Harness, RecordingChannel, build_sender
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401


async def test_on_sent_hooks_see_each_sent_row_once_and_failed_sends_never(db):
    harness = await Harness(db, hand_over=False).start()  # their own senders claim
    seen: list[tuple[str, int, str]] = []

    async def hook(uow: Any, item: OutboxItem) -> None:
        # Inside the recording transaction: the row reads as sent already.
        stats = await uow.outbox.stats(harness.clock())
        seen.append((item.kind, item.id, "pending" if stats.get("pending") else "none pending"))

    channel = RecordingChannel(fail_next=1)
    sender = build_sender(db, {"simulator": channel}, harness.clock, on_sent=(hook,))
    await harness.pipeline.receive(harness.inbound("ok"))  # one reply queued
    assert await sender.drain_once() == 1  # the provider fails it: to retry later
    assert seen == []
    harness.clock.now = harness.clock.now.replace(year=harness.clock.now.year + 1)
    assert await sender.drain_once() == 1
    assert seen == [("reply", channel.sent[0].outbox_id, "none pending")]
