"""Group commit: units of work waiting at the same moment share one transaction and one COMMIT."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import types
from collections.abc import Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from prometheus_client import Counter, Histogram

from bot.store.db import Database, UnitOfWork, lost_race

log = logging.getLogger(__name__)

T = TypeVar("T")
# What a unit of work's code opens instead of `db.uow()`: the database's own unit of work when
# it runs alone, a savepoint of the shared one when it runs in a batch.
Unit = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
Work = Callable[[Unit], Awaitable[T]]
# What runs once a unit's work is committed, with its value (see GroupCommit.run).
Then = Callable[[Any], None] | None
Entry = tuple[Work[Any], "asyncio.Future[Any]", Then]

# A batch holds the (SQLite) write lock, and other work waits for it: keep it short.
BATCH_LIMIT = 64
# PostgreSQL keeps the ids of at most 64 subtransactions of a transaction in shared memory
# (PGPROC_MAX_CACHED_SUBXIDS); past that, until the transaction ends, every snapshot taken in
# the whole cluster looks them up in pg_subtrans instead (the "subtransaction overflow"
# slowdown, every worker's every statement). Each unit's savepoint that writes is one: kept
# open for the shared COMMIT or released, it keeps its id until the COMMIT (only one rolled
# back gives it up). So a batch on PostgreSQL counts the units it opens, nested ones too, and
# takes no further work once it opened this many: 16 to spare for what the last work opens
# after that and for savepoints opened without `unit()` (uow.savepoint(), driver.savepoint()),
# which this count does not see. SQLite has no such limit.
PG_SAVEPOINTS = 48
# A unit alone that loses a race (a deadlock) with another worker runs again up to this often.
ALONE_TRIES = 3

UNITS = Histogram(
    "helpline_group_commit_units",
    "Units of work committed together in one transaction",
    ["name"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
FALLBACKS = Counter(
    "helpline_group_commit_fallbacks",
    "Optimistic batches rolled back whole (a unit failed) and run again under savepoints",
    ["name"],
)


@types.coroutine
def _turn() -> Generator[None, None, None]:
    """One turn of the event loop (a yield, not a wait): what `asyncio.sleep(0)` does, without
    its coroutine around the yield (the same Task step rescheduled with call_soon)."""
    yield


class GroupCommit:
    """Runs units of work in batches, all committed at once.

    Optimistic first (`optimistic`, the default): the units share the transaction under no
    savepoint (on PostgreSQL each was a round trip, about a tenth of a message's statements,
    and a subtransaction id; on SQLite it journalled the pages it changed). If one of them
    raises, or ends its unit uncommitted, nothing can undo its work alone: the transaction is
    rolled back whole (nothing of it durable, no caller answered) and the batch runs again
    the safe way, each unit under its own SAVEPOINT. Units are run again already (see below),
    so each must be one that may: what it does outside the database before its COMMIT must
    bear running twice (bot/outbox.py counts a send after the COMMIT; the per-sender reply
    limit answers the same message the same; a repeated message commits its empty unit, so a
    provider's retry does not make its batch run again), and only the run that committed
    answers its caller.

    Under savepoints a unit's failure rolls back its savepoint only; the others commit. When the
    shared transaction itself fails (its COMMIT, a lost connection, a deadlock between workers),
    nothing of it is durable and every unit runs again alone, so one bad batch costs a retry,
    not a message. `run` returns only after the unit's transaction committed: nothing is
    acknowledged before it is durable. Order is the callers' affair: units run in the order
    `run` was called, and a caller that must not overtake itself (one contact's messages) waits
    for its previous unit before queueing the next. With `limit=1` nothing is grouped: each unit
    runs at once, in its caller's task, in a unit of work of its own. On PostgreSQL a batch
    opens at most about PG_SAVEPOINTS savepoints, so never more subtransactions than a backend
    caches.

    On SQLite a batch holds the one write lock: when another unit of work waits for it, the
    batch commits what it has done and the rest waits for the next (`yields`, the default).
    Above all for the outbox's record of what a provider accepted: a crash before that record
    sends the message again (at-least-once by nature: no provider takes an idempotency key),
    and a record kept waiting behind a whole receive batch made that window wide enough for
    tests/security/test_crash_under_load.py to see a reply go twice after a SIGKILL.

    Those records are grouped too, in a group of their own ("sent", bot/outbox.py), which
    does not yield (`yields=False`): the window is then no wider than the grouping itself. A
    batch takes only what is queued when it starts (no timer, no waiting for more), is capped,
    and commits the records of sends that finished together with one COMMIT, where each of
    them used to wait for the lock and for every earlier record's own COMMIT (an fsync each on
    SQLite) in turn; a receive batch still yields to it. A kill mid-batch loses the batch's
    records as it lost the records still queued for the lock before: those rows stay leased
    and go again after their lease (tests/test_outbox_records.py kills one mid-batch).
    """

    def __init__(
        self,
        db: Database,
        name: str,
        *,
        limit: int = BATCH_LIMIT,
        yields: bool = True,
        optimistic: bool = True,
    ) -> None:
        self.db = db
        self.optimistic = optimistic
        self.name = name
        self.limit = limit
        self.yields = yields
        # Each batch observes its size: the labelled children found once (labels() takes a lock
        # and checks its arguments at every call, as bot/metrics.py notes).
        self._units = UNITS.labels(name)
        self._fallbacks = FALLBACKS.labels(name)
        self._queue: list[Entry] = []
        self._runner: asyncio.Task[None] | None = None

    async def run(self, work: Work[T], then: Callable[[T], None] | None = None) -> T:
        """Run `work(unit)` in the next batch and return its result once committed (or raise
        its error); `work` opens `unit()` where it would open `db.uow()`. `then(result)` runs
        once the unit is committed, before its caller is answered and also when the caller
        no longer waits (cancelled): what must follow a commit whoever asked for it. It must
        not raise."""
        if self.limit <= 1:
            value = await work(self.db.uow)
            if then is not None:
                then(value)
            return value
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future, then))
        if self._runner is None:
            # A task of its own, in a context of its own: a caller cancelled (a client that
            # hung up) must not cancel the batch that carries the others' messages.
            self._runner = asyncio.create_task(
                self._drain(), name=f"group-commit-{self.name}", context=contextvars.Context()
            )
        return await future

    @property
    def savepoints(self) -> int | None:
        """Savepoints one batch may open before it commits: PG_SAVEPOINTS on PostgreSQL, no
        limit on SQLite. (Asked when a batch runs: a pipeline may be built without a database.)"""
        return PG_SAVEPOINTS if self.db.dialect == "postgresql" else None

    async def _drain(self) -> None:
        savepoints = self.savepoints
        # Units taken into one batch: no more than it may open savepoints for.
        take = self.limit if savepoints is None else min(self.limit, savepoints)
        try:
            while self._queue:
                # One turn of the event loop first (a yield, not a wait): the requests already
                # read queue their units and join this batch.
                await _turn()
                batch, self._queue = self._queue[:take], self._queue[take:]
                # What a batch cut short left goes first in the next one.
                self._queue[:0] = await self._commit(batch, savepoints)
        finally:
            self._runner = None
            for _, future, _then in self._queue:  # only when cancelled (shutdown) mid-drain
                future.cancel()
            if self._queue:
                self._queue = []

    async def _commit(self, batch: list[Entry], savepoints: int | None) -> list[Entry]:
        """Run and commit a batch, or the start of it (no further work once its units opened
        `savepoints` savepoints, when not None); returns the units left for the next.

        Optimistic first: the units share the transaction under no savepoint at all. When one
        of them fails (or ends without commit), that transaction is rolled back whole, nothing
        of it was durable nor acknowledged, and the batch runs again the safe way, each unit
        under its own savepoint: the failing one fails alone and the others commit."""
        if len(batch) == 1:
            self._units.observe(1)
            await self._alone(*batch[0])
            return []
        try:
            ran = await self._run(batch, savepoints, optimistic=True) if self.optimistic else None
            if ran is None:
                if self.optimistic:
                    self._fallbacks.inc()
                ran = await self._run(batch, savepoints, optimistic=False)
            assert ran is not None
            outcomes, again = ran
        except Exception as exc:
            log.warning(
                "a batch of %d units (%s) failed as a whole (%s); each runs again alone",
                len(batch),
                self.name,
                type(exc).__name__,
            )
            for entry in batch:
                await self._alone(*entry)
            return []
        except BaseException:
            for _, future, _then in batch:
                future.cancel()
            raise
        self._units.observe(len(outcomes))
        if not again:  # nearly always: every unit's caller answered, in order
            for (_, future, then), (ok, value) in zip(batch, outcomes, strict=False):
                if ok and then is not None:
                    then(value)
                if not future.done():  # as _settle, inline: a call less a unit
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        else:
            for i, ((_, future, then), (ok, value)) in enumerate(
                zip(batch, outcomes, strict=False)
            ):
                if i not in again:
                    _settle(future, ok, value, then)
        for i in again:
            log.warning(
                "a unit (%s) lost a race with another transaction; it runs again alone", self.name
            )
            await self._alone(*batch[i])
        return batch[len(outcomes) :]

    async def _run(
        self,
        batch: list[Entry],
        savepoints: int | None,
        *,
        optimistic: bool,
    ) -> tuple[list[tuple[bool, Any]], list[int]] | None:
        """Run the batch (or its start) in one transaction and commit it: each unit's outcome
        and the units to run again alone. Optimistic: no savepoints, and None (the transaction
        rolled back) as soon as a unit fails or ends uncommitted."""
        outcomes: list[tuple[bool, Any]] = []
        again: list[int] = []  # units that lost a race with another worker: run alone after
        opened = 0  # savepoints the units opened through `unit` (PostgreSQL: counted)
        # A turn of the loop after each unit only where it lets a waiting writer in: a batch
        # that yields, on SQLite. One that does not yield (the outbox's records: ~0.1 ms a
        # unit, RECORD_BATCH at most) had no use for the turn but to let other tasks run a
        # little earlier; on PostgreSQL the statements await the server, so the loop turns
        # anyway, and there is no write lock to wait for. A turn was a pass of the event
        # loop a unit: ~1 of a message's ~2.75 (bench/bytecodes.py).
        turns = self.yields and self.db.dialect == "sqlite"
        async with self.db.uow() as shared:

            def counted() -> AbstractAsyncContextManager[UnitOfWork]:
                nonlocal opened
                opened += 1
                return shared.unit()

            unit: Unit
            if optimistic:
                unit = shared.shared
            else:
                unit = shared.unit if savepoints is None else counted
            for work, _, _then in batch:
                if optimistic:
                    try:
                        value = await work(unit)
                    except Exception:
                        return None  # rolled back whole on the way out: the safe way next
                    if shared.spoiled:  # a unit it opened ended uncommitted
                        return None
                    outcomes.append((True, value))
                else:
                    try:
                        outcomes.append((True, await work(unit)))
                    except Exception as exc:  # its savepoint is rolled back; the others stay
                        if lost_race(exc):
                            # A deadlock with another worker's batch (PostgreSQL breaks it
                            # after deadlock_timeout by failing one statement): a batch holds
                            # its earlier units' rows while later ones run, so two workers'
                            # batches can lock two people's rows in opposite orders. Not her
                            # message's fault: it runs again, alone, once this batch is done.
                            again.append(len(outcomes))
                        outcomes.append((False, exc))
                if turns:
                    # A turn of the event loop (a yield, not a wait): SQLite's statements run
                    # inline and never give it one, and the sender must be able to read a
                    # provider's answer and ask for the write lock while a batch runs.
                    await _turn()
                    if self.db.writers_waiting:
                        # Someone waits for the (SQLite) write lock: the outbox recording
                        # what a provider accepted, above all, since a crash before that
                        # record sends the message again. Commit what is done and let them in.
                        break
                if not optimistic and savepoints is not None and opened >= savepoints:
                    # A work that opened several (nested, or one after the other) filled
                    # the batch early: commit before PostgreSQL's cache overflows.
                    break
            await shared.commit()
        return outcomes, again

    async def _alone(self, work: Work[Any], future: asyncio.Future[Any], then: Then) -> None:
        try:
            for attempt in range(1, ALONE_TRIES + 1):
                try:
                    value = await work(self.db.uow)
                    break
                except Exception as exc:
                    # Alone, a unit can still deadlock with another worker's batch: its
                    # transaction was rolled back whole, so it runs again.
                    if attempt == ALONE_TRIES or not lost_race(exc):
                        raise
        except Exception as exc:
            _settle(future, False, exc, None)
        except BaseException:
            future.cancel()
            raise
        else:
            _settle(future, True, value, then)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any, then: Then) -> None:
    if ok and then is not None:
        then(value)  # committed: whether or not its caller still waits
    if future.done():  # its caller was cancelled: the unit ran all the same
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
