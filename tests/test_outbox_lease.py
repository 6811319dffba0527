"""A row whose lease runs out while pacing holds it back is sent by one sender only (R3)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.messages import Outbound, SendResult
from bot.pacing import Pacer
from bot.store.repos.outbox import OutboxRepo
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
    harness = await Harness(db, hand_over=False).start()  # their own senders claim
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


async def test_a_lease_too_short_for_a_send_is_renewed_before_it_even_if_half_is_left(db):
    """12 s into a 30 s lease, a send (up to 20 s with its record) could outlast it: renewed
    first. Renewed only past half the lease, another worker took the row while the first was
    still with the provider, and she got the reply twice."""
    lease = timedelta(seconds=30)
    harness = await queued(db)
    channel = Channel()
    channel.hold = True
    pacer = GatePacer()
    slow = build_sender(db, {"simulator": channel}, harness.clock, lease=lease, pacer=pacer)
    other = build_sender(db, {"simulator": channel}, harness.clock, lease=lease)
    first = asyncio.create_task(slow.drain_once())
    await pacer.waiting.wait()
    harness.clock.advance(timedelta(seconds=12))  # 18 s left: less than SEND_BUDGET
    pacer.gate.set()
    await channel.holding.wait()  # renewed at +12 s until +42 s, now with the provider
    harness.clock.advance(timedelta(seconds=20))  # +32 s: the first lease ran out
    assert await other.drain_once() == 0
    channel.release.set()
    assert await first == 1
    assert len(channel.sent) == 1  # sent once, by the first sender


async def test_a_lease_with_time_for_a_send_is_not_renewed(db, monkeypatch):
    """Well inside its lease a row is sent without renewing it (the common case: no UPDATE)."""
    harness = await queued(db)
    channel = Channel()
    sender = build_sender(db, {"simulator": channel}, harness.clock, lease=LEASE)
    renewed: list[int] = []
    renew = OutboxRepo.renew_lease

    async def counted(self: OutboxRepo, outbox_id: int, owner: str, until: Any) -> bool:
        renewed.append(outbox_id)
        return await renew(self, outbox_id, owner, until)

    monkeypatch.setattr(OutboxRepo, "renew_lease", counted)
    harness.clock.advance(timedelta(seconds=35))  # claimed now: 60 s left, room for a send
    assert await sender.drain_once() == 1
    assert len(channel.sent) == 1 and renewed == []
