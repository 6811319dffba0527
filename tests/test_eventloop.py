"""The event loop: `serve` runs on uvloop unless HELPLINE_EVENT_LOOP says asyncio; the tests too."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import uvloop
from aiohttp import web

from bot import eventloop
from bot.__main__ import main
from tests.store.fixtures import DATA_KEYS, SECRET_KEY


async def test_the_tests_run_on_the_loop_serve_runs_on() -> None:
    uv = eventloop.chosen(os.environ) == "uvloop"
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop) == uv


def test_each_name_makes_its_own_loop() -> None:
    for name, uv in (("uvloop", True), ("asyncio", False)):
        loop = eventloop.new_loop(name)
        try:
            assert isinstance(loop, uvloop.Loop) == uv
            assert loop.run_until_complete(asyncio.sleep(0, result=name)) == name
        finally:
            loop.close()
    with pytest.raises(ValueError, match="unknown event loop 'trio'"):
        eventloop.new_loop("trio")


@pytest.mark.parametrize(("setting", "uv"), [(None, True), ("uvloop", True), ("asyncio", False)])
def test_serve_runs_the_app_on_the_loop_the_setting_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, uv: bool
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    monkeypatch.setenv("HELPLINE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HELPLINE_DATA_KEYS", ",".join(DATA_KEYS))
    monkeypatch.setenv("HELPLINE_SECRET_KEY", SECRET_KEY)
    if setting is None:
        monkeypatch.delenv("HELPLINE_EVENT_LOOP", raising=False)
    else:
        monkeypatch.setenv("HELPLINE_EVENT_LOOP", setting)
    seen: list[asyncio.AbstractEventLoop] = []

    def run_app(app: Any, *, loop: asyncio.AbstractEventLoop, print: Any, **_: Any) -> None:
        # What aiohttp's run_app does with the loop it is given, without serving the app.
        seen.append(loop)
        print()  # "serving on": the start-up watch is told start-up ended
        loop.close()

    monkeypatch.setattr(web, "run_app", run_app)
    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["serve", "--port", "1"]) == 0
    [loop] = seen
    assert isinstance(loop, uvloop.Loop) == uv and loop.is_closed()
    # "serving on" in one write: `serve --workers N` share a stdout, unbuffered or not.
    assert out.writes == ["helpline serving on http://127.0.0.1:1 (simulator: /simulator)\n"]


class Writes:
    """A stdout that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        """Nothing buffered."""
