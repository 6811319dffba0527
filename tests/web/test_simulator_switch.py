"""HELPLINE_SIMULATOR: on for development, off on PostgreSQL or https unless set (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.config import load_settings
from bot.demo import load_demo
from bot.store import migrate
from bot.store.crypto import Crypto
from bot.store.db import Database
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

PG = "postgresql+asyncpg://postgres@127.0.0.1/helpline"


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, True),  # make run: SQLite, http://127.0.0.1
        ({"HELPLINE_DATABASE_URL": PG}, False),
        ({"HELPLINE_PUBLIC_URL": "https://helpline.example.org"}, False),
        ({"HELPLINE_DATABASE_URL": PG, "HELPLINE_SIMULATOR": "on"}, True),
        ({"HELPLINE_SIMULATOR": "off"}, False),
    ],
)
def test_the_simulator_is_on_only_where_it_belongs(tmp_path: Path, env, on) -> None:
    keys = {"HELPLINE_DATA_KEYS": ",".join(DATA_KEYS), "HELPLINE_SECRET_KEY": SECRET_KEY}
    settings = load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path), **keys, **env})
    assert settings.simulator is on


def test_a_bad_value_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HELPLINE_SIMULATOR must be on or off"):
        load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path), "HELPLINE_SIMULATOR": "maybe"})


async def _paths(tmp_path: Path, **env: str) -> dict[str, int]:
    keys = {"HELPLINE_DATA_KEYS": ",".join(DATA_KEYS), "HELPLINE_SECRET_KEY": SECRET_KEY}
    settings = load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path), **keys, **env})
    await migrate.upgrade_async(settings.database_url)
    async with TestClient(TestServer(build_app(settings))) as client:
        found = {}
        for path in ("/simulator", "/simulator/ws", "/simulator/coordinator", "/simulator/static/"):
            async with client.get(path) as resp:
                found[path] = resp.status
        async with client.get("/", allow_redirects=False) as resp:
            found["/ ->"] = resp.headers["Location"]
    return found


async def test_off_the_simulator_and_its_socket_do_not_exist(tmp_path: Path) -> None:
    found = await _paths(tmp_path, HELPLINE_PUBLIC_URL="https://helpline.example.org")
    assert found == {
        "/simulator": 404,
        "/simulator/ws": 404,
        "/simulator/coordinator": 404,
        "/simulator/static/": 404,
        "/ ->": "/admin",
    }
    on = await _paths(tmp_path / "on", HELPLINE_SIMULATOR="on")
    assert on["/simulator"] == 200 and on["/ ->"] == "/simulator"


async def test_demo_load_adds_no_demo_coordinator_when_the_simulator_is_off(tmp_path, capsys):
    settings = load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path), "HELPLINE_SIMULATOR": "off"})
    await migrate.upgrade_async(settings.database_url)
    await load_demo(settings)
    assert "no demo coordinator: the simulator is off" in capsys.readouterr().out
    db = Database(settings.database_url, Crypto(settings.data_keys, settings.secret_key))
    try:
        async with db.uow() as uow:
            assert await uow.coordinators.list_all() == []
    finally:
        await db.dispose()
