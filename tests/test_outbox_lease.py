"""A row whose lease runs out while pacing holds it back is sent by one sender only (R3)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.messages import Outbound, SendResult
from bot.pacing import Pacer
from tests.pipeline_harness import Harness, build_sender
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

LEASE = timedelta(seconds=60)


class GatePacer(Pacer):
    """Pacing that holds every send until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__({}, {})
        self.waiting = asyncio.Event()
        self.gate = asyncio.Event()

    async def wait(self, channel: str, chat: str) -> None:
        self.waiting.set()
        await self.gate.wait()


class Channel:
    """Records sends; can hold the next one until released."""

    name = "simulator"

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.hold = False
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, msg: Outbound) -> SendResult:
        self.sent.append(msg.outbox_id)
        if self.hold and len(self.sent) == 1:
            self.holding.set()
            await self.release.wait()
        return SendResult(ok=True, external_id=f"x{len(self.sent)}")


async def queued(db: Any) -> Harness:
    """A harness with one reply queued."""
    harness = await Harness(db).start()
    await harness.pipeline.receive(harness.inbound("ok"))
    return harness


async def test_a_lease_lost_while_paced_is_not_sent_by_the_first_sender(db):
    harness = await queued(db)
    channel = Channel()
    pacer = GatePacer()
    slow = build_sender(db, {"simulator": channel}, harness.clock, lease=LEASE, pacer=pacer)
    other = build_sender(db, {"simulator": channel}, harness.clock, lease=LEASE)
    first = asyncio.create_task(slow.drain_once())
    await pacer.waiting.wait()  # claimed, held back by pacing...
    harness.clock.advance(LEASE + timedelta(seconds=1))  # ...past its lease
    assert await other.drain_once() == 1  # another worker takes the row and sends it
    pacer.gate.set()
    assert await first == 1
    assert len(channel.sent) == 1  # the first sender saw the row was no longer its own


async def test_a_lease_half_gone_is_renewed_so_no_other_sender_takes_the_row(db):
    harness = await queued(db)
    channel = Channel()
    channel.hold = True
    pacer = GatePacer()
    slow = build_sender(db, {"simulator": channel}, harness.clock, lease=LEASE, pacer=pacer)
    other = build_sender(db, {"simulator": channel}, harness.clock, lease=LEASE)
    first = asyncio.create_task(slow.drain_once())
    await pacer.waiting.wait()
    harness.clock.advance(timedelta(seconds=40))  # more than half the lease went by
    pacer.gate.set()
    await channel.holding.wait()  # renewed at +40 s until +100 s, now with the provider
    harness.clock.advance(timedelta(seconds=40))  # +80 s: the first lease would have run out
    assert await other.drain_once() == 0
    channel.release.set()
    assert await first == 1
    assert len(channel.sent) == 1
    async with db.uow() as uow:
        stats = await uow.outbox.stats(harness.clock())
    assert not stats.get("pending") and not stats.get("leased")
