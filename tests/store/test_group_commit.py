"""Group commit on SQLite and PostgreSQL: one COMMIT for the units waiting together, a failing
unit rolled back alone, a failed shared transaction retried unit by unit."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from bot.store import driver
from bot.store.db import Database, UnitOfWork
from bot.store.group_commit import BATCH_LIMIT, PG_SAVEPOINTS, GroupCommit, Unit


async def actions(db: Database) -> list[str]:
    """The audit log's actions, oldest first (what the units wrote)."""
    async with db.uow() as uow:
        return [e.action for e in await uow.audit.list_all()]


def writer(action: str, now: datetime, fail: bool = False) -> Any:
    """A unit that writes one audit entry, then fails if told to (after writing)."""

    async def work(unit: Unit) -> str:
        async with unit() as uow:
            await uow.audit.add(action, now=now)
            if fail:
                raise RuntimeError(f"{action} failed")
            await uow.commit()
        return action

    return work


async def test_units_waiting_together_commit_once(db, now, commits):
    group = GroupCommit(db, "test")
    done = await asyncio.gather(*(group.run(writer(f"a{i}", now)) for i in range(6)))
    assert done == [f"a{i}" for i in range(6)]
    assert len(commits) == 1
    assert await actions(db) == [f"a{i}" for i in range(6)]  # in the order they came


def _units(name: str) -> tuple[float, float]:
    """(batches, units) the helpline_group_commit_units histogram counted for `name`."""
    labels = {"name": name}
    count = REGISTRY.get_sample_value("helpline_group_commit_units_count", labels) or 0.0
    total = REGISTRY.get_sample_value("helpline_group_commit_units_sum", labels) or 0.0
    return count, total


async def test_each_batch_is_counted_under_its_groups_name(db, now):
    """The labelled child is found once, at construction: batches of two groups still count
    under each one's own name."""
    one, other = GroupCommit(db, "test-units-one"), GroupCommit(db, "test-units-other")
    before = _units("test-units-one"), _units("test-units-other")
    await asyncio.gather(*(one.run(writer(f"a{i}", now)) for i in range(3)))
    await one.run(writer("alone", now))
    await asyncio.gather(*(other.run(writer(f"b{i}", now)) for i in range(2)))
    after = _units("test-units-one"), _units("test-units-other")
    assert after[0] == (before[0][0] + 2, before[0][1] + 4)  # a batch of 3, then 1 alone
    assert after[1] == (before[1][0] + 1, before[1][1] + 2)


async def test_a_failing_unit_is_rolled_back_alone(db, now, commits):
    group = GroupCommit(db, "test")
    works = [writer("a0", now), writer("bad", now, fail=True), writer("a2", now)]
    done = await asyncio.gather(*(group.run(w) for w in works), return_exceptions=True)
    assert done[0] == "a0" and done[2] == "a2"
    assert isinstance(done[1], RuntimeError) and str(done[1]) == "bad failed"
    assert len(commits) == 1
    assert await actions(db) == ["a0", "a2"]


async def test_a_unit_that_does_not_commit_leaves_nothing(db, now):
    group = GroupCommit(db, "test")

    async def undecided(unit: Unit) -> None:
        async with unit() as uow:
            await uow.audit.add("undecided", now=now)  # and no commit: rolled back

    await asyncio.gather(group.run(writer("a0", now)), group.run(undecided))
    assert await actions(db) == ["a0"]


async def test_a_failed_shared_commit_runs_every_unit_again_alone(db, now, commits, monkeypatch):
    group = GroupCommit(db, "test")
    calls: list[str] = []
    real_commit = UnitOfWork.commit
    failures = [RuntimeError("the shared COMMIT failed")]

    async def commit_failing_once(self: UnitOfWork) -> None:
        if failures and type(self) is UnitOfWork:  # the batch's own transaction, not a savepoint
            raise failures.pop()
        await real_commit(self)

    monkeypatch.setattr(UnitOfWork, "commit", commit_failing_once)

    def counted(action: str) -> Any:
        work = writer(action, now)

        async def run(unit: Unit) -> str:
            calls.append(action)
            return await work(unit)

        return run

    done = await asyncio.gather(*(group.run(counted(f"a{i}")) for i in range(3)))
    assert done == ["a0", "a1", "a2"]
    assert calls == ["a0", "a1", "a2", "a0", "a1", "a2"]  # the batch, then each alone
    assert len(commits) == 3
    assert await actions(db) == ["a0", "a1", "a2"]  # each once: the batch left nothing


async def test_a_caller_cancelled_does_not_cancel_the_batch(db, now):
    group = GroupCommit(db, "test")
    gone = asyncio.ensure_future(group.run(writer("gone", now)))
    stays = asyncio.ensure_future(group.run(writer("stays", now)))
    await asyncio.sleep(0)  # both queued; the batch has not started
    gone.cancel()
    assert await stays == "stays"
    with pytest.raises(asyncio.CancelledError):
        await gone
    # The cancelled caller's unit ran all the same: a provider that saw no answer sends the
    # message again and finds it stored (a duplicate), instead of losing it.
    assert await actions(db) == ["gone", "stays"]


@pytest.mark.parametrize("limit", [BATCH_LIMIT, 1], ids=["grouped", "alone"])
async def test_then_runs_once_for_each_committed_unit_and_never_for_a_failed_one(db, now, limit):
    group = GroupCommit(db, "test", limit=limit)
    committed: list[str] = []
    works = [writer("a0", now), writer("bad", now, fail=True), writer("a2", now)]
    done = await asyncio.gather(
        *(group.run(w, then=committed.append) for w in works), return_exceptions=True
    )
    assert isinstance(done[1], RuntimeError)
    # The batch ran optimistic first, failed on "bad", and ran again under savepoints: the
    # first run's values were never committed, and are not handed on.
    assert committed == ["a0", "a2"]
    assert await actions(db) == ["a0", "a2"]


async def test_then_runs_when_the_caller_no_longer_waits(db, now):
    group = GroupCommit(db, "test")
    committed: list[str] = []
    gone = asyncio.ensure_future(group.run(writer("gone", now), then=committed.append))
    stays = asyncio.ensure_future(group.run(writer("stays", now), then=committed.append))
    await asyncio.sleep(0)  # both queued; the batch has not started
    gone.cancel()
    assert await stays == "stays"
    assert committed == ["gone", "stays"]  # what follows its commit, whoever waits for it


async def test_then_runs_for_units_that_run_again_alone(db, now, monkeypatch):
    group = GroupCommit(db, "test")
    real_commit = UnitOfWork.commit
    failures = [RuntimeError("the shared COMMIT failed")]

    async def commit_failing_once(self: UnitOfWork) -> None:
        if failures and type(self) is UnitOfWork:
            raise failures.pop()
        await real_commit(self)

    monkeypatch.setattr(UnitOfWork, "commit", commit_failing_once)
    committed: list[str] = []
    await asyncio.gather(
        *(group.run(writer(f"a{i}", now), then=committed.append) for i in range(3))
    )
    assert committed == ["a0", "a1", "a2"]  # once each: the failed batch's run counts not


async def test_a_unit_alone_runs_in_its_own_unit_of_work(db, now, commits):
    group = GroupCommit(db, "test")
    seen: list[type] = []

    async def alone(unit: Unit) -> None:
        async with unit() as uow:
            seen.append(type(uow))
            await uow.audit.add("alone", now=now)
            await uow.commit()

    await group.run(alone)
    assert seen == [UnitOfWork] and len(commits) == 1


async def test_a_limit_of_one_groups_nothing(db, now, commits):
    group = GroupCommit(db, "test", limit=1)
    done = await asyncio.gather(*(group.run(writer(f"a{i}", now)) for i in range(3)))
    assert done == ["a0", "a1", "a2"]
    assert len(commits) == 3  # each in a transaction of its own


async def test_a_batch_lets_a_waiting_writer_in_before_going_on(db, now, commits):
    if db.dialect != "sqlite":
        pytest.skip("only SQLite has one write lock that a batch holds from others")
    group = GroupCommit(db, "test")
    others: list[asyncio.Task[None]] = []

    async def other() -> None:
        async with db.uow() as uow:  # as the outbox records a send: it waits for the lock
            await uow.audit.add("other", now=now)
            await uow.commit()

    async def first(unit: Unit) -> str:
        # A task of its own context, as the outbox sender is (not the batch's, which has a
        # unit of work open).
        loop = asyncio.get_running_loop()
        others.append(loop.create_task(other(), context=contextvars.Context()))
        await asyncio.sleep(0)  # a yield: the other unit of work starts waiting for the lock
        return await writer("a0", now)(unit)

    done = await asyncio.gather(
        group.run(first), group.run(writer("a1", now)), group.run(writer("a2", now))
    )
    await others[0]
    assert done == ["a0", "a1", "a2"]
    # The batch stopped after its first unit, let the waiting writer in, then went on.
    assert await actions(db) == ["a0", "other", "a1", "a2"]
    assert len(commits) == 3


@pytest.mark.parametrize("optimistic", [False, True], ids=["savepoints", "optimistic"])
async def test_a_unit_that_deadlocks_with_another_workers_batch_runs_again_alone(
    db, crypto, now, optimistic
):
    if db.dialect != "postgresql":
        pytest.skip("only PostgreSQL has row locks that two workers' batches can take crosswise")
    other_db = Database(db.url, crypto)  # a second worker
    try:
        async with db.uow() as uow:
            for action in ("row1", "row2"):
                await uow.audit.add(action, now=now)
            await uow.commit()
        ids = {e.action: e.id for e in (await _entries(db))}
        x_holds, y_holds = asyncio.Event(), asyncio.Event()

        def update(
            row: str,
            done: str,
            hold: asyncio.Event | None = None,
            wait: asyncio.Event | None = None,
        ) -> Any:
            async def work(unit: Unit) -> str:
                if wait is not None:
                    await wait.wait()
                async with unit() as uow:
                    await uow.conn.execute(sa.text("SET LOCAL deadlock_timeout = '50ms'"))
                    await uow.conn.execute(
                        sa.text("UPDATE audit_log SET action = action || ':' || :a WHERE id = :id"),
                        {"a": done, "id": ids[row]},
                    )
                    if hold is not None:
                        hold.set()
                    await uow.commit()
                return done

            return work

        # Worker X's batch locks row 1 then row 2; worker Y's row 2 then row 1: a deadlock,
        # which PostgreSQL breaks by failing one of the two second statements.
        x = GroupCommit(db, "x", optimistic=optimistic)
        y = GroupCommit(other_db, "y", optimistic=optimistic)
        done = await asyncio.gather(
            x.run(update("row1", "x1", hold=x_holds)),
            x.run(update("row2", "x2", wait=y_holds)),
            y.run(update("row2", "y1", hold=y_holds, wait=x_holds)),
            y.run(update("row1", "y2")),
        )
        assert done == ["x1", "x2", "y1", "y2"]  # the loser ran again, alone, and went through
        rows = sorted(e.action for e in await _entries(db))
        if not optimistic:
            # Each update ran once: row 1 by X then Y, row 2 by Y then X, whichever lost.
            assert rows == ["row1:x1:y2", "row2:y1:x2"]
        else:
            # Each update ran once. The loser's batch (no savepoints) was rolled back whole,
            # its row 1 lock too, so the winner may have gone first on both rows.
            assert [sorted(r.split(":")) for r in rows] == [
                ["row1", "x1", "y2"],
                ["row2", "x2", "y1"],
            ]
    finally:
        await other_db.dispose()


async def _entries(db: Database) -> list[Any]:
    async with db.uow() as uow:
        return list(await uow.audit.list_all())


class LostRace(Exception):
    """What a deadlock between workers looks like to the store (its SQLSTATE)."""

    sqlstate = "40P01"


async def test_a_unit_alone_that_loses_a_race_runs_again_and_others_do_not(db, now):
    group = GroupCommit(db, "test")
    tries: list[str] = []

    def flaky(action: str, error: Exception, times: int) -> Any:
        async def work(unit: Unit) -> str:
            tries.append(action)
            if tries.count(action) <= times:
                raise error
            return await writer(action, now)(unit)

        return work

    assert await group.run(flaky("race", LostRace(), times=1)) == "race"
    with pytest.raises(RuntimeError):
        await group.run(flaky("bug", RuntimeError("a bug"), times=1))
    with pytest.raises(LostRace):
        await group.run(flaky("stuck", LostRace(), times=99))
    assert tries == ["race", "race", "bug", "stuck", "stuck", "stuck"]
    assert await actions(db) == ["race"]


async def test_a_batch_that_does_not_yield_keeps_the_lock_to_its_end(db, now, commits):
    if db.dialect != "sqlite":
        pytest.skip("only SQLite has one write lock that a batch holds from others")
    # The outbox's records of sends (bot/outbox.py): a receive batch yields to them, they do
    # not yield to it, so a record never waits behind another's batch.
    group = GroupCommit(db, "test", yields=False)
    others: list[asyncio.Task[None]] = []

    async def other() -> None:
        async with db.uow() as uow:
            await uow.audit.add("other", now=now)
            await uow.commit()

    async def first(unit: Unit) -> str:
        loop = asyncio.get_running_loop()
        others.append(loop.create_task(other(), context=contextvars.Context()))
        await asyncio.sleep(0)  # a yield: the other unit of work starts waiting for the lock
        assert db.writers_waiting == 1
        return await writer("a0", now)(unit)

    done = await asyncio.gather(
        group.run(first), group.run(writer("a1", now)), group.run(writer("a2", now))
    )
    await others[0]
    assert done == ["a0", "a1", "a2"]
    assert await actions(db) == ["a0", "a1", "a2", "other"]
    assert len(commits) == 2


async def test_units_keep_their_savepoints_open_for_the_shared_commit(db, now, commits):
    """A committed unit sends no RELEASE (the shared COMMIT keeps its work): a round trip fewer
    per unit on PostgreSQL. A failing unit after several kept ones still undoes only its own."""
    seen: list[str] = []
    driver.observers.append(seen.append)
    try:
        group = GroupCommit(db, "test", optimistic=False)
        works = [writer("a0", now), writer("a1", now), writer("bad", now, fail=True)]
        works += [writer("a3", now), writer("bad2", now, fail=True), writer("a5", now)]
        done = await asyncio.gather(*(group.run(w) for w in works), return_exceptions=True)
    finally:
        driver.observers.remove(seen.append)
    assert [d for d in done if isinstance(d, str)] == ["a0", "a1", "a3", "a5"]
    assert len(commits) == 1
    assert await actions(db) == ["a0", "a1", "a3", "a5"]
    statements = [s.split()[0].upper() for s in seen if s.split()[0].upper() in _SP]
    # Six SAVEPOINTs; a ROLLBACK TO and its RELEASE for each failed unit only.
    assert statements.count("SAVEPOINT") == 6
    assert statements.count("ROLLBACK") == 2 and statements.count("RELEASE") == 2


_SP = {"SAVEPOINT", "RELEASE", "ROLLBACK"}


async def test_a_unit_opened_inside_another_is_released_and_rolled_back_with_it(db, now):
    """Nested, a unit's savepoint is released as usual: the outer one failing undoes both
    (kept open, ROLLBACK TO would have stopped at the inner one)."""
    group = GroupCommit(db, "test")

    async def nested(unit: Unit) -> None:
        async with unit() as outer:
            await outer.audit.add("outer", now=now)
            async with unit() as inner:
                await inner.audit.add("inner", now=now)
                await inner.commit()
            raise RuntimeError("outer failed")

    done = await asyncio.gather(
        group.run(writer("a0", now)),
        group.run(nested),
        group.run(writer("a2", now)),
        return_exceptions=True,
    )
    assert done[0] == "a0" and done[2] == "a2" and isinstance(done[1], RuntimeError)
    assert await actions(db) == ["a0", "a2"]


async def test_a_unit_opened_after_a_kept_one_in_the_same_work_rolls_back_alone(db, now):
    """Two units one after the other in one work: the second failing undoes only itself."""
    group = GroupCommit(db, "test")

    async def two(unit: Unit) -> None:
        async with unit() as first:
            await first.audit.add("first", now=now)
            await first.commit()
        async with unit() as second:
            await second.audit.add("second", now=now)
            raise RuntimeError("second failed")

    done = await asyncio.gather(
        group.run(writer("a0", now)), group.run(two), return_exceptions=True
    )
    assert done[0] == "a0" and isinstance(done[1], RuntimeError)
    assert await actions(db) == ["a0", "first"]


@contextlib.contextmanager
def savepoints_per_transaction(db: Database) -> Iterator[list[int]]:
    """Per COMMIT, in the order they ran: the SAVEPOINT statements (nested ones too) of the
    transaction it ended."""
    per_commit: list[int] = []
    opened = 0

    def on_statement(sql: str) -> None:
        nonlocal opened
        if sql.split()[0].upper() == "SAVEPOINT":
            opened += 1

    def on_commit(_conn: object) -> None:
        nonlocal opened
        per_commit.append(opened)
        opened = 0

    driver.observers.append(on_statement)
    sa.event.listen(db.engine.sync_engine, "commit", on_commit)
    try:
        yield per_commit
    finally:
        sa.event.remove(db.engine.sync_engine, "commit", on_commit)
        driver.observers.remove(on_statement)
    assert opened == 0  # every savepoint was in a transaction that committed


def nesting_writer(action: str, now: datetime) -> Any:
    """A unit that opens a second unit inside its own, each writing one audit entry."""

    async def work(unit: Unit) -> str:
        async with unit() as outer:
            await outer.audit.add(action, now=now)
            async with unit() as inner:
                await inner.audit.add(f"{action}.inner", now=now)
                await inner.commit()
            await outer.commit()
        return action

    return work


async def test_a_batch_never_opens_more_savepoints_than_postgresql_caches(db, now):
    """More units queued at once than a PostgreSQL backend caches subtransactions for (64):
    no transaction opens more than PG_SAVEPOINTS savepoints, and every unit still commits.
    SQLite keeps its batches of BATCH_LIMIT."""
    cap = PG_SAVEPOINTS if db.dialect == "postgresql" else BATCH_LIMIT
    with savepoints_per_transaction(db) as per_commit:
        group = GroupCommit(db, "test", optimistic=False)  # as a batch that fell back runs
        done = await asyncio.gather(*(group.run(writer(f"a{i}", now)) for i in range(100)))
    assert done == [f"a{i}" for i in range(100)]
    assert sum(per_commit) == 100
    assert max(per_commit) == cap  # full batches, never past the cap
    assert await actions(db) == [f"a{i}" for i in range(100)]


async def test_savepoints_opened_inside_units_count_towards_the_cap(db, now):
    """Units that each open a second one inside their own: on PostgreSQL the batch counts both
    and commits at PG_SAVEPOINTS, where a count of units alone would open twice as many. SQLite
    takes them all in one batch, as before."""
    with savepoints_per_transaction(db) as per_commit:
        group = GroupCommit(db, "test", optimistic=False)  # as a batch that fell back runs
        done = await asyncio.gather(*(group.run(nesting_writer(f"a{i}", now)) for i in range(40)))
    assert done == [f"a{i}" for i in range(40)]
    if db.dialect == "postgresql":
        assert per_commit == [PG_SAVEPOINTS, 80 - PG_SAVEPOINTS]
    else:
        assert per_commit == [80]
    assert await actions(db) == [a for i in range(40) for a in (f"a{i}", f"a{i}.inner")]


# -- optimistic batches: no savepoints unless a unit fails ------------------------------------


async def test_a_batch_whose_units_all_commit_opens_no_savepoint(db, now, commits):
    """Every unit commits: one transaction, one COMMIT, and not one SAVEPOINT, RELEASE or
    ROLLBACK TO (on PostgreSQL each was a round trip and a subtransaction)."""
    seen: list[str] = []
    driver.observers.append(seen.append)
    try:
        group = GroupCommit(db, "test")
        done = await asyncio.gather(*(group.run(writer(f"a{i}", now)) for i in range(6)))
    finally:
        driver.observers.remove(seen.append)
    assert done == [f"a{i}" for i in range(6)]
    assert len(commits) == 1
    assert [s for s in seen if s.split()[0].upper() in _SP] == []
    assert await actions(db) == [f"a{i}" for i in range(6)]


async def test_full_optimistic_batches_open_no_savepoint_and_keep_the_cap(db, now):
    """A hundred units at once: batches as large as before (PG_SAVEPOINTS on PostgreSQL, so a
    batch that falls back stays under the cap), none opens a savepoint."""
    cap = PG_SAVEPOINTS if db.dialect == "postgresql" else BATCH_LIMIT
    sizes: list[int] = []
    with savepoints_per_transaction(db) as per_commit:
        group = GroupCommit(db, "test")
        real = group._run

        async def run(batch: Any, savepoints: Any, *, optimistic: bool) -> Any:
            ran = await real(batch, savepoints, optimistic=optimistic)
            if ran is not None:
                sizes.append(len(ran[0]))
            return ran

        group._run = run  # type: ignore[method-assign]
        done = await asyncio.gather(*(group.run(writer(f"a{i}", now)) for i in range(100)))
    assert done == [f"a{i}" for i in range(100)]
    assert sizes == [min(cap, 100 - k) for k in range(0, 100, cap)]  # 48, 48, 4 or 64, 36
    assert sum(per_commit) == 0
    assert await actions(db) == [f"a{i}" for i in range(100)]


class Effects:
    """What units did outside the database, and when: each run of a unit (it may run more
    than once), each result its caller received (as the pipeline's after-commit hooks run on
    it), and each COMMIT and ROLLBACK of the engine, in one timeline."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.timeline: list[str] = []

    def __enter__(self) -> Effects:
        sa.event.listen(self.db.engine.sync_engine, "commit", self._commit)
        sa.event.listen(self.db.engine.sync_engine, "rollback", self._rollback)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.db.engine.sync_engine, "commit", self._commit)
        sa.event.remove(self.db.engine.sync_engine, "rollback", self._rollback)

    def _commit(self, _conn: object) -> None:
        self.timeline.append("COMMIT")

    def _rollback(self, _conn: object) -> None:
        self.timeline.append("ROLLBACK")

    def of(self, kind: str) -> list[str]:
        return [t.split(":", 1)[1] for t in self.timeline if t.startswith(kind + ":")]

    async def caller(self, group: GroupCommit, work: Any) -> Any:
        """`group.run(work)`, its result (or error) noted as an after-commit hook would see it."""
        try:
            value = await group.run(work)
        except Exception as exc:
            self.timeline.append(f"hook:{type(exc).__name__}")
            raise
        self.timeline.append(f"hook:{value}")
        return value

    def unit(self, action: str, now: datetime, failure: str | None = None) -> Any:
        """A unit that notes its run, writes one audit entry and commits; `failure`: "raise"
        after the write, "sql" a statement the database refuses (PostgreSQL then refuses the
        whole transaction's next statements), "swallow" a nested unit that fails and that the
        work catches (returning all the same)."""

        async def work(unit: Unit) -> str:
            self.timeline.append(f"run:{action}")
            async with unit() as uow:
                await uow.audit.add(action, now=now)
                if failure == "raise":
                    raise RuntimeError(f"{action} failed")
                if failure == "sql":
                    await uow.conn.execute(sa.text("SELECT * FROM no_such_table"))
                if failure == "swallow":
                    with contextlib.suppress(RuntimeError):
                        async with unit() as inner:
                            await inner.audit.add(f"{action}.inner", now=now)
                            raise RuntimeError("inner failed")
                await uow.commit()
            return action

        return work


@pytest.mark.parametrize("failure", ["raise", "sql", "swallow"])
async def test_a_unit_failing_in_an_optimistic_batch_fails_alone(db, now, failure):
    """One unit of five fails: the optimistic transaction is rolled back whole and the batch
    runs again under savepoints. The others commit exactly once, the failing one's writes are
    absent, every caller hears once and only after the COMMIT, and nothing of the first run
    shows (its results are dropped with its transaction)."""
    group = GroupCommit(db, "test")
    with Effects(db) as fx:
        names = ["a0", "a1", "bad", "a3", "a4"]
        works = [fx.unit(n, now, failure if n == "bad" else None) for n in names]
        done = await asyncio.gather(*(fx.caller(group, w) for w in works), return_exceptions=True)
    good = ["a0", "a1", "a3", "a4"]
    if failure == "swallow":
        # The work went on after its nested unit failed: its own entry stays, the inner one's
        # does not (a savepoint undid it in the batch run again).
        assert done == names
        assert await actions(db) == names
    else:
        assert [d for d in done if isinstance(d, str)] == good
        assert isinstance(done[2], Exception)
        assert await actions(db) == good
    # The optimistic run stopped at the failing unit and was rolled back; all ran again.
    assert fx.of("run") == ["a0", "a1", "bad", *names]
    before_hooks = fx.timeline[: fx.timeline.index(next(t for t in fx.timeline if "hook:" in t))]
    assert [t for t in before_hooks if t in ("COMMIT", "ROLLBACK")] == ["ROLLBACK", "COMMIT"]
    hooks = fx.of("hook")
    assert sorted(h for h in hooks if h in names) == sorted(good if failure != "swallow" else names)
    assert len(hooks) == 5  # each caller heard once


async def test_a_unit_that_fails_only_on_its_first_run_commits_on_the_fallback(db, now):
    """Units are run again when their batch falls back: one that failed only the first time
    (a flag) commits then, with the others."""
    group = GroupCommit(db, "test")
    failed: list[str] = []

    async def once(unit: Unit) -> str:
        async with unit() as uow:
            await uow.audit.add("once", now=now)
            if not failed:
                failed.append("once")
                raise RuntimeError("the first run fails")
            await uow.commit()
        return "once"

    done = await asyncio.gather(
        group.run(writer("a0", now)), group.run(once), group.run(writer("a2", now))
    )
    assert done == ["a0", "once", "a2"]
    assert await actions(db) == ["a0", "once", "a2"]
