"""Shared fixtures: a real `helpline serve` process and Debian's Chromium, for browser tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.fernet import Fernet

from bot import eventloop
from tests.auxil.server_process import START_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A bound on a broken start, not an expected duration: the same as the servers started by
# tests/auxil/server_process.py. 60 s was too short on a loaded machine (six admin-page tests
# failed at 60 s with a load average near 16); a start that dies still fails at once.
SERVER_START_LIMIT = START_TIMEOUT
# The servers tests start inherit this start-up bound (bot/workers.py StartupWatch) unless a
# test gives its own: on a loaded machine a start can take minutes, and a server ended by its
# bound would fail a test that is not about it (tests/auxil/server_process.py START_TIMEOUT).
os.environ.setdefault("HELPLINE_STARTUP_TIMEOUT", "PT600S")
# The tests run on the loop `serve` runs on (uvloop unless HELPLINE_EVENT_LOOP says asyncio):
# pytest-asyncio's loops and every asyncio.run come from this policy, so a test passing on
# asyncio's own loop cannot hide a difference production would meet.
asyncio.set_event_loop_policy(eventloop.policy(eventloop.chosen(os.environ)))


def _helpline() -> list[str]:
    """The `helpline` command of the running interpreter's environment."""
    script = Path(sys.executable).with_name("helpline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _missing(what: str) -> None:
    """Skip on a developer's machine, fail in CI, when a system dependency is absent."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: run `bash .ci/install-system-deps`")
    pytest.skip(f"{what} (make test installs it)")


def _healthy(url: str) -> bool:
    """True when the server's /healthz answers 200."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def helpline_env(var: Path, url: str) -> dict[str, str]:
    """Environment of a test `helpline` on a fresh SQLite file under `var`, with its own keys."""
    return {
        **os.environ,
        "HELPLINE_VAR_DIR": str(var),
        "HELPLINE_DATABASE_URL": f"sqlite+aiosqlite:///{var / 'helpline.db'}",
        "HELPLINE_PUBLIC_URL": url,
        "HELPLINE_DATA_KEYS": Fernet.generate_key().decode(),
        "HELPLINE_SECRET_KEY": Fernet.generate_key().decode(),
        # Empty values win over a developer's .env: no real SMS or Telegram from a test server.
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "",
        "TELEGRAM_BOT_TOKEN": "",
    }


@contextlib.contextmanager
def serving(var: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    """`helpline serve` on `port` with `env` (database prepared by the caller); yields its URL."""
    url = f"http://127.0.0.1:{port}"
    log_path = var / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*_helpline(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_LIMIT
        while not _healthy(url):
            # Waiting on the process (not sleeping) returns at once if it dies.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)
            if process.returncode is not None:
                code = process.returncode
                pytest.fail(f"helpline serve exited ({code}):\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"helpline serve did not answer /healthz:\n{log_path.read_text()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real helpline (`helpline serve`) on a fresh SQLite database; yields its base URL."""
    var = tmp_path_factory.mktemp("helpline-var")
    port = _free_port()
    env = helpline_env(var, f"http://127.0.0.1:{port}")
    for step in (["db", "upgrade"], ["demo", "load"]):
        done = subprocess.run(
            [*_helpline(), *step], env=env, cwd=ROOT, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"helpline {' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")
    with serving(var, port, env) as url:
        yield url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium driven by Playwright (never a browser Playwright downloads)."""
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once per session, before any I/O)
        _missing(f"{CHROMIUM} is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()
