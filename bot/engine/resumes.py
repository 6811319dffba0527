"""What wakes a session: a message, a wait's timeout, or the session's expiry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.engine.frozen import quick_init

if TYPE_CHECKING:
    from bot.engine.keywords import KeywordHit
    from bot.engine.understand import Text


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class MsgResume:
    """The person wrote (or pressed a button with value `button`)."""

    text: str
    button: str | None = None
    start: bool = False  # Telegram /start and the like: begin a new conversation
    media: bool = False  # a photo, voice note, sticker...: the engine reads only words
    # The global keywords in `text` (keywords.detect_all with the env's keyword set), when the
    # caller read them already: the engine does not read the message for them a second time.
    keywords: tuple[KeywordHit, ...] | None = None
    # `text` analysed with the env's lexicon (understand.analyse), when the caller has it: read
    # once for the keywords, the language and the answer.
    read: Text | None = None


@dataclass(frozen=True, slots=True)
class TimeoutResume:
    """A wait's timeout fired; `seq` names the wait it was set for."""

    seq: int


@dataclass(frozen=True, slots=True)
class ExpireResume:
    """The session's expiry timer fired."""


@dataclass(frozen=True, slots=True)
class StartResume:
    """The helpline begins a conversation itself (a follow-up check-in): `flow` from its start,
    with `results` already known (plain values the flow may use as @results.NAME)."""

    flow: str
    results: dict[str, Any] = field(default_factory=dict)


Resume = MsgResume | TimeoutResume | ExpireResume | StartResume
