"""Neutral envelopes that channels, the pipeline and the outbox sender exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

CHANNELS = ("sms", "whatsapp", "telegram", "simulator")


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message a person sent, translated from the provider's payload."""

    channel: str  # one of CHANNELS
    urn: str  # tel:+355691234567, whatsapp:+355691234567, telegram:123456789, sim:abc123
    text: str
    external_id: str  # provider's id (MessageSid, update_id); duplicates are dropped
    received_at: datetime  # UTC, tz-aware
    button: str | None = None  # value of a pressed button (Telegram callback data), if any
    meta: dict[str, str] = field(default_factory=dict)  # non-personal provider details


@dataclass(frozen=True, slots=True)
class Button:
    """One choice shown as a button where the channel has buttons."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """A rendered message ready for a channel to send."""

    outbox_id: int
    channel: str
    urn: str
    text: str
    buttons: tuple[Button, ...] = ()
    kind: str = "reply"  # reply | alert | followup | system | delete
    meta: dict[str, object] = field(default_factory=dict)  # e.g. message ids to delete


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a channel reports after trying to send one Outbound."""

    ok: bool
    external_id: str | None = None
    segments: int = 1
    retry: bool = False  # transient failure: try again later
    retry_after: float | None = None  # seconds the provider asked us to wait
    error: str | None = None  # provider error code or short reason, never personal data
    contact_state: str | None = None  # opted_out | unreachable | blocked: what we learnt of them
    # Not sendable inside the provider's rules now (WhatsApp's 24 hours): keep it until she
    # writes again (a message to a coordinator fails instead, so the alert goes another way).
    hold: bool = False


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status the provider reported for a message we sent."""

    channel: str
    external_id: str
    status: str  # queued | sent | delivered | undelivered | failed
    error_code: str | None = None
    contact_state: str | None = None  # what the error says about the person (unreachable...)
    hold: bool = False  # refused for the provider's window (WhatsApp 63016): keep it for her
