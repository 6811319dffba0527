"""What the engine reports: past-tense events that the pipeline turns into writes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from bot.engine.frozen import quick_init
from bot.engine.plain import plain


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events; `type` is the snake_case name."""

    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        """The event as plain data, with its type."""
        data: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            data[f.name] = plain(getattr(self, f.name))
        return data


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class OptionOut:
    """A numbered option as shown to the person."""

    number: int
    label: str  # message id
    value: str


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class MsgCreated(Event):
    """A message to send to the person (message id, params, optional numbered options)."""

    type: ClassVar[str] = "msg_created"
    text: str
    language: str
    params: dict[str, Any] = field(default_factory=dict)
    options: tuple[OptionOut, ...] = ()


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class WaitStarted(Event):
    """The session waits for an answer; a timeout fires at `timeout_at` if set."""

    type: ClassVar[str] = "wait_started"
    flow: str
    node: str
    seq: int
    timeout_at: str | None
    expires_at: str


@dataclass(frozen=True, slots=True)
class SessionEnded(Event):
    """The conversation ended (completed, exit, erased, no_answer, expired)."""

    type: ClassVar[str] = "session_ended"
    reason: str


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class ResultSaved(Event):
    """An answer was saved under `name`."""

    type: ClassVar[str] = "result_saved"
    name: str
    value: Any
    category: str
    free_text: bool = False


@dataclass(frozen=True, slots=True)
class FieldChanged(Event):
    """A contact field changed (kept across conversations)."""

    type: ClassVar[str] = "field_changed"
    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class LanguageChanged(Event):
    """The person's language changed."""

    type: ClassVar[str] = "language_changed"
    language: str


@dataclass(frozen=True, slots=True)
class KeywordMatched(Event):
    """A global keyword interrupted the conversation."""

    type: ClassVar[str] = "keyword_matched"
    intent: str


@dataclass(frozen=True, slots=True)
class UrgencyRaised(Event):
    """The case is urgent."""

    type: ClassVar[str] = "urgency_raised"
    reason: str


@dataclass(frozen=True, slots=True)
class RiskAssessed(Event):
    """The screening ended in a risk level."""

    type: ClassVar[str] = "risk_assessed"
    level: str
    score: int
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CaseOpened(Event):
    """A case was opened for this contact; `info` is what is known so far."""

    type: ClassVar[str] = "case_opened"
    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaseUpdated(Event):
    """Facts about the case changed (reporter, category, municipality)."""

    type: ClassVar[str] = "case_updated"
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConsentRecorded(Event):
    """The person said yes or no to being referred to a kind of service."""

    type: ClassVar[str] = "consent_recorded"
    service: str
    given: bool


@dataclass(frozen=True, slots=True)
class ReferralRequested(Event):
    """A coordinator should take the case (urgent or not)."""

    type: ClassVar[str] = "referral_requested"
    reason: str
    urgent: bool


@dataclass(frozen=True, slots=True)
class FollowupStarted(Event):
    """A follow-up plan should start."""

    type: ClassVar[str] = "followup_started"
    plan: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FollowupAnswered(Event):
    """The person answered a check-in (respected, breached, talk, stop, not_now, done...)."""

    type: ClassVar[str] = "followup_answered"
    outcome: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErasureRequested(Event):
    """The person confirmed that all their data is to be erased."""

    type: ClassVar[str] = "erasure_requested"


@dataclass(frozen=True, slots=True)
class InputRejected(Event):
    """The message could not be used as an answer (empty, too_long, not_understood)."""

    type: ClassVar[str] = "input_rejected"
    reason: str
    misses: int
