"""The outbox sender: claims due rows after commit, sends them, retries with backoff."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy.exc import DBAPIError

from bot.channels.base import Channel
from bot.messages import Button, Outbound, SendResult
from bot.pacing import Pacer
from bot.store.db import Database
from bot.store.group_commit import GroupCommit, Unit
from bot.store.records import OutboxItem

log = logging.getLogger(__name__)

SENT = Counter("helpline_outbox_sent_total", "Messages sent", ["channel"])
FAILED = Counter("helpline_outbox_failed_total", "Messages given up on", ["channel"])
RETRIED = Counter("helpline_outbox_retried_total", "Send attempts to retry later", ["channel"])
QUEUE_AGE = Gauge("helpline_outbox_oldest_pending_seconds", "Age of the oldest pending message")


@functools.cache
def _per_channel(metric: Counter, channel: str) -> Counter:
    """A counter's child for a channel, made once: labels() takes a lock and builds its key
    anew at every call (~120 bytecodes of every message sent). Channels are a handful."""
    return metric.labels(channel)


# Recording a send's outcome while the database is away: first wait, and the longest (seconds).
RECORD_RETRY_FIRST, RECORD_RETRY_MAX = 0.05, 2.0
# 11 retries: 18 to 37 minutes with the backoff below (2 s doubling, with jitter, to 10 min), so
# a provider outage of a quarter of an hour loses nothing (8 tries gave up after 2 to 4 minutes).
MAX_ATTEMPTS = 12
BASE_DELAY = 2.0
MAX_DELAY = 600.0
STATS_INTERVAL = 1.0  # seconds between measurements of the queue's age (a gauge)
# The most send outcomes recorded in one transaction (group commit "sent", see OutboxSender).
# bench/load.py (SQLite, 64 people) with caps of 8 / 16 / 50: 6.2 / 8.2-9.0 / 8.7-9.5 outcomes
# a transaction, 2.51-2.55 / 2.50-2.77 / 2.39-2.51 ms of server CPU a message (the same within
# the noise); 16 keeps a batch's hold on the write lock to ~1.6 ms (~0.1 ms a record).
RECORD_BATCH = 16


def _by_id(pair: tuple[OutboxItem, datetime]) -> int:
    """A chat's rows go in the order they were queued."""
    return pair[0].id


# Run in the transaction that records a send as done, with (uow, the row): what a feature's
# own rows say about it (referral: the same alert queued another way is no longer retried).
SentHook = Callable[[Any, OutboxItem], Awaitable[None]]


def backoff(
    attempts: int,
    retry_after: float | None = None,
    *,
    base: float = BASE_DELAY,
    cap: float = MAX_DELAY,
) -> float:
    """Seconds to wait before the next try: exponential with full jitter, or what was asked."""
    if retry_after is not None:
        return retry_after
    ceiling = min(cap, base * 2**attempts)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


async def side_by_side(coros: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run `coros` at once, each in its task, until all are done: asyncio.gather's semantics
    for coroutines whose results nobody reads (an error is raised once the ones before it
    are done, not at once; the others go on, and their errors are not left unretrieved; a
    cancelled caller cancels them all).

    Hand-written because gather's Python callbacks cost a send pass ~200 bytecodes a message
    (bench/bytecodes.py 13,574 -> 13,368): a task awaited is waited for in C."""
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        for task in tasks:
            await task
    except BaseException as exc:
        for task in tasks:
            if isinstance(exc, asyncio.CancelledError) and not task.done():
                task.cancel()
            task.add_done_callback(_retrieve)
        raise


def _retrieve(task: asyncio.Future[None]) -> None:
    """Mark a task's error as seen (gather does the same for the errors after the first)."""
    if not task.cancelled():
        task.exception()


# How long a send may take, the provider's call and its record: Twilio's 10 s a call, Telegram's
# 5 s to connect and 10 s to read, and the record's commit. A row whose lease has less left is
# renewed before it is sent (a lease shorter than this, as tests set, is renewed at every send).
SEND_BUDGET = timedelta(seconds=20)


class OutboxSender:
    """Sends what the pipeline queued; a crash mid-send leaves a lease that expires and retries."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        clock: Callable[[], datetime],
        *,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 50,
        idle_wait: float = 1.0,
        pacer: Pacer | None = None,
        retry_base: float = BASE_DELAY,
        retry_max: float = MAX_DELAY,
        on_sent: Sequence[SentHook] = (),
        record_batch: int = RECORD_BATCH,
        send_budget: timedelta = SEND_BUDGET,
    ) -> None:
        self.db = db
        self.channels = channels
        self.clock = clock
        self.lease = lease
        self.send_budget = send_budget
        self.batch = batch
        self.idle_wait = idle_wait
        self.owner = f"{socket.gethostname()}:{id(self):x}"
        self._wake = asyncio.Event()
        # Rows a receive wrote leased to this sender and handed over once committed (take),
        # with when their lease began: sent by the next pass without a claim.
        self._handed: list[tuple[OutboxItem, datetime]] = []
        # Whether the next pass claims: a commit queued rows for a claim (wake), a full batch
        # may have left some, or nothing was handed over; at the latest every idle_wait
        # (_next_claim), for what falls due by the clock (retries, safe times).
        self._claim = True
        self._next_claim = 0.0  # monotonic time of the next claim at the latest
        self._next_stats = 0.0  # monotonic time when the queue gauge is next measured
        self._stopping = False
        # Rows this process is sending now. A send that hangs past its lease is claimed again
        # (which extends the lease), but never sent a second time beside itself: that was the
        # duplicate check-in seen under load (issue 17).
        self._in_flight: set[int] = set()
        # Rows the passes under way are sending (nearly always one pass): a pass of one row
        # records its outcome without the group, since no other could share its transaction.
        # Only a matter of speed: a record outside the group is a unit of work like another.
        self._sending = 0
        self.pacer = pacer or Pacer()
        # HELPLINE_OUTBOX_RETRY_BASE / _MAX: tests shrink them to run an outage in seconds.
        self.retry_base, self.retry_max = retry_base, retry_max
        self.on_sent = tuple(on_sent)
        # What became of each send is recorded through a group commit of its own: the outcomes
        # waiting at the same moment (sends of one pass that finish together) share one
        # transaction and one COMMIT, optimistic (group_commit.py). Within R3 (no duplicate
        # reply): a send the provider accepted goes again if the process dies before its
        # record is durable, and grouping narrows that window rather than widening it. A
        # batch takes only the outcomes already queued (no timer, no waiting for more), at
        # most `record_batch` of them, and does not yield the write lock midway
        # (yields=False: a receive batch yields to it, never the reverse). Before, each
        # outcome waited for the (SQLite) write lock and then for every earlier outcome's own
        # transaction and COMMIT (an fsync, ~0.3 ms) in turn; now it waits for at most the
        # batch under way, then commits with the others at once.
        self.records = GroupCommit(db, "sent", limit=record_batch, yields=False)

    def wake(self) -> None:
        """Something was committed to the outbox: look now instead of at the next tick."""
        self._claim = True
        self._wake.set()

    def take(self, items: Sequence[OutboxItem]) -> None:
        """Rows committed leased to this sender (OutboxRepo.add's handoff): the next pass sends
        them as it would have claimed them, without the claim (its UPDATE, its rows read and
        decrypted again, its transaction). A crash before they are sent leaves their lease to
        run out, and another pass claims them then, as any row whose sender died."""
        self._handed.extend([(item, item.created_at) for item in items])
        self._wake.set()

    def stop(self) -> None:
        """Finish the pass under way, then return from `run` (cancelling mid-pass can hang)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Send until `stop` (and what was handed over by then); rows claimed but unsent are
        picked up again after their lease."""
        while not self._stopping or self._handed:
            # Cleared before the pass: a commit during it wakes the next one at once.
            self._wake.clear()
            try:
                sent = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pass failed")
                sent = 0
            # A full batch may leave more behind; a partial one took everything due, so the
            # next pass waits for a commit (or the tick) instead of claiming nothing.
            if sent >= self.batch or self._stopping:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.idle_wait)
            except TimeoutError:
                self._claim = True

    async def drain_once(self) -> int:
        """Send what was handed over and, when there is reason to (see _claim), claim one batch
        of due rows and send them too; returns how many rows the pass took."""
        handed, self._handed = self._handed, []
        items = handed
        if not handed or self._claim or time.monotonic() >= self._next_claim:
            claimed = await self._claim_due()
            if claimed:
                items = handed + claimed
        if not items:
            return 0
        by_chat: dict[tuple[str, str], list[tuple[OutboxItem, datetime]]] = defaultdict(list)
        for pair in items:
            item = pair[0]
            by_chat[(item.channel, item.urn)].append(pair)
        self._sending += len(items)
        try:
            # One chat's messages go in order; different chats go side by side (one chat alone
            # without a task around it).
            if len(by_chat) == 1:
                for chat in by_chat.values():
                    await self._send_chat(chat)
            else:
                await side_by_side([self._send_chat(chat) for chat in by_chat.values()])
        finally:
            self._sending -= len(items)
        return len(items)

    async def _claim_due(self) -> list[tuple[OutboxItem, datetime]]:
        """Claim one batch of due rows (not those this process is sending), each with when
        its lease began."""
        self._claim = False
        self._next_claim = time.monotonic() + self.idle_wait
        now = self.clock()
        # The queue gauge costs a query: under load, once a second is plenty.
        measure = time.monotonic() >= self._next_stats
        async with self.db.uow() as uow:
            items = await uow.outbox.claim_due(now, self.batch, self.lease, self.owner)
            age = await uow.outbox.oldest_due_age(now) if measure else None
            await uow.commit()
        if age is not None:
            self._next_stats = time.monotonic() + STATS_INTERVAL
            QUEUE_AGE.set(age)
        if len(items) >= self.batch:
            self._claim = True  # a full batch may have left more behind
        return [(item, now) for item in items if item.id not in self._in_flight]

    async def _send_chat(self, items: list[tuple[OutboxItem, datetime]]) -> None:
        for item, leased_at in sorted(items, key=_by_id) if len(items) > 1 else items:
            await self._send_one(item, leased_at)

    async def _send_one(self, item: OutboxItem, claimed: datetime) -> None:
        self._in_flight.add(item.id)
        try:
            await self._send_and_record(item, claimed)
        finally:
            self._in_flight.discard(item.id)

    async def _still_ours(self, item: OutboxItem, claimed: datetime) -> bool:
        """Whether this sender may still send the row: its lease is renewed when less of it is
        left than a send and its record may take (pacing holds a batch's last rows back for
        seconds, a chat's many rows for a minute), and refused when another sender took the row
        meanwhile."""
        now = self.clock()
        if claimed + self.lease - now > self.send_budget:
            return True  # nearly always: no statement
        # Renewed before the send whenever the send may outlast the lease: renewed only after
        # half of it, a send begun with 1.5 s of a 3 s lease left was taken and sent again by
        # another worker while its provider call and record ran (seen under load).
        try:
            async with self.db.uow() as uow:
                renewed = await uow.outbox.renew_lease(item.id, self.owner, now + self.lease)
                await uow.commit()
        except (DBAPIError, OSError) as exc:
            # Not sent now: the row stays leased and goes once its lease runs out.
            log.warning("outbox row %s: lease not renewed (%s)", item.id, type(exc).__name__)
            return False
        if not renewed:
            log.info(
                "outbox row %s: its lease ran out while it waited; another sender has it", item.id
            )
        return renewed

    async def _send_and_record(self, item: OutboxItem, claimed: datetime) -> None:
        channel = self.channels.get(item.channel)
        if channel is None:
            result = SendResult(ok=False, error=f"channel {item.channel} is off")
        else:
            outbound = Outbound(
                outbox_id=item.id,
                channel=item.channel,
                urn=item.urn,
                text=item.text,
                # A list made in C, not a generator resumed for each button.
                buttons=tuple([Button(b["label"], b["value"]) for b in item.buttons]),
                kind=item.kind,
                meta=dict(item.meta) if item.meta else {},
            )
            await self.pacer.wait(item.channel, item.urn)
            # Another worker sending it too would be a duplicate reply (R3).
            if not await self._still_ours(item, claimed):
                return
            try:
                result = await channel.send(outbound)
            except Exception as exc:  # a channel bug must not stop the others
                log.exception("channel %s raised while sending", item.channel)
                result = SendResult(ok=False, retry=True, error=type(exc).__name__)
        await self._record_outcome(item, result)

    async def _record_outcome(self, item: OutboxItem, result: SendResult) -> None:
        """Record what became of a send; while the database is away (a restart, a failover),
        keep trying for as long as the lease holds: a sent message left leased would be sent
        a second time once the lease runs out."""
        deadline = time.monotonic() + self.lease.total_seconds()
        delay = RECORD_RETRY_FIRST
        # The record itself, not a coroutine of ours awaiting it (one frame less a send).
        record = functools.partial(self._record, item, result)
        while True:
            try:
                if self._sending > 1:
                    # With the other outcomes waiting now, in one transaction: a record that
                    # fails is rolled back alone (group_commit.py), and tried again here.
                    counted = await self.records.run(record)
                else:
                    # A pass of one row: no other outcome can share its transaction, so no
                    # group (its task and turns of the loop cost a lone pass 3-8 % of its
                    # CPU, ~1.2 ms on SQLite).
                    counted = await record(self.db.uow)
                # Counted once committed: a batch run again would have counted it twice.
                if counted is not None:
                    counted.inc()
                return
            except (DBAPIError, OSError) as exc:
                if time.monotonic() + delay >= deadline:
                    log.error(
                        "outbox row %s: outcome not recorded (%s); it may be sent again",
                        item.id,
                        type(exc).__name__,
                    )
                    return
                log.warning(
                    "outbox row %s: recording failed (%s); trying again",
                    item.id,
                    type(exc).__name__,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX)

    async def _record(self, item: OutboxItem, result: SendResult, unit: Unit) -> Any:
        """Record a send's outcome; returns the metric to count once it is committed."""
        now = self.clock()
        counted = None  # a held message is counted nowhere
        async with unit() as uow:
            if result.contact_state and item.contact_id is not None:
                # What the provider told us about the person outlives this one message.
                await uow.contacts.set_flags(
                    item.contact_id,
                    opted_out=True if result.contact_state in ("opted_out", "blocked") else None,
                    unreachable=True if result.contact_state == "unreachable" else None,
                )
            if result.ok:
                await uow.outbox.mark_sent(
                    item.id,
                    external_id=result.external_id,
                    segments=result.segments,
                    now=now,
                    channel=item.channel,
                )
                counted = _per_channel(SENT, item.channel)
                if (item.meta or {}).get("forget"):
                    await uow.retention.forget_sent(item.id, now)
                for hook in self.on_sent:
                    await hook(uow, item)
            elif result.hold and item.contact_id is not None and item.kind != "followup":
                # Outside the provider's window (WhatsApp's 24 hours): hers waits until she
                # writes (OutboxRepo.release). A coordinator's fails below, so the alert goes
                # another way; so does a check-in: a question for now, held it would arrive
                # after her next message and take it for its answer; failed, it counts as
                # unanswered (a second try, then her coordinator is asked to check on her).
                await uow.outbox.hold_one(
                    item.id, error=result.error, also_sent=result.also_sent, meta=item.meta
                )
            elif result.retry and item.attempts + 1 < MAX_ATTEMPTS:
                delay = backoff(
                    item.attempts, result.retry_after, base=self.retry_base, cap=self.retry_max
                )
                await uow.outbox.mark_retry(
                    item.id, due_at=now + timedelta(seconds=delay), error=result.error, now=now
                )
                counted = _per_channel(RETRIED, item.channel)
            else:
                await uow.outbox.mark_failed(item.id, error=result.error or "failed", now=now)
                counted = _per_channel(FAILED, item.channel)
                log.warning("gave up on outbox row %s: %s", item.id, result.error)
            await uow.commit()
        return counted
