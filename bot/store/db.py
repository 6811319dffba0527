"""Engines and the unit of work: one transaction, all repositories, rolled back unless committed."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    create_async_engine,
)
from sqlalchemy.util.concurrency import await_

from bot.files import private_dir, private_file
from bot.store import driver, jsontext, sqlite_loop
from bot.store.crypto import Crypto
from bot.store.repos.base import Repo
from bot.store.repositories import (
    AccountRepo,
    AdminSessionRepo,
    AlertRepo,
    AuditRepo,
    CaseRepo,
    ContactRepo,
    CoordinatorRepo,
    FailureRepo,
    FireRepo,
    FlowRepo,
    FollowupRepo,
    MessageRepo,
    MunicipalityRepo,
    OutboxRepo,
    PublicationRepo,
    RetentionRepo,
    ServiceRepo,
    SessionRepo,
    StatsRepo,
    TranslationRepo,
)

log = logging.getLogger(__name__)

SQLITE_BUSY_MS = 30_000  # another process (the CLI) may hold the write lock for a while
PING_SECONDS = 5.0
# PostgreSQL connections a process keeps, and never more: SQLAlchemy's default (5 kept, 10 more
# opened and closed on demand) opened 254 connections for 400 messages of bench/hot_path.py's
# "16 people at once" when the sender recorded each send in a unit of work of its own (a new
# backend and asyncpg's type set-up each), about a quarter of PostgreSQL's CPU there. Its
# records now share a group commit, and bench/load.py at saturation keeps 8 backends busy, not
# 21: the cap could come down. Mind max_connections (100): workers x POOL_SIZE + the CLI.
POOL_SIZE = 20
# A pooled PostgreSQL connection idle this long is pinged before use (see _ping_when_idle).
PING_IDLE_SECONDS = 2.0
IDLE_SINCE = "helpline_idle_since"
USED_AT = "helpline_used_at"
BEGIN_OPTION = "sqlite_begin"  # execution option: "DEFERRED" for read-only connections

# SQLite's automatic checkpoint (once the WAL passes 1000 pages) ran inside a COMMIT, which runs
# on the event loop (sqlite_loop.py): copying the pages and fsyncing the database file held
# the loop. Under bench/load.py (SQLite, a busy disk; one run each) GroupCommit._drain's
# callbacks held the loop up to 218 ms (p99 30 ms) with it, 35 ms (p99 23 ms) without, and
# the COMMITs that checkpointed took 2-4 ms of the loop's CPU against 0.5 ms. So the units of
# work's connections do not checkpoint (sqlite_loop.LoopConnection.adopt): a PASSIVE
# checkpoint runs in a thread, on a connection of its own, every CHECKPOINT_COMMITS commits and
# at dispose(). A commit under that load wrote ~8 pages: 100 is about SQLite's own cadence.
CHECKPOINT_COMMITS = 100
# A PASSIVE checkpoint never waits for writers, and they go on while it runs; but the WAL starts
# again from its beginning only when a writer finds it all checkpointed, which under steady
# load it never does. When writes went on during the checkpoint and the WAL has grown past this
# many pages, the pages written meanwhile are checkpointed while the units of work wait for the
# write lock (queued on the event loop, which goes on), so that the next writer restarts the
# WAL: it stays bounded.
WAL_RESTART_PAGES = 4000

# A storage failure (disk full, read-only, I/O error) keeps /healthz at 503 this long after it
# was last seen; under SQLite a write probe in the database's directory also runs at each check.
WRITE_FAILURE_HOLD = 60.0
PROBE_BYTES = 4096
# SQLite's primary result codes and PostgreSQL's SQLSTATEs that mean the storage cannot take
# writes (https://sqlite.org/rescode.html, https://www.postgresql.org/docs/current/errcodes-appendix.html).
SQLITE_STORAGE = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_IOERR: "a disk I/O error",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
}
POSTGRES_STORAGE = {
    "53100": "the database server's disk is full",
    "53": "the database server is out of resources",
    "58030": "a disk I/O error on the database server",
    "25006": "the database is read-only",
}

# Databases whose unit of work the current task holds (to refuse nesting, see UnitOfWork).
_open_uows: ContextVar[frozenset[int]] = ContextVar("helpline_open_uows", default=frozenset())


def async_url(url: str) -> str:
    """The URL with the async driver, whatever form was given."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        url = "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


# Every PostgreSQL session of ours: a transaction nothing uses for a minute is ended by the
# server (ours last milliseconds; one left open by a stuck or killed process would hold its
# locks and stop every worker's start-up or write behind it), and a client that went away is
# noticed within seconds even while its session waits on a lock (without this PostgreSQL
# notices only when it next writes to the socket, and keeps the locks held until then).
# client_connection_check_interval needs PostgreSQL 14 or newer.
PG_SESSION_SETTINGS = {
    "idle_in_transaction_session_timeout": "60s",
    "client_connection_check_interval": "5s",
}


def create_engine(url: str) -> AsyncEngine:
    """An async engine set up for the helpline (used by Database and by the migrations)."""
    url = async_url(url)
    parsed = make_url(url)
    # hide_parameters: an error's message must never carry the statement's values (numbers,
    # texts); the log gets the SQL without them.
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(
            url,
            hide_parameters=True,
            pool_size=POOL_SIZE,
            max_overflow=0,
            connect_args={"server_settings": PG_SESSION_SETTINGS},
            json_serializer=jsontext.dumps,
            json_deserializer=jsontext.loads,
        )
        _ping_when_idle(engine)
        return engine
    path = parsed.database or ":memory:"
    if path != ":memory:":
        path = str(Path(path).expanduser())
        # Security: the file holds everything (encrypted or not); only our user reads it.
        # SQLite gives its -wal and -shm files the database file's mode.
        private_dir(Path(path).parent)
        private_file(Path(path))
    engine = create_async_engine(
        url,
        async_creator=sqlite_loop.connector(path, timeout=SQLITE_BUSY_MS / 1000),
        hide_parameters=True,
        # json.dumps's text and json.loads's values, the C parts called directly
        # (bot/store/jsontext.py).
        json_serializer=jsontext.dumps,
        json_deserializer=jsontext.loads,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below is what runs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock up front. A deferred transaction that reads and
        # then writes can fail at once with SQLITE_BUSY when another connection wrote in
        # between (busy_timeout cannot help there); taking the lock first makes other
        # processes wait their turn instead.
        loop_connection: Any = connection.connection.driver_connection
        if loop_connection.autobegin is not None:
            # The units of work's connection: its transaction begins on its first statement
            # (sqlite_loop.LoopConnection.autobegin); SQLAlchemy's is bookkeeping only.
            return
        mode = connection.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")
        sql = f"BEGIN {mode}"
        # Straight to LoopConnection (inline, or its thread when another process holds the
        # lock): SQLAlchemy's exec_driver_sql cost a statement's worth of its execute path for
        # every unit of work. Errors wrapped as SQLAlchemy wraps them (this event runs outside
        # its own handling).
        driver.executed += 1
        try:
            await_(loop_connection._execute(loop_connection.sqlite.execute, sql))
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(
                sql, None, exc, sqlite3.Error, hide_parameters=True, dialect=connection.dialect
            ) from exc

    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection at checkout only when it sat idle for PING_IDLE_SECONDS.

    pool_pre_ping pinged at every checkout: on asyncpg a transaction, a query and a rollback,
    about 0.3 ms of CPU (bench/hot_path.py), a unit of work or two per message. A connection
    in steady use has just proved itself; one that sat idle (a restarted server, a proxy that
    closed it) is pinged, and replaced by the pool when the ping finds it dead.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection the units of work kept (Database._take) is idle since they last used it.
        record.info[IDLE_SINCE] = record.info.pop(USED_AT, None) or time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
            return  # just opened, or in use a moment ago
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            if dialect.is_disconnect(cast(Any, exc), dbapi_connection, None):
                # The pool throws this connection away and checks out another.
                raise sa.exc.DisconnectionError("an idle connection is gone") from exc
            raise


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what lies under it: the driver's error SQLAlchemy wraps (.orig), its cause or
    context, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__


def storage_failure(exc: BaseException) -> str | None:
    """What is wrong with the storage when `exc` says writes cannot be made, else None."""
    for current in _causes(exc):
        code = getattr(current, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in SQLITE_STORAGE:
            return SQLITE_STORAGE[code & 0xFF]
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str):
            for prefix, problem in POSTGRES_STORAGE.items():
                if state.startswith(prefix):
                    return problem
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EROFS):
            return os.strerror(current.errno).lower()
    return None


# PostgreSQL's SQLSTATEs for a transaction that lost a race, not one that is wrong: deadlock
# detected, serialization failure. Run again, it goes through.
POSTGRES_TRANSIENT = ("40P01", "40001")


def lost_race(exc: BaseException) -> bool:
    """True when `exc` says the statement lost a race with another transaction (a deadlock
    between workers): the same work run again succeeds."""
    return any(getattr(c, "sqlstate", None) in POSTGRES_TRANSIENT for c in _causes(exc))


class WriteHealth:
    """Whether the database takes writes: the last storage failure seen, logged once."""

    def __init__(
        self, hold: float = WRITE_FAILURE_HOLD, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.hold = hold
        self.clock = clock
        self.problem: str | None = None
        self._last = 0.0

    def failed(self, problem: str) -> None:
        """A write failed for this reason; the first failure of a spell is logged, clearly."""
        if self.problem is None:
            log.error(
                "writes to the database fail: %s. Incoming messages are refused with 500 (the "
                "providers send them again) and /healthz answers 503 until writes work again.",
                problem,
            )
        self.problem, self._last = problem, self.clock()

    def check(self) -> str | None:
        """The storage problem of the last `hold` seconds, None when writes work."""
        if self.problem is not None and self.clock() - self._last > self.hold:
            log.warning("writes to the database work again (no failure for %.0f s)", self.hold)
            self.problem = None
        return self.problem


def probe_directory(path: Path) -> str | None:
    """Write, sync and remove a small file in `path`; what went wrong, or None."""
    probe = path / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"cannot write in {path}: {os.strerror(exc.errno or 0)}"
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return None


# The repositories of a unit of work, by attribute name (UnitOfWork's annotations name them).
REPOSITORIES: dict[str, type[Repo]] = {
    "contacts": ContactRepo,
    "messages": MessageRepo,
    "sessions": SessionRepo,
    "outbox": OutboxRepo,
    "cases": CaseRepo,
    "fires": FireRepo,
    "flows": FlowRepo,
    "municipalities": MunicipalityRepo,
    "coordinators": CoordinatorRepo,
    "alerts": AlertRepo,
    "services": ServiceRepo,
    "audit": AuditRepo,
    "followups": FollowupRepo,
    "retention": RetentionRepo,
    "accounts": AccountRepo,
    "admin_sessions": AdminSessionRepo,
    "failures": FailureRepo,
    "translations": TranslationRepo,
    "publications": PublicationRepo,
    "stats": StatsRepo,
}


class _Lease:
    """A connection the units of work reuse: taken from SQLAlchemy's pool once, in one
    SQLAlchemy transaction throughout (bookkeeping: the real ones run on the driver, see
    driver.finish), with its repositories built once."""

    __slots__ = ("conn", "repos", "used")

    def __init__(self, conn: AsyncConnection, repos: dict[str, Repo]) -> None:
        self.conn = conn
        self.repos = repos
        self.used = time.monotonic()


class Database:
    """The helpline's database: an engine, the crypto for personal data, units of work."""

    def __init__(self, url: str, crypto: Crypto) -> None:
        self.url = async_url(url)
        self.crypto = crypto
        self.engine: AsyncEngine = create_engine(self.url)
        self.dialect: str = self.engine.dialect.name
        # SQLite has one writer at a time. Within this process, units of work queue on this
        # lock (fair, FIFO, no polling) rather than on SQLite's busy handler, which sleeps and
        # retries; BEGIN IMMEDIATE still guards against other processes. A unit of work does
        # not know whether it will write, so every one takes the lock: SQLite is for small
        # deployments and development, PostgreSQL for load.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None
        # Units of work waiting for that lock now: a group commit ends its batch early for them
        # (bot/store/group_commit.py), so a batch never holds the lock long from anyone.
        self.writers_waiting = 0
        self.writes = WriteHealth()
        database = make_url(self.url).database if self.dialect == "sqlite" else None
        file = Path(database).expanduser() if database and database != ":memory:" else None
        self._directory = file.parent if file is not None else None
        # The WAL's checkpoints (SQLite files only): commits since the last, the one running.
        self._file = str(file) if file is not None else None
        self._commits = 0
        self._checkpointing: asyncio.Task[None] | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint_lock = threading.Lock()
        # Connections the units of work used last, the most recent at the end. Checking one
        # out of SQLAlchemy's pool and back for every unit of work (AsyncConnection, greenlet,
        # pool events, the reset's ROLLBACK) was ~45 µs of CPU of the ~110 µs a unit of work
        # cost on SQLite. One left unused PING_IDLE_SECONDS goes back to the pool, which pings
        # it at its next checkout (_ping_when_idle). On SQLite the write lock lets one unit of
        # work run at a time: one connection serves them all.
        self._idle: list[_Lease] = []
        # Leases alive (in use or idle), never more than the pool holds: a unit of work beyond
        # that waits here for one given back, first come first served. (Had it waited in
        # SQLAlchemy's pool instead, the leases given back to _idle would never reach it:
        # bench/load.py on PostgreSQL stalled for the pool's 30 s timeout.)
        self._leases = 0
        self._waiting: collections.deque[asyncio.Future[_Lease | None]] = collections.deque()

    def __repr__(self) -> str:
        return f"Database({self.dialect})"

    def uow(self) -> UnitOfWork:
        """A unit of work: `async with db.uow() as uow: ...; await uow.commit()`."""
        return UnitOfWork(self)

    async def _take(self) -> _Lease:
        """A connection for a unit of work: the one used last, else a new lease from the pool,
        else (all POOL_SIZE in use) the next one given back."""
        idle = self._idle
        if idle:
            if time.monotonic() - idle[-1].used < PING_IDLE_SECONDS:
                return idle.pop()
            # The newest sat idle that long, so all did: back to the pool, which pings them.
            await self._return_idle()
        if self._leases >= POOL_SIZE:
            waiter: asyncio.Future[_Lease | None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                lease = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._hand_over(waiter.result())  # handed over as it was cancelled
                else:
                    with contextlib.suppress(ValueError):  # (_hand_over may have dropped it)
                        self._waiting.remove(waiter)
                raise
            if lease is not None:
                return lease
            # None: a lease was closed, and its place in the pool is this one's.
        else:
            self._leases += 1
        try:
            return await self._new_lease()
        except BaseException:
            self._hand_over(None)
            raise

    def _hand_over(self, lease: _Lease | None) -> None:
        """A lease given back goes to the first unit of work waiting, else to the idle ones;
        None (one closed): its place goes to the first waiting, else is free."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(lease)
                return
        if lease is None:
            self._leases -= 1
        else:
            lease.used = time.monotonic()
            self._idle.append(lease)

    async def _new_lease(self) -> _Lease:
        """A connection from SQLAlchemy's pool, made a lease."""
        conn = await self.engine.connect()
        try:
            if self.dialect == "sqlite":
                loop_connection = (await conn.get_raw_connection()).driver_connection
                assert isinstance(loop_connection, sqlite_loop.LoopConnection)
                loop_connection.adopt()
            # SQLAlchemy's transaction, for good: no statement, no event's BEGIN (see above).
            await conn.begin()
        except BaseException:
            await conn.close()
            raise
        args = (conn, self.crypto, self.dialect)
        return _Lease(conn, {name: repo(*args) for name, repo in REPOSITORIES.items()})

    async def _give_back(self, lease: _Lease, healthy: bool) -> None:
        """A unit of work is done with its connection; one in doubt is never used again."""
        conn = lease.conn
        if healthy and not conn.invalidated and not conn.closed:
            self._hand_over(lease)
            return
        try:
            if not conn.invalidated and not conn.closed:
                await conn.invalidate()  # the pool opens another in its place
        finally:
            try:
                await conn.close()
            finally:
                self._hand_over(None)

    async def _return_idle(self) -> None:
        """Every idle lease back to SQLAlchemy's pool."""
        while self._idle:
            lease = self._idle.pop(0)
            conn = lease.conn
            try:
                sync = conn.sync_connection
                if sync is not None and not conn.invalidated:
                    pooled = sync.connection
                    pooled.info[USED_AT] = lease.used
                    loop_connection: Any = pooled.driver_connection
                    if isinstance(loop_connection, sqlite_loop.LoopConnection):
                        loop_connection.release()
                await conn.close()
            except Exception as exc:  # the pool replaces it; the others still go back
                log.warning("a pooled connection failed to close: %s", type(exc).__name__)
            finally:
                self._hand_over(None)

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with asyncio.timeout(PING_SECONDS):
                if self._write_lock is None:
                    # The units of work's connections, not one more from the pool: they may
                    # hold every connection the pool has.
                    async with self.uow() as uow:
                        await uow.conn.execute(sa.text("SELECT 1"))
                    return True
                # SQLite: its own connection, so as not to wait for the write lock.
                async with self.engine.connect() as conn:
                    conn = await conn.execution_options(**{BEGIN_OPTION: "DEFERRED"})
                    await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("database ping failed: %s", type(exc).__name__)
            return False

    async def writes_ok(self) -> bool:
        """False while writes fail: a storage failure seen lately, or (SQLite) a failed probe."""
        if self._directory is not None:
            problem = await asyncio.to_thread(probe_directory, self._directory)
            if problem is not None:
                self.writes.failed(problem)
        return self.writes.check() is None

    def _committed(self) -> None:
        """A unit of work committed: every CHECKPOINT_COMMITS, checkpoint the WAL in a thread."""
        self._commits += 1
        if self._commits < CHECKPOINT_COMMITS or self._checkpointing is not None:
            return
        if self._file is None:
            return
        self._commits = 0
        task = asyncio.get_running_loop().create_task(self.checkpoint(), name="sqlite-checkpoint")
        self._checkpointing = task
        task.add_done_callback(self._checkpointed)

    def _checkpointed(self, task: asyncio.Task[None]) -> None:
        self._checkpointing = None
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning("checkpointing the WAL failed: %s", type(exc).__name__)

    async def checkpoint(self) -> None:
        """Copy the WAL's pages into the database file, in a thread (SQLite; else nothing)."""
        if self._file is None or self._write_lock is None:
            return
        self._commits = 0
        _busy, pages, done = await asyncio.to_thread(self._checkpoint_now)
        # SQLite's count of pages is the WAL as it was when the checkpoint began: what was
        # committed since is still to copy (bench/load.py: the WAL grew to 33,000 pages in
        # 20 s when only done < pages was looked at).
        if pages < WAL_RESTART_PAGES or (done >= pages and not self._commits):
            return
        # Writes went on meanwhile and the WAL is long: catch up while none runs (see
        # WAL_RESTART_PAGES). As a writer: queued with the units of work, counted as waiting.
        self.writers_waiting += 1
        try:
            await self._write_lock.acquire()
        finally:
            self.writers_waiting -= 1
        try:
            await asyncio.to_thread(self._checkpoint_now)
        finally:
            self._write_lock.release()

    def _checkpoint_now(self) -> tuple[int, int, int]:
        """PASSIVE checkpoint (in a thread): SQLite's (busy, pages in the WAL, checkpointed)."""
        assert self._file is not None
        with self._checkpoint_lock:  # one thread at a time on the connection (dispose())
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(
                    self._file, isolation_level=None, check_same_thread=False
                )
            row = self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        log.debug("WAL checkpoint: %d pages in the WAL, %d checkpointed", row[1], row[2])
        return int(row[0]), int(row[1]), int(row[2])

    def _close_checkpointer(self) -> None:
        """A last checkpoint, and its connection closed (in a thread)."""
        try:
            self._checkpoint_now()
        finally:
            with self._checkpoint_lock:
                if self._checkpointer is not None:
                    self._checkpointer.close()
                    self._checkpointer = None

    async def dispose(self) -> None:
        """Close every pooled connection (SQLite: after a last checkpoint of the WAL)."""
        await self._return_idle()
        if self._checkpointing is not None:
            with contextlib.suppress(Exception):
                await self._checkpointing
        if self._file is not None and (self._checkpointer is not None or self._commits):
            try:
                await asyncio.to_thread(self._close_checkpointer)
            except sqlite3.Error as exc:
                log.warning("checkpointing the WAL failed: %s", type(exc).__name__)
        await self.engine.dispose()


class UnitOfWork:
    """One transaction with every repository; rolled back on exit unless committed."""

    conn: AsyncConnection
    contacts: ContactRepo
    messages: MessageRepo
    sessions: SessionRepo
    outbox: OutboxRepo
    cases: CaseRepo
    fires: FireRepo
    flows: FlowRepo
    municipalities: MunicipalityRepo
    # Referral (bot/referral/).
    coordinators: CoordinatorRepo
    alerts: AlertRepo
    services: ServiceRepo
    audit: AuditRepo
    # Follow-ups (bot/followups/).
    followups: FollowupRepo
    # Retention and key rotation (bot/retention.py, bot/keys.py).
    retention: RetentionRepo
    # Admin web (bot/web/): accounts, who is signed in, admins' texts, flow publications.
    accounts: AccountRepo
    admin_sessions: AdminSessionRepo
    translations: TranslationRepo
    publications: PublicationRepo
    # Failed attempts per key (sign-ins, coordinators' look-ups), counted to limit them.
    failures: FailureRepo
    # Counts for statistics and /metrics.
    stats: StatsRepo

    def __init__(self, db: Database) -> None:
        self._db = db
        self._locked = False
        self._token: Token[frozenset[int]] | None = None
        self._lease: _Lease | None = None
        # Savepoints of this unit of work open now (unit() keeps a RELEASE only at depth 0).
        self._savepoints = 0
        # A unit shared() out of this one ended uncommitted: its work cannot be undone alone,
        # so this unit of work must not commit (bot/store/group_commit.py rolls it back whole).
        self.spoiled = False

    async def __aenter__(self) -> UnitOfWork:
        db = self._db
        if db._write_lock is not None:
            if id(db) in _open_uows.get():
                # The outer unit of work holds the lock this one would wait for: a deadlock.
                raise RuntimeError("a unit of work is already open in this task (SQLite)")
            db.writers_waiting += 1
            try:
                await db._write_lock.acquire()
            finally:
                db.writers_waiting -= 1
            self._locked = True
            self._token = _open_uows.set(_open_uows.get() | {id(db)})
        try:
            # A Core connection, not an ORM Session: the repositories only run Core statements,
            # and the Session's bookkeeping was a tenth of a message's CPU (bench/hot_path.py).
            self._lease = lease = await db._take()
        except BaseException:
            self._release()
            raise
        self.conn = lease.conn
        self.__dict__.update(lease.repos)
        return self

    def _borrow(self, outer: UnitOfWork) -> None:
        """The outer unit of work's connection and repositories (the class annotations name
        them): a unit nested in it works in its transaction."""
        # Performance: in C, not a setattr and a getattr a name (22 of them, twice a message:
        # 852 of a message's 22,678 bytecodes in the group commit's round).
        self.__dict__.update(zip(_BORROWED, _borrowed(outer.__dict__), strict=True))

    def savepoint(self) -> Savepoint:
        """A unit of work inside this one (same connection and repositories) that commits or
        rolls back alone: `async with uow.savepoint() as inner: ...; await inner.commit()`."""
        return Savepoint(self)

    def unit(self) -> Savepoint:
        """A savepoint for one unit of a group commit (bot/store/group_commit.py): as
        savepoint(), but its commit does not RELEASE it; this unit of work's COMMIT does.

        A round trip fewer for every unit on PostgreSQL (each unit's RELEASE was one). The
        savepoints kept open stack up under one name, and ROLLBACK TO takes the innermost: a
        later unit that fails still undoes only its own work. Opened inside another open
        savepoint of this unit of work, it is released as usual (the outer one's ROLLBACK TO
        must not stop at it)."""
        return Savepoint(self, keep=self._savepoints == 0)

    def shared(self) -> Shared:
        """A unit for an optimistic batch of a group commit (bot/store/group_commit.py): no
        savepoint, this unit of work's statements as they are; one that ends uncommitted
        (raised, or left without commit) marks this unit of work `spoiled`."""
        return Shared(self)

    async def commit(self) -> None:
        """Commit everything done in this unit of work."""
        await self._finish(commit=True)

    async def rollback(self) -> None:
        """Undo everything not yet committed."""
        await self._finish(commit=False)

    async def _finish(self, commit: bool) -> None:
        if self._lease is None:
            raise sa.exc.ResourceClosedError("this unit of work is closed")
        try:
            if await driver.finish(self.conn, commit) and commit:
                self._db._committed()
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                await self.conn.invalidate()  # lost: the pool opens another in its place
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._note_failure(exc)
        lease, self._lease = self._lease, None
        if lease is None:
            self._release()
            return
        healthy = False
        try:
            # Whatever was not committed is rolled back (inline on SQLite, so also when this
            # task was cancelled).
            if not lease.conn.invalidated:
                await driver.finish(lease.conn, commit=False)
            healthy = True
        finally:
            try:
                await self._db._give_back(lease, healthy)
            finally:
                self._release()

    def _note_failure(self, exc: BaseException | None) -> None:
        """A storage failure (full disk, read-only file) turns /healthz's writes to false."""
        if exc is not None:
            problem = storage_failure(exc)
            if problem is not None:
                self._db.writes.failed(problem)

    def _release(self) -> None:
        if self._token is not None:
            try:
                _open_uows.reset(self._token)
            except ValueError:
                # Exited in another context than entered (an async fixture's teardown).
                _open_uows.set(_open_uows.get() - {id(self._db)})
            self._token = None
        if self._locked and self._db._write_lock is not None:
            self._locked = False
            self._db._write_lock.release()


# What a nested unit of work takes from the outer one: its connection and repositories (the
# class's public annotations; instance attributes, set when the outer one was entered).
_BORROWED = tuple(name for name in UnitOfWork.__annotations__ if not name.startswith("_"))
_borrowed = operator.itemgetter(*_BORROWED)


class _Nested(UnitOfWork):
    """A unit of work inside another: leaving it without commit undoes (or spoils) its work."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._note_failure(exc)
        await self.rollback()


class Savepoint(_Nested):
    """A unit of work nested in another under a SAVEPOINT: its commit releases the savepoint
    (durable only when the outer one commits), its exit without commit rolls back to it.

    The SAVEPOINT, RELEASE and ROLLBACK TO run on the driver (bot/store/driver.py): through
    SQLAlchemy's begin_nested() they were two statements' worth of its execute for every
    message of a group commit. One name serves all: nested savepoints of one name are a stack
    in SQLite and PostgreSQL alike, RELEASE and ROLLBACK TO take the innermost.
    """

    def __init__(self, outer: UnitOfWork, *, keep: bool = False) -> None:
        super().__init__(outer._db)
        self._outer = outer
        self._open = False
        self._keep = keep

    async def __aenter__(self) -> Savepoint:
        self._borrow(self._outer)
        await driver.SAVEPOINT.execute(self.conn)
        self._open = True
        self._outer._savepoints += 1
        return self

    async def commit(self) -> None:
        """Keep what this unit did (RELEASE SAVEPOINT, unless kept open for the outer unit's
        COMMIT: see UnitOfWork.unit); the outer unit commits it."""
        if self._open:
            self._open = False
            self._outer._savepoints -= 1
            if not self._keep:
                await driver.RELEASE.execute(self.conn)

    async def rollback(self) -> None:
        """Undo what this unit did, and only that (ROLLBACK TO SAVEPOINT)."""
        if self._open:
            self._open = False
            self._outer._savepoints -= 1
            await driver.ROLLBACK_TO.execute(self.conn)
            await driver.RELEASE.execute(self.conn)


class Shared(_Nested):
    """A unit of a group commit's optimistic batch: the outer unit of work's connection and
    repositories under no savepoint (on PostgreSQL a SAVEPOINT is a round trip, and a unit
    that writes takes a subtransaction id; on SQLite it journals the pages it changes).

    Its commit keeps its work for the outer COMMIT, as a unit() kept open does. Nothing can
    undo its work alone: ending uncommitted (it raised, or returned without commit) marks the
    outer unit of work `spoiled`, and the batch is rolled back whole and run again the safe
    way, each unit under its own savepoint (GroupCommit._commit).
    """

    def __init__(self, outer: UnitOfWork) -> None:
        super().__init__(outer._db)
        self._outer = outer
        self._open = False

    async def __aenter__(self) -> Shared:
        self._borrow(self._outer)
        self._open = True
        return self

    def shared(self) -> Shared:
        return Shared(self._outer)  # nested: spoils the same transaction

    async def commit(self) -> None:
        """Keep what this unit did, for the outer unit of work's COMMIT."""
        self._open = False

    async def rollback(self) -> None:
        """This unit cannot be undone alone: the outer unit of work is spoiled."""
        if self._open:
            self._open = False
            self._outer.spoiled = True
