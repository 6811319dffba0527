"""What the engine is given besides the session: time, flows, texts, places, keywords."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.engine.definition import Flow, KeywordSet
from bot.engine.frozen import quick_init


class FlowSource(Protocol):
    """Flows by name; a version given must be returned exactly (sessions are pinned)."""

    def get(self, name: str, version: str | None = None) -> Flow:
        """The flow at `version`, or the current one; KeyError when unknown."""
        ...


@dataclass(frozen=True, slots=True)
class Place:
    """A municipality as the engine needs it."""

    slug: str
    name: str
    country: str
    names: tuple[str, ...]  # name, slug and aliases, as people may write them


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class ContactView:
    """What the engine may know of the person."""

    language: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    channel: str = "sms"


def _difflib_similarity(a: str, b: str) -> float:
    """Fallback similarity in 0..100 (the app injects rapidfuzz)."""
    return 100.0 * difflib.SequenceMatcher(None, a, b).ratio()


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Env:
    """The engine's whole world for one call; nothing here does I/O."""

    now: datetime
    flows: FlowSource
    texts: Callable[[str, str], str]  # (language, message id) -> text, for matching labels
    places: Sequence[Place] = ()
    keywords: KeywordSet = field(default_factory=KeywordSet)
    numbers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # country -> name -> nr
    similarity: Callable[[str, str], float] = _difflib_similarity
    # A detector made for short texts (bot/language.py): text -> {language: confidence}.
    identify_language: Callable[[str], Mapping[str, float]] | None = None
    trigger_flow: str = "first_contact"
    session_ttl: timedelta = timedelta(days=1)
    max_text: int = 1600
    default_language: str = "sq"
    max_steps: int = 200
