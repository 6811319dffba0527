"""A full disk under a running helpline: webhooks fail, /healthz says so, the log says it once."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.channels.twilio_sms import SMS_PATH
from bot.store import migrate
from bot.web.keys import DB
from tests.auxil import twilio_payloads as smsp
from tests.auxil.channels_app import PUBLIC, settings_for
from tests.auxil.fake_twilio import FakeTwilio

PERSON = "+355691110077"
DISK = "8m"  # a tmpfs this small fills in a moment


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK mounted for this test (needs root, as the CI container runs)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=700", "tmpfs", str(disk)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no room left; the file."""
    filler = disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        # Whatever is left in the buffer cannot be written either.
        try:
            fh.close()
        except OSError:
            pass
    return filler


async def test_a_full_disk_turns_healthz_503_and_is_logged_once(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    twilio = FakeTwilio()
    await twilio.start()
    settings = settings_for(small_disk, twilio)
    await migrate.upgrade_async(settings.database_url)
    app = build_app(settings)
    try:
        async with TestClient(TestServer(app)) as client:

            async def sms(body: str) -> int:
                form = smsp.inbound_sms(PERSON, body)
                headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
                async with client.post(SMS_PATH, data=form, headers=headers) as resp:
                    return resp.status

            async def health() -> tuple[int, dict]:
                async with client.get("/healthz") as resp:
                    return resp.status, await resp.json()

            clock = Clock()
            app[DB].writes.clock = clock
            assert await health() == (
                200,
                {"ok": True, "database": True, "keys": "ok", "writes": True},
            )
            assert await sms("ndihmë") == 200
            filler = fill(small_disk)
            with caplog.at_level(logging.INFO):
                statuses = [await sms(f"mesazh {n}") for n in range(5)]
                checks = [await health() for _ in range(3)]
            assert set(statuses) == {500}  # refused, so Twilio's retry options can send again
            assert (
                checks
                == [(503, {"ok": False, "database": True, "keys": "ok", "writes": False})] * 3
            )
            said = [r for r in caplog.records if "writes to the database fail" in r.getMessage()]
            assert len(said) == 1 and said[0].levelno == logging.ERROR
            assert "disk is full" in said[0].getMessage()
            # No traceback a message: the one line above says it all. (The outbox sender's
            # pass still logs its own traceback; bot/outbox.py is outside this change.)
            assert not [r for r in caplog.records if r.exc_info and r.name != "bot.outbox"]
            # Room again: after the hold without failures, writes work and health is back.
            filler.unlink()
            clock.now += app[DB].writes.hold + 1
            assert await health() == (
                200,
                {"ok": True, "database": True, "keys": "ok", "writes": True},
            )
            assert await sms("ndihmë përsëri") == 200
    finally:
        await twilio.stop()
