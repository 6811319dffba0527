"""SQLite statements run on the event loop; a BEGIN that must wait for the lock waits off it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import db as db_module
from bot.store.crypto import Crypto
from bot.store.db import Database
from tests.store.fixtures import crypto  # noqa: F401


async def _fresh(path: Path, crypto: Crypto) -> Database:
    db = Database(f"sqlite:///{path}", crypto)
    async with db.uow() as uow:
        await uow.conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        await uow.commit()
    return db


async def test_statements_run_on_the_loop_thread(tmp_path: Path, crypto: Crypto) -> None:
    db = await _fresh(tmp_path / "t.db", crypto)
    try:
        async with db.uow() as uow:
            raw = await uow.conn.get_raw_connection()
            driver = raw.driver_connection._conn  # the sqlite3 connection under aiosqlite
            driver.create_function("thread_id", 0, threading.get_ident)
            ran_on = (await uow.conn.execute(sa.text("SELECT thread_id()"))).scalar_one()
            await uow.conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            await uow.commit()
        assert ran_on == threading.get_ident()  # no hop to aiosqlite's thread and back
        async with db.uow() as uow:
            assert (await uow.conn.execute(sa.text("SELECT x FROM t"))).scalar_one() == 1
    finally:
        await db.dispose()


async def test_a_begin_that_waits_for_another_process_does_not_stop_the_loop(
    tmp_path: Path,
    crypto: Crypto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Were BEGIN run on the loop, it would hold the loop for this long and then fail.
    monkeypatch.setattr(db_module, "SQLITE_BUSY_MS", 3000)
    path = tmp_path / "t.db"
    db = await _fresh(path, crypto)
    cli = sqlite3.connect(path, isolation_level=None)  # another process, e.g. the CLI
    try:
        cli.execute("BEGIN IMMEDIATE")

        async def write() -> None:
            async with db.uow() as uow:
                await uow.conn.execute(sa.text("INSERT INTO t VALUES (2)"))
                await uow.commit()

        task = asyncio.create_task(write())
        for _ in range(50):  # the loop goes on turning while the unit of work waits
            await asyncio.sleep(0)
        assert not task.done()
        cli.execute("INSERT INTO t VALUES (1)")
        cli.execute("COMMIT")
        await task  # the lock was free: the waiting BEGIN went on
        async with db.uow() as uow:
            rows = (await uow.conn.execute(sa.text("SELECT x FROM t ORDER BY x"))).scalars()
            assert list(rows) == [1, 2]
    finally:
        cli.close()
        await db.dispose()


async def test_a_failed_statement_rolls_back_and_the_connection_goes_on(
    tmp_path: Path,
    crypto: Crypto,
) -> None:
    db = await _fresh(tmp_path / "t.db", crypto)
    try:
        with pytest.raises(sa.exc.OperationalError):
            async with db.uow() as uow:
                await uow.conn.execute(sa.text("INSERT INTO t VALUES (1)"))
                await uow.conn.execute(sa.text("INSERT INTO missing VALUES (1)"))
        async with db.uow() as uow:
            assert (await uow.conn.execute(sa.text("SELECT count(*) FROM t"))).scalar_one() == 0
            await uow.conn.execute(sa.text("INSERT INTO t VALUES (3)"))
            await uow.commit()
        async with db.uow() as uow:
            assert (await uow.conn.execute(sa.text("SELECT x FROM t"))).scalar_one() == 3
    finally:
        await db.dispose()


async def test_a_begin_that_cannot_get_the_lock_fails_as_sqlalchemy_would(
    tmp_path: Path,
    crypto: Crypto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BEGIN runs on LoopConnection itself (not SQLAlchemy's execute): its failure is still an
    sqlalchemy OperationalError around sqlite3's, what the callers catch."""
    monkeypatch.setattr(db_module, "SQLITE_BUSY_MS", 50)
    path = tmp_path / "t.db"
    db = await _fresh(path, crypto)
    cli = sqlite3.connect(path, isolation_level=None)
    try:
        cli.execute("BEGIN IMMEDIATE")  # held throughout: the BEGIN below gives up
        with pytest.raises(sa.exc.OperationalError) as caught:
            async with db.uow() as uow:
                await uow.conn.execute(sa.text("INSERT INTO t VALUES (2)"))
        assert isinstance(caught.value.orig, sqlite3.OperationalError)
        assert caught.value.orig.sqlite_errorcode == sqlite3.SQLITE_BUSY
        cli.execute("ROLLBACK")
        async with db.uow() as uow:  # the connection goes on
            await uow.conn.execute(sa.text("INSERT INTO t VALUES (3)"))
            await uow.commit()
        async with db.uow() as uow:
            assert list((await uow.conn.execute(sa.text("SELECT x FROM t"))).scalars()) == [3]
    finally:
        cli.close()
        await db.dispose()


def _sqlite_temp_files() -> list[str]:
    """Temporary files SQLite holds open in this process (it unlinks them at once: 'etilqs_')."""
    fds = Path("/proc/self/fd")
    names = []
    for fd in fds.iterdir():
        try:
            names.append(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    return [name for name in names if "etilqs_" in name]


async def test_a_big_savepoint_of_a_unit_of_work_keeps_its_journal_in_memory(
    tmp_path: Path, crypto: Crypto
) -> None:
    """A group commit's savepoints: past 64 KiB SQLite spilled their sub-journal to a temporary
    file (writes, and a file made and unlinked, for every batch at saturation)."""
    db = await _fresh(tmp_path / "t.db", crypto)
    try:
        async with db.uow() as uow:
            await uow.conn.execute(sa.text("CREATE TABLE big (x BLOB)"))
            for _ in range(200):  # ~400 KiB of pages that exist before the savepoint
                await uow.conn.execute(sa.text("INSERT INTO big VALUES (zeroblob(2000))"))
            await uow.commit()
        async with db.uow() as uow:
            async with uow.savepoint() as inner:
                await uow.conn.execute(sa.text("UPDATE big SET x = zeroblob(1900)"))
                assert _sqlite_temp_files() == []  # the sub-journal is in memory
                await inner.commit()
            await uow.commit()
        async with db.uow() as uow:
            setting = await uow.conn.execute(sa.text("PRAGMA temp_store"))
            assert setting.scalar_one() == 2  # MEMORY, on the units of work's connections
    finally:
        await db.dispose()
