"""aiosqlite with statements run on the event loop; only what can wait goes to its thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

from bot.store import driver

# Handing a call to aiosqlite's thread and back costs about 0.3 ms of CPU (futures, a queue,
# a wake-up of the loop), while a statement inside a transaction is a B-tree walk of
# microseconds: bench/hot_path.py measured one SELECT at 0.35 ms through the thread and
# 0.07 ms inline. So statements, COMMIT (WAL append and one fsync, ~0.3 ms here) and
# ROLLBACK run inline. Only what can wait long goes to the thread: BEGIN when another process
# (the CLI) holds the write lock, which waits up to busy_timeout, and maintenance.
THREAD_SQL = ("VACUUM", "PRAGMA WAL_CHECKPOINT", "PRAGMA INTEGRITY_CHECK")
THREAD_CALLS = frozenset({"close", "backup", "executescript", "iterdump"})
# Statements that never begin a transaction of their own (see LoopConnection.autobegin).
NO_AUTOBEGIN = ("BEGIN", "COMMIT", "END", "ROLLBACK", *THREAD_SQL)
BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class LoopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose short calls skip the thread hop.

    Calls never overlap: SQLAlchemy awaits each before the next, so running some inline and
    some in the thread keeps their order. The sqlite3 connection is opened with
    check_same_thread=False for that reason; SQLite itself is built thread-safe.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], busy_ms: int) -> None:
        super().__init__(connector, 64)
        self._busy_ms = busy_ms
        # The busy_timeout the connection keeps between BEGINs (0 while units of work use it).
        self._busy_now = busy_ms
        # "IMMEDIATE" while the units of work use this connection (bot/store/db.py): a
        # statement run outside a transaction begins one first, SQLAlchemy's or the driver's.
        self.autobegin: str | None = None
        # bot/store/driver.py's cursor for its statements on this connection (made there).
        self.driver_cursor: sqlite3.Cursor | None = None

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection, for bot/store/driver.py's statements (run inline too)."""
        return self._conn

    def adopt(self) -> None:
        """Serve units of work: begin lazily, BEGIN IMMEDIATE; no busy_timeout to toggle, no
        automatic checkpoint (bot/store/db.py checkpoints in a thread)."""
        raw = self._conn
        raw.execute("PRAGMA busy_timeout=0")
        raw.execute("PRAGMA wal_autocheckpoint=0")
        # A group commit's savepoints keep the pages they change in a sub-journal, which SQLite
        # spills to a temporary file past 64 KiB: ~50 writes and a file created and unlinked a
        # message at saturation, a third of the process's system calls (strace). In memory it
        # is a few dozen pages a batch; it only ever serves ROLLBACK TO, never crash recovery
        # (the WAL does), so R1 is untouched. Temporary tables and sorts go to memory too:
        # the units of work make none of size.
        raw.execute("PRAGMA temp_store=MEMORY")
        self._busy_now = 0
        self.autobegin = "IMMEDIATE"

    def release(self) -> None:
        """Back to SQLAlchemy's pool, as any other connection."""
        raw = self._conn
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raw.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        raw.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default
        raw.execute("PRAGMA temp_store=DEFAULT")
        self._busy_now = self._busy_ms
        self.autobegin = None

    async def begin(self, mode: str) -> None:
        """BEGIN `mode`: inline when the write lock is free, else in the thread, waiting up to
        busy_timeout for another process to let it go."""
        sql = f"BEGIN {mode}"
        driver.executed += 1
        if not self._begin_now(sql):
            await super()._execute(self._begin_waiting, sql)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            return await super()._execute(fn, *args, **kwargs)
        name = getattr(fn, "__name__", "")
        if name in THREAD_CALLS and isinstance(getattr(fn, "__self__", None), sqlite3.Connection):
            return await super()._execute(fn, *args, **kwargs)
        sql = args[0].lstrip()[:22].upper() if args and isinstance(args[0], str) else ""
        if sql.startswith(THREAD_SQL):
            return await super()._execute(fn, *args, **kwargs)
        if sql.startswith("BEGIN"):
            if self._begin_now(args[0]):
                return None
            return await super()._execute(self._begin_waiting, args[0])  # wait for the lock
        if (
            sql
            and self.autobegin is not None
            and not self._conn.in_transaction
            and not sql.startswith(NO_AUTOBEGIN)
        ):
            await self.begin(self.autobegin)
        return fn(*args, **kwargs)

    def _begin_now(self, sql: str) -> bool:
        """BEGIN inline if the write lock is free; False (nothing begun) if it is taken.

        Units of work's connections keep busy_timeout at 0, so their BEGIN runs one statement,
        not three: setting busy_timeout to 0 and back around every BEGIN cost two PRAGMAs.
        """
        raw = self._conn
        if self._busy_now:
            raw.execute("PRAGMA busy_timeout=0")
        try:
            raw.execute(sql)
            return True
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in BUSY:
                raise
            return False
        finally:
            if self._busy_now:
                raw.execute(f"PRAGMA busy_timeout={self._busy_now}")

    def _begin_waiting(self, sql: str) -> None:
        """BEGIN in the thread, SQLite's busy handler waiting up to busy_timeout for the lock."""
        raw = self._conn
        raw.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        try:
            raw.execute(sql)
        finally:
            raw.execute(f"PRAGMA busy_timeout={self._busy_now}")


def connector(path: str, timeout: float) -> Callable[[], LoopConnection]:
    """What create_async_engine(async_creator=...) calls to open one connection to `path`."""

    def create() -> LoopConnection:
        opener = partial(sqlite3.connect, path, timeout=timeout, check_same_thread=False)
        connection = LoopConnection(opener, int(timeout * 1000))
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never block exit
        return connection

    return create
