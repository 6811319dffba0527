"""The outbox sender: claims due rows after commit, sends them, retries with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge

from bot.messages import Button, Outbound, SendResult
from bot.pacing import Pacer

log = logging.getLogger(__name__)

SENT = Counter("helpline_outbox_sent_total", "Messages sent", ["channel"])
FAILED = Counter("helpline_outbox_failed_total", "Messages given up on", ["channel"])
RETRIED = Counter("helpline_outbox_retried_total", "Send attempts to retry later", ["channel"])
QUEUE_AGE = Gauge("helpline_outbox_oldest_pending_seconds", "Age of the oldest pending message")

MAX_ATTEMPTS = 8  # about 30 minutes of retries with the backoff below
BASE_DELAY = 2.0
MAX_DELAY = 600.0


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before the next try: exponential with full jitter, or what was asked."""
    if retry_after is not None:
        return retry_after
    ceiling = min(MAX_DELAY, BASE_DELAY * 2**attempts)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class OutboxSender:
    """Sends what the pipeline queued; a crash mid-send leaves a lease that expires and retries."""

    def __init__(
        self,
        db: Any,
        channels: Mapping[str, Any],
        clock: Callable[[], datetime],
        *,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 50,
        idle_wait: float = 1.0,
        pacer: Pacer | None = None,
    ) -> None:
        self.db = db
        self.channels = channels
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self.idle_wait = idle_wait
        self.owner = f"{socket.gethostname()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._stopping = False
        self.pacer = pacer or Pacer()

    def wake(self) -> None:
        """Something was committed to the outbox: look now instead of at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the pass under way, then return from `run` (cancelling mid-pass can hang)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Send until `stop`; rows claimed but unsent are picked up again after their lease."""
        while not self._stopping:
            try:
                sent = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pass failed")
                sent = 0
            if sent or self._stopping:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.idle_wait)
            except TimeoutError:
                pass
            self._wake.clear()

    async def drain_once(self) -> int:
        """Claim one batch of due rows and send them; returns how many were claimed."""
        now = self.clock()
        async with self.db.uow() as uow:
            items = await uow.outbox.claim_due(now, self.batch, self.lease, self.owner)
            stats = await uow.outbox.stats(now)
            await uow.commit()
        QUEUE_AGE.set(stats.get("oldest_pending_age") or 0)
        if not items:
            return 0
        by_chat: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for item in items:
            by_chat[(item.channel, item.urn)].append(item)
        # One chat's messages go in order; different chats go side by side.
        await asyncio.gather(*(self._send_chat(chat) for chat in by_chat.values()))
        return len(items)

    async def _send_chat(self, items: list[Any]) -> None:
        for item in sorted(items, key=lambda i: i.id):
            await self._send_one(item)

    async def _send_one(self, item: Any) -> None:
        channel = self.channels.get(item.channel)
        if channel is None:
            result = SendResult(ok=False, error=f"channel {item.channel} is off")
        else:
            outbound = Outbound(
                outbox_id=item.id,
                channel=item.channel,
                urn=item.urn,
                text=item.text,
                buttons=tuple(Button(b["label"], b["value"]) for b in item.buttons),
                kind=item.kind,
                meta=dict(item.meta or {}),
            )
            try:
                await self.pacer.wait(item.channel, item.urn)
                result = await channel.send(outbound)
            except Exception as exc:  # a channel bug must not stop the others
                log.exception("channel %s raised while sending", item.channel)
                result = SendResult(ok=False, retry=True, error=type(exc).__name__)
        now = self.clock()
        async with self.db.uow() as uow:
            if result.contact_state and item.contact_id is not None:
                # What the provider told us about the person outlives this one message.
                await uow.contacts.set_flags(
                    item.contact_id,
                    opted_out=True if result.contact_state in ("opted_out", "blocked") else None,
                    unreachable=True if result.contact_state == "unreachable" else None,
                )
            if result.ok:
                await uow.outbox.mark_sent(
                    item.id, external_id=result.external_id, segments=result.segments, now=now
                )
                SENT.labels(item.channel).inc()
            elif result.retry and item.attempts + 1 < MAX_ATTEMPTS:
                delay = backoff(item.attempts, result.retry_after)
                await uow.outbox.mark_retry(
                    item.id, due_at=now + timedelta(seconds=delay), error=result.error, now=now
                )
                RETRIED.labels(item.channel).inc()
            else:
                await uow.outbox.mark_failed(item.id, error=result.error or "failed", now=now)
                FAILED.labels(item.channel).inc()
                log.warning("gave up on outbox row %s: %s", item.id, result.error)
            await uow.commit()
