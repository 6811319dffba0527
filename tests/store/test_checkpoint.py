"""SQLite's WAL checkpointed in a thread, not inside a COMMIT on the event loop."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import db as db_module
from bot.store.crypto import Crypto
from bot.store.db import Database
from tests.store.fixtures import crypto  # noqa: F401

ROW = b"x" * 2000  # about half a page: every commit writes a page or two


@pytest.fixture
async def sqlite_db(tmp_path: Path, crypto: Crypto) -> AsyncIterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 't.db'}", crypto)
    async with db.uow() as uow:
        await uow.conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)"))
        await uow.commit()
    try:
        yield db
    finally:
        await db.dispose()


async def write(db: Database, n: int) -> None:
    for _ in range(n):
        async with db.uow() as uow:
            await uow.conn.execute(sa.text("INSERT INTO t (b) VALUES (:b)"), {"b": ROW})
            await uow.commit()


def wal_pages(path: str) -> tuple[int, int]:
    """(pages in the WAL, of them checkpointed), from a connection of its own."""
    with sqlite3.connect(path) as other:
        _, pages, done = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return pages, done


def wal_size(db: Database) -> int:
    assert db._file is not None
    return os.stat(db._file + "-wal").st_size


def wal_left(path: Path) -> int:
    """Bytes in the database's WAL file; 0 when there is none."""
    try:
        return os.stat(f"{path}-wal").st_size
    except FileNotFoundError:
        return 0


async def test_units_of_work_never_checkpoint_inside_their_commit(sqlite_db, monkeypatch):
    monkeypatch.setattr(db_module, "CHECKPOINT_COMMITS", 10**9)  # no checkpoint of ours either
    async with sqlite_db.uow() as uow:
        setting = await uow.conn.execute(sa.text("PRAGMA wal_autocheckpoint"))
        assert setting.scalar_one() == 0
    await write(sqlite_db, 600)  # past SQLite's 1000 pages: its own would have run
    assert sqlite_db._file is not None
    pages, done = wal_pages(sqlite_db._file)
    assert pages > 1000  # all still in the WAL, none copied during a COMMIT
    assert done == pages  # (the look just now checkpointed them)


async def test_a_checkpoint_runs_in_a_thread_every_so_many_commits(sqlite_db, monkeypatch):
    monkeypatch.setattr(db_module, "CHECKPOINT_COMMITS", 20)
    ran_on: list[int] = []
    real = sqlite_db._checkpoint_now

    def spied() -> tuple[int, int, int]:
        ran_on.append(threading.get_ident())
        return real()

    monkeypatch.setattr(sqlite_db, "_checkpoint_now", spied)
    sqlite_db._commits = 0  # (the fixture's CREATE TABLE was one)
    await write(sqlite_db, 19)
    assert sqlite_db._checkpointing is None
    await write(sqlite_db, 1)
    assert sqlite_db._checkpointing is not None
    await sqlite_db._checkpointing
    assert ran_on and threading.get_ident() not in ran_on
    assert sqlite_db._file is not None
    pages, done = wal_pages(sqlite_db._file)
    assert done == pages


async def test_writes_go_on_while_a_checkpoint_runs(sqlite_db, monkeypatch):
    """The checkpoint's thread holds no lock the units of work wait for: held mid-checkpoint,
    unit after unit still commits, and the loop turns."""
    monkeypatch.setattr(db_module, "CHECKPOINT_COMMITS", 10)
    inside, go_on = threading.Event(), threading.Event()
    real = sqlite_db._checkpoint_now

    def slow() -> tuple[int, int, int]:
        found = real()
        inside.set()
        go_on.wait()  # a checkpoint that takes long (fsync on a busy disk)
        return found

    monkeypatch.setattr(sqlite_db, "_checkpoint_now", slow)
    sqlite_db._commits = 0
    await write(sqlite_db, 10)
    task = sqlite_db._checkpointing
    assert task is not None
    await asyncio.to_thread(inside.wait)
    await write(sqlite_db, 50)  # all while the checkpoint is held
    assert not task.done()
    go_on.set()
    await task
    async with sqlite_db.uow() as uow:
        count = await uow.conn.execute(sa.text("SELECT count(*) FROM t"))
        assert count.scalar_one() == 60


class SpyLock(asyncio.Lock):
    """The write lock, telling when someone asks for it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()

    async def acquire(self) -> bool:
        self.asked.set()
        return await super().acquire()


async def test_a_long_wal_that_writes_outran_is_caught_up_under_the_write_lock(
    sqlite_db, monkeypatch
):
    """Pages a checkpoint could not copy (written after a reader's snapshot, as writes during
    it are) are copied while the units of work wait for the write lock; the next writer
    then starts the WAL again from its beginning, so it stays bounded."""
    monkeypatch.setattr(db_module, "CHECKPOINT_COMMITS", 10**9)
    monkeypatch.setattr(db_module, "WAL_RESTART_PAGES", 10)
    assert sqlite_db._file is not None
    lock = SpyLock()
    sqlite_db._write_lock = lock
    await write(sqlite_db, 10)
    reader = sqlite3.connect(sqlite_db._file, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()  # a snapshot: the WAL up to here
        await write(sqlite_db, 20)
        async with sqlite_db.uow():  # a unit of work holds the write lock
            lock.asked.clear()
            task = asyncio.create_task(sqlite_db.checkpoint())
            await lock.asked.wait()  # the first pass is done; the catch-up queues as a writer
            assert sqlite_db.writers_waiting == 1
            reader.execute("COMMIT")
        await task
    finally:
        reader.close()
    await write(sqlite_db, 1)
    pages, _ = wal_pages(sqlite_db._file)
    assert pages <= 3  # the WAL started again: only the last commit's pages are in it


async def test_writes_during_a_checkpoint_are_caught_up_so_the_wal_starts_again(
    sqlite_db, monkeypatch
):
    """SQLite reports the WAL as it was when the checkpoint began, all of it copied: what was
    committed meanwhile is caught up under the write lock all the same."""
    monkeypatch.setattr(db_module, "CHECKPOINT_COMMITS", 10**9)
    monkeypatch.setattr(db_module, "WAL_RESTART_PAGES", 10)
    assert sqlite_db._file is not None
    inside, go_on = threading.Event(), threading.Event()
    real = sqlite_db._checkpoint_now
    calls = 0

    def held_once() -> tuple[int, int, int]:
        nonlocal calls
        calls += 1
        found = real()
        if calls == 1:
            inside.set()
            go_on.wait()
        return found

    monkeypatch.setattr(sqlite_db, "_checkpoint_now", held_once)
    await write(sqlite_db, 20)
    task = asyncio.create_task(sqlite_db.checkpoint())
    await asyncio.to_thread(inside.wait)
    await write(sqlite_db, 20)  # after the checkpoint looked at the WAL
    go_on.set()
    await task
    assert calls == 2
    await write(sqlite_db, 1)
    pages, _ = wal_pages(sqlite_db._file)
    assert pages <= 3  # the WAL started again


async def test_the_wal_stays_bounded_and_everything_is_there_after_a_restart(
    tmp_path, crypto, monkeypatch
):
    monkeypatch.setattr(db_module, "CHECKPOINT_COMMITS", 10**9)
    path = tmp_path / "t.db"
    db = Database(f"sqlite:///{path}", crypto)
    async with db.uow() as uow:
        await uow.conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)"))
        await uow.commit()
    sizes = []
    for _ in range(8):
        await write(db, 50)
        await db.checkpoint()
        sizes.append(wal_size(db))
    assert max(sizes) <= sizes[0] * 1.5  # one round's worth, not eight
    await db.dispose()
    assert wal_left(path) == 0  # checkpointed and removed (or emptied) at the end
    again = Database(f"sqlite:///{path}", crypto)
    try:
        async with again.uow() as uow:
            count = await uow.conn.execute(sa.text("SELECT count(*), sum(length(b)) FROM t"))
            assert tuple(count.one()) == (400, 400 * len(ROW))
            check = await uow.conn.execute(sa.text("PRAGMA quick_check"))
            assert check.scalar_one() == "ok"
    finally:
        await again.dispose()
