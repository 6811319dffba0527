"""A send that hangs past its lease is never sent a second time by the same sender."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.messages import Outbound, SendResult
from tests.pipeline_harness import Harness, build_sender
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401


class HangingChannel:
    """Holds the first send until released; records every send it is asked for."""

    name = "simulator"

    def __init__(self) -> None:
        self.asked: list[int] = []
        self.release = asyncio.Event()
        self.holding = asyncio.Event()

    async def send(self, msg: Outbound) -> SendResult:
        self.asked.append(msg.outbox_id)
        if len(self.asked) == 1:
            self.holding.set()
            await self.release.wait()
        return SendResult(ok=True, external_id=f"x{len(self.asked)}")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def test_a_send_hanging_past_its_lease_is_not_sent_again_beside_itself(db):
    harness = await Harness(db, hand_over=False).start()  # their own senders claim
    await harness.pipeline.receive(harness.inbound("ok"))  # one reply queued
    channel = HangingChannel()
    sender = build_sender(db, {"simulator": channel}, harness.clock, lease=timedelta(seconds=1))
    first = asyncio.create_task(sender.drain_once())
    await channel.holding.wait()  # the provider holds the request...
    harness.clock.advance(timedelta(seconds=5))  # ...past the row's lease
    assert await sender.drain_once() == 0  # claimed again (its lease extended), not re-sent
    channel.release.set()
    assert await first == 1
    assert len(channel.asked) == 1
    async with db.uow() as uow:
        stats = await uow.outbox.stats(harness.clock())
    assert not stats.get("pending")
