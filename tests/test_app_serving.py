"""`helpline serve`'s application: what start-up built is frozen out of the collector's sight;
a start-up that hangs ends the process, naming the step it hangs in."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import SCHEDULER, build_app, refreeze_heap, serving_app
from bot.config import Settings, load_settings
from bot.store import migrate
from bot.web.keys import CHANNELS
from bot.workers import STUCK, StartupWatch
from tests.store.fixtures import DATA_KEYS, SECRET_KEY


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Leave the test process as it was: nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


async def _settings(tmp_path: Path) -> Settings:
    keys = {"HELPLINE_DATA_KEYS": ",".join(DATA_KEYS), "HELPLINE_SECRET_KEY": SECRET_KEY}
    settings = load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path), **keys})
    await migrate.upgrade_async(settings.database_url)
    return settings


async def test_the_server_freezes_what_start_up_built(tmp_path: Path, unfrozen: None) -> None:
    app = serving_app(await _settings(tmp_path))
    async with TestClient(TestServer(app)) as client:
        assert gc.get_freeze_count() > 10_000  # flows, lexicon, catalogs, tables...
        assert app[SCHEDULER].aps.get_job("refreeze-heap") is not None  # and again nightly
        async with client.get("/healthz") as resp:
            assert resp.status == 200


async def test_an_app_built_for_tests_freezes_nothing(tmp_path: Path, unfrozen: None) -> None:
    async with TestClient(TestServer(build_app(await _settings(tmp_path)))):
        assert gc.get_freeze_count() == 0


def test_refreezing_collects_what_became_garbage_first(unfrozen: None) -> None:
    class Node:
        """A cycle: only the collector frees it."""

        def __init__(self) -> None:
            self.me = self

    gc.collect()
    gc.freeze()
    Node()  # garbage at once, not frozen: a normal collection frees it
    node = Node()
    gc.collect()
    gc.freeze()  # frozen while alive...
    del node  # ...then garbage: no normal collection can see it
    frozen = gc.get_freeze_count()
    assert gc.collect() == 0
    refreeze_heap()
    assert gc.get_freeze_count() < frozen  # the cycle was collected before freezing again


class UnansweringChannel:
    """A channel whose provider never answers while it starts (start() waits until let go)."""

    def __init__(self) -> None:
        self.starting = asyncio.Event()
        self.answer = asyncio.Event()

    async def start(self) -> None:
        self.starting.set()
        await self.answer.wait()

    async def stop(self) -> None:
        """Nothing to close."""


async def test_a_start_up_that_hangs_ends_the_process_naming_the_step(
    tmp_path: Path,
    unfrozen: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int] = loop.create_future()
    # The watch's own thread ends the process; here it hands the exit code to the test.
    watch = StartupWatch(
        0.001, exit=lambda code: loop.call_soon_threadsafe(exited.set_result, code)
    )
    app = serving_app(await _settings(tmp_path), watch)
    hanging = app[CHANNELS]["stuck"] = UnansweringChannel()
    server = TestServer(app)
    starting = asyncio.create_task(server.start_server())
    try:
        await hanging.starting.wait()
        watch.arm()  # (`serve` arms it as the process starts; armed now, it fires here)
        assert await exited == STUCK
    finally:
        hanging.answer.set()
        await starting
        await server.close()
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert line == (
        "start-up did not finish within 0.001 s, stuck starting the stuck channel; "
        "exiting (code 3) to be started again"
    )
    # Then every thread's stack, and every task's down to what it awaits: here, the channel.
    err = capfd.readouterr().err
    assert "Current thread" in err
    assert "in _runtime\n    await channel.start()\n" in err
    assert "in start\n    await self.answer.wait()\n" in err


async def test_the_watch_follows_start_up_to_its_last_step(tmp_path: Path, unfrozen: None) -> None:
    watch = StartupWatch(None)
    app = serving_app(await _settings(tmp_path), watch)
    async with TestClient(TestServer(app)):
        assert watch.step == "opening the port"  # the last step before aiohttp listens
