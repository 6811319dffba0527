"""What wakes a session: a message, a wait's timeout, or the session's expiry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MsgResume:
    """The person wrote (or pressed a button with value `button`)."""

    text: str
    button: str | None = None
    start: bool = False  # Telegram /start and the like: begin a new conversation
    media: bool = False  # a photo, voice note, sticker...: the engine reads only words


@dataclass(frozen=True, slots=True)
class TimeoutResume:
    """A wait's timeout fired; `seq` names the wait it was set for."""

    seq: int


@dataclass(frozen=True, slots=True)
class ExpireResume:
    """The session's expiry timer fired."""


Resume = MsgResume | TimeoutResume | ExpireResume
