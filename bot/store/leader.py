"""Which worker runs housekeeping: a PostgreSQL advisory lock held on a dedicated connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from bot.store.db import async_url

log = logging.getLogger(__name__)

# Any fixed bigint, the same in every worker: "HELP" in ASCII. Advisory locks are per database.
LOCK_KEY = 0x48454C50
RETRY_SECONDS = 5.0  # how often a follower tries the lock, and the leader checks it still holds it
# A leader's check that takes longer is a hung connection: it stops leading and reconnects.
# Not tied to a short retry (tests use 0.2 s): a loop slowed by load then dropped a healthy
# lock, and another worker took over for nothing (tests/test_workers.py, on a busy machine).
HUNG_SECONDS = 10.0


class Leader:
    """Elects one process for the periodic sweeps that must run once (referral sweep, digests,
    retention): the one holding a session-level advisory lock. PostgreSQL releases it when that
    session ends, so when the leader dies (its connection closes) the next follower to try
    takes over within RETRY_SECONDS. On SQLite the helpline is one process: it always leads.
    """

    def __init__(
        self, url: str, *, key: int = LOCK_KEY, retry: float = RETRY_SECONDS, name: str = ""
    ) -> None:
        self.url = async_url(url)
        self.key = key
        self.retry = retry
        self.hung_after = max(retry * 2, HUNG_SECONDS)
        self.name = name or "this process"
        self.postgres = make_url(self.url).get_backend_name() == "postgresql"
        self.is_leader = not self.postgres
        self._stop = asyncio.Event()
        self._changed = asyncio.Condition()

    async def run(self) -> None:
        """Try for the lock until stop(); while held, check the connection every `retry` s."""
        if not self.postgres:
            return
        engine = create_async_engine(self.url, poolclass=NullPool, hide_parameters=True)
        try:
            while not self._stop.is_set():
                try:
                    async with engine.connect() as conn:
                        # Autocommit: the lock belongs to the session, and no transaction is
                        # left open for hours on this connection.
                        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                        await self._hold(conn)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # The type only: a driver's message can carry the URL and its parameters.
                    log.warning(
                        "leader election: the database connection failed (%s)", type(exc).__name__
                    )
                finally:
                    await self._set(False)
                await self._pause()
        finally:
            await engine.dispose()

    async def _hold(self, conn: AsyncConnection) -> None:
        """Take the lock when it is free; keep checking the connection that holds it."""
        try_lock = sa.text("SELECT pg_try_advisory_lock(:key)")
        while not self._stop.is_set():
            async with asyncio.timeout(self.hung_after):  # a hung connection is a lost lock
                if self.is_leader:
                    await conn.execute(sa.text("SELECT 1"))
                elif (await conn.execute(try_lock, {"key": self.key})).scalar():
                    await self._set(True)
            await self._pause()
        if self.is_leader:
            await conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self.retry)

    async def _set(self, leading: bool) -> None:
        if leading == self.is_leader:
            return
        self.is_leader = leading
        if self.postgres:
            log.info(
                "leader: %s %s housekeeping",
                self.name,
                "now runs" if leading else "stopped running",
            )
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, leading: bool) -> None:
        """Return once this process leads (or no longer does)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.is_leader == leading)

    def stop(self) -> None:
        """Let go of the lock (another worker takes over) and return from run()."""
        self._stop.set()

    def only(self, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        """A job that does something only in the leader (for scheduler jobs that must run once)."""

        async def leader_only() -> Any:
            if self.is_leader:
                return await job()
            return None

        leader_only.__name__ = getattr(job, "__name__", "job")
        return leader_only
