"""Sign-in off the event loop: argon2 on a bounded pool while webhooks and pages still answer."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from bot.app import build_app
from bot.config import load_settings
from bot.store import migrate
from bot.web import auth
from bot.web.keys import DB

PASSWORD = "a long enough password"
GATE_LIMIT = 30.0  # seconds; only bounds a broken run (argon2 on the loop), never waited for


class GatedHasher(PasswordHasher):
    """The real argon2 hasher, held at the door of verify() until the test lets it through."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self.timed_out = False

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.entered.release()
        if not self.gate.wait(GATE_LIMIT):
            self.timed_out = True  # nobody opened it: the loop was blocked (or the test broke)
        return super().verify(hash, password)


@dataclass
class Site:
    """The app under test and its test client."""

    client: TestClient
    clock: datetime


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """A whole helpline app on SQLite with one admin."""
    settings = load_settings(
        env={"HELPLINE_VAR_DIR": str(tmp_path), "HELPLINE_PUBLIC_URL": "http://127.0.0.1"}
    )
    await migrate.upgrade_async(settings.database_url)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    app = build_app(settings, clock=lambda: now)
    async with TestClient(TestServer(app)) as client:
        async with app[DB].uow() as uow:
            await uow.accounts.add_user(
                username="boss",
                password_hash=auth.hash_password(PASSWORD),
                role="admin",
                municipality=None,
                language="en",
                now=now,
            )
            await uow.commit()
        yield Site(client, now)


async def sign_in(session: aiohttp.ClientSession, base: str, password: str = PASSWORD) -> int:
    """Sign in as boss with this browser; the status of the POST."""
    async with session.get(base + "/admin/login") as resp:
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', await resp.text())
    assert match
    async with session.post(
        base + "/admin/login",
        data={"csrf": match.group(1), "username": "boss", "password": password},
        allow_redirects=False,
    ) as resp:
        return resp.status


def browser() -> aiohttp.ClientSession:
    """A browser of its own (cookies for 127.0.0.1 kept)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_argon2_runs_off_the_loop_and_the_pool_is_bounded(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = str(site.client.make_url("")).rstrip("/")
    async with browser() as signed, browser() as b1, browser() as b2, browser() as b3:
        assert await sign_in(signed, base) == 303  # before the gate: an admin already in
        hasher = GatedHasher()
        pool = auth.PasswordPool(threads=2, waiting=0, hasher=hasher)
        monkeypatch.setattr(auth, "_pool", pool)
        try:
            first = asyncio.create_task(sign_in(b1, base))
            second = asyncio.create_task(sign_in(b2, base, "a wrong password here"))
            # Both threads are inside argon2 and held there.
            for _ in range(2):
                assert await asyncio.to_thread(hasher.entered.acquire, True, GATE_LIMIT)
            # The loop still answers: health, a page that needs the database's write lock
            # (as every webhook does), and a third sign-in, refused at once (pool full).
            async with site.client.get("/healthz") as resp:
                assert resp.status == 200
            async with signed.get(base + "/admin/cases") as resp:
                assert resp.status == 200
            assert await sign_in(b3, base) == 503
            assert not first.done() and not second.done()
        finally:
            hasher.gate.set()
        assert [await first, await second] == [303, 401]
        assert not hasher.timed_out
        pool.close()


async def test_sign_ins_beyond_the_threads_wait_their_turn() -> None:
    hasher = GatedHasher()
    pool = auth.PasswordPool(threads=1, waiting=1, hasher=hasher)
    hashed = auth.hash_password(PASSWORD)
    try:
        running = asyncio.ensure_future(pool.verify(hashed, PASSWORD))
        waiting = asyncio.ensure_future(pool.verify(hashed, "not the password"))
        await asyncio.sleep(0)  # one step: both tasks have taken their place in the pool
        assert pool.in_flight == 2
        with pytest.raises(auth.HasherBusy):
            await pool.verify(hashed, PASSWORD)
    finally:
        hasher.gate.set()
    assert [await running, await waiting] == [True, False]
    assert pool.in_flight == 0
    pool.close()


@pytest.mark.parametrize(
    "weak",
    [
        "aaaaaaaaaa",
        "Password123!",
        "qwertyuiop12",
        "helpline2026",
        "boss-boss-boss",
        "bossboss1234",
    ],
)
def test_weak_passwords_are_refused_saying_why(weak: str) -> None:
    with pytest.raises(auth.PasswordRejected, match="too easy to guess"):
        auth.hash_password(weak, username="boss")


def test_strong_passwords_are_taken() -> None:
    for strong in (PASSWORD, "tr0ub4dor&3x-sunflower", "Lumi Drin kalon nga Shkodra"):
        assert auth.verify_password(auth.hash_password(strong, username="boss"), strong)


async def test_a_session_ends_after_its_absolute_lifetime_however_busy(tmp_path: Path) -> None:
    settings = load_settings(
        env={"HELPLINE_VAR_DIR": str(tmp_path), "HELPLINE_PUBLIC_URL": "http://127.0.0.1"}
    )
    await migrate.upgrade_async(settings.database_url)
    clock = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    app = build_app(settings, clock=lambda: clock[0])
    async with TestClient(TestServer(app)) as client:
        async with app[DB].uow() as uow:
            await uow.accounts.add_user(
                username="boss",
                password_hash=auth.hash_password(PASSWORD),
                role="admin",
                municipality=None,
                language="en",
                now=clock[0],
            )
            await uow.commit()
        base = str(client.make_url("")).rstrip("/")
        async with browser() as session:
            assert await sign_in(session, base) == 303
            # Used every 20 minutes (never idle for 30) for the whole lifetime: still in.
            used = timedelta()
            while used + timedelta(minutes=20) < auth.SESSION_MAX:
                clock[0] += timedelta(minutes=20)
                used += timedelta(minutes=20)
                async with session.get(base + "/admin/cases", allow_redirects=False) as resp:
                    assert resp.status == 200, used
            clock[0] += auth.SESSION_MAX - used + timedelta(seconds=1)
            async with session.get(base + "/admin/cases", allow_redirects=False) as resp:
                assert resp.status == 303 and "/admin/login" in resp.headers["Location"]
