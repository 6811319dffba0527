"""`helpline serve`'s application: what start-up built is frozen out of the collector's sight."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import SCHEDULER, build_app, refreeze_heap, serving_app
from bot.config import Settings, load_settings
from bot.store import migrate
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
