"""Language identification: its models (and the keywords' tables) load when the server starts, not
at her first message."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import language
from bot.app import build_app
from bot.config import load_settings
from bot.engine import keywords
from bot.store import migrate
from tests.store.fixtures import DATA_KEYS, SECRET_KEY


async def test_the_models_load_before_the_first_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(language, "warm_up", lambda: calls.append("warm"))
    # The keywords' and lexicon's tables too (bot/engine/keywords.py warm_up).
    monkeypatch.setattr(keywords, "warm_up", lambda _keywords: calls.append("keywords"))
    keys = {"HELPLINE_DATA_KEYS": ",".join(DATA_KEYS), "HELPLINE_SECRET_KEY": SECRET_KEY}
    settings = load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path), **keys})
    await migrate.upgrade_async(settings.database_url)
    app = build_app(settings)
    assert calls == []  # nothing at build time: a CLI command never pays for it
    async with TestClient(TestServer(app)) as client:
        assert calls == ["warm", "keywords"]  # started: before any request is taken
        async with client.get("/healthz") as resp:
            assert resp.status == 200


def test_warming_up_reads_a_text_as_a_message_would() -> None:
    language.warm_up()
    scores = language.identify("pershendetje, kam nevoje per ndihme")
    assert max(scores, key=lambda code: scores[code]) == "sq"
