"""aiosqlite with statements run on the event loop; only what can wait goes to its thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

# Handing a call to aiosqlite's thread and back costs about 0.3 ms of CPU (futures, a queue,
# a wake-up of the loop), while a statement inside a transaction is a B-tree walk of
# microseconds: bench/hot_path.py measured one SELECT at 0.35 ms through the thread and
# 0.07 ms inline. So statements, COMMIT (WAL append and one fsync, ~0.3 ms here) and
# ROLLBACK run inline. Only what can wait long goes to the thread: BEGIN when another process
# (the CLI) holds the write lock, which waits up to busy_timeout, and maintenance.
THREAD_SQL = ("VACUUM", "PRAGMA WAL_CHECKPOINT", "PRAGMA INTEGRITY_CHECK")
THREAD_CALLS = frozenset({"close", "backup", "executescript", "iterdump"})


class LoopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose short calls skip the thread hop.

    Calls never overlap: SQLAlchemy awaits each before the next, so running some inline and
    some in the thread keeps their order. The sqlite3 connection is opened with
    check_same_thread=False for that reason; SQLite itself is built thread-safe.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], busy_ms: int) -> None:
        super().__init__(connector, 64)
        self._busy_ms = busy_ms

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection, for bot/store/driver.py's statements (run inline too)."""
        return self._conn

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
            if self._begin_now(fn, args, kwargs):
                return None
            return await super()._execute(fn, *args, **kwargs)  # wait for the lock there
        return fn(*args, **kwargs)

    def _begin_now(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> bool:
        """BEGIN inline if the write lock is free; False (nothing begun) if it is taken."""
        raw = self._conn
        raw.execute("PRAGMA busy_timeout=0")
        try:
            fn(*args, **kwargs)
            return True
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            return False
        finally:
            raw.execute(f"PRAGMA busy_timeout={self._busy_ms}")


def connector(path: str, timeout: float) -> Callable[[], LoopConnection]:
    """What create_async_engine(async_creator=...) calls to open one connection to `path`."""

    def create() -> LoopConnection:
        opener = partial(sqlite3.connect, path, timeout=timeout, check_same_thread=False)
        connection = LoopConnection(opener, int(timeout * 1000))
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never block exit
        return connection

    return create
