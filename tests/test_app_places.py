"""Start-up indexes the municipalities the pipeline matches, so no answer waits for it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.config import load_settings
from bot.data import load_municipalities
from bot.engine import understand
from bot.engine.env import Place
from bot.engine.lexicon import Lexicon
from bot.engine.routers import Match, route_municipality
from bot.flows.understanding import shipped_lexicon
from bot.matching import similarity
from bot.pipeline import places_from
from bot.store import migrate
from bot.store.repositories import Municipality
from bot.web.keys import PIPELINE
from tests.store.fixtures import DATA_KEYS, NOW, SECRET_KEY

ANSWERS = ("Prishtina", "prishtna", "ne shkoder", "Vau i Dejës", "jam ne gjakov", "london", "po")


def _match(answer: str, places: Sequence[Place], lexicon: Lexicon) -> Match | None:
    return route_municipality(answer, places, similarity, lexicon)


async def test_start_up_indexes_the_places_before_the_first_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lexicon = shipped_lexicon()
    shipped = places_from([Municipality(**m) for m in load_municipalities()])
    expected = {answer: _match(answer, shipped, lexicon) for answer in ANSWERS}
    keys = {"HELPLINE_DATA_KEYS": ",".join(DATA_KEYS), "HELPLINE_SECRET_KEY": SECRET_KEY}
    settings = load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path), **keys})
    await migrate.upgrade_async(settings.database_url)
    app = build_app(settings)
    async with TestClient(TestServer(app)):
        env = app[PIPELINE].env(NOW)

        def built_lazily(*_args: object) -> None:
            raise AssertionError("the municipality index was built at an answer")

        monkeypatch.setattr(understand, "place_index", built_lazily)
        found = {answer: _match(answer, env.places, env.keywords.lexicon) for answer in ANSWERS}
    assert found == expected
    assert expected["Prishtina"] == Match("found", "prishtine")
