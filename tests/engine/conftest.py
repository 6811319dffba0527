"""Fixtures for engine tests: small test flows, a fixed clock, a tiny text table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.engine import ContactView, Env, Place
from bot.flows.library import FlowLibrary
from bot.matching import similarity

FLOWS = Path(__file__).parent / "flows"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TEXTS = {
    ("sq", "t.sq"): "Shqip",
    ("en", "t.sq"): "Shqip",
    ("sq", "t.en"): "English",
    ("en", "t.en"): "English",
    ("sq", "sys.yes"): "Po",
    ("en", "sys.yes"): "Yes",
    ("sq", "sys.no"): "Jo",
    ("en", "sys.no"): "No",
}
PLACES = (
    Place("tirane", "Tiranë", "AL", ("Tiranë", "tirane", "tirana")),
    Place("shkoder", "Shkodër", "AL", ("Shkodër", "shkoder", "shkodra")),
    Place("prishtine", "Prishtinë", "XK", ("Prishtinë", "prishtine", "prishtina", "pristina")),
    Place("vau-i-dejes", "Vau i Dejës", "AL", ("Vau i Dejës", "vau-i-dejes", "vau i dejes")),
)
NUMBERS = {
    "AL": {"emergency": "112", "police": "129", "line": "116 117"},
    "XK": {"emergency": "112", "police": "192", "line": "0800 11112"},
    "default": {"emergency": "112", "police": "129 / 192", "line": "116 117"},
}


@pytest.fixture(scope="session")
def library() -> FlowLibrary:
    lib = FlowLibrary(FLOWS)
    result = lib.reload()
    assert result.ok, result.problems
    return lib


def make_env(library: FlowLibrary, now: datetime = NOW) -> Env:
    return Env(
        now=now,
        flows=library,
        texts=lambda lang, msgid: TEXTS.get((lang, msgid), msgid),
        places=PLACES,
        keywords=library.keywords,
        numbers=NUMBERS,
        similarity=similarity,
        trigger_flow="main",
    )


@pytest.fixture
def env(library: FlowLibrary) -> Env:
    return make_env(library)


@pytest.fixture
def contact() -> ContactView:
    return ContactView()
