"""Neutral envelopes that channels, the pipeline and the outbox sender exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import phonenumbers

from bot.engine.frozen import quick_init

CHANNELS = ("sms", "whatsapp", "telegram", "simulator")
# Numbers written without a country code are Albanian (+355); Kosovo's carry +383.
DEFAULT_REGION = "AL"
# URN scheme -> the channel that reaches it. A new channel adds its scheme here (WhatsApp's
# whatsapp:+355… numbers are phone numbers too: PHONE_SCHEMES).
SCHEMES: dict[str, str] = {
    "tel": "sms",
    "telegram": "telegram",
    "whatsapp": "whatsapp",
    "sim": "simulator",
}
PHONE_SCHEMES = frozenset({"tel", "whatsapp"})


def normalise_phone(raw: str, *, valid: bool = False, region: str = DEFAULT_REGION) -> str | None:
    """E.164 of a number (of `region` without a country code); None if not one (or not `valid`)."""
    return _e164(raw, valid, region)


# Performance: every SMS webhook reads its sender's number (phonenumbers' parse, check and
# format: ~18 µs), and the same people write again and again; the answer never changes for a
# number as written. In this process's memory only, bounded, never logged or stored (as
# bot/data/numbers.py's country_of_urn and the per-sender limiter keep addresses).
@lru_cache(maxsize=4096)
def _e164(raw: str, valid: bool, region: str) -> str | None:
    """normalise_phone's answer, computed once per number as written."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    ok = phonenumbers.is_valid_number(number) if valid else phonenumbers.is_possible_number(number)
    if not ok:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class Urn:
    """A contact's address: scheme and path (tel:+355691234567, telegram:123456789)."""

    scheme: str
    path: str

    @classmethod
    def parse(cls, text: str) -> Urn:
        """Split `scheme:path`; ValueError when there is no scheme or it is not one we know."""
        scheme, sep, path = text.partition(":")
        if not sep or not path or scheme not in SCHEMES:
            raise ValueError("not a URN of a known scheme")
        return cls(scheme, path)

    @classmethod
    def phone(cls, raw: str, scheme: str = "tel") -> Urn | None:
        """A phone URN from a number as written, None if it is not a number."""
        number = normalise_phone(raw)
        return cls(scheme, number) if number is not None else None

    @property
    def channel(self) -> str:
        """The channel that reaches this address."""
        return SCHEMES[self.scheme]

    @property
    def number(self) -> str | None:
        """The E.164 number of a phone URN, else None."""
        return self.path if self.scheme in PHONE_SCHEMES else None

    @property
    def country(self) -> str | None:
        """The ISO region of a phone URN's number (AL, XK...), None if not a phone or unknown."""
        if self.number is None:
            return None
        try:
            return phonenumbers.region_code_for_number(phonenumbers.parse(self.number))
        except phonenumbers.NumberParseException:
            return None

    def __str__(self) -> str:
        return f"{self.scheme}:{self.path}"


@quick_init  # built on every message: see bot/engine/frozen.py
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


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Button:
    """One choice shown as a button where the channel has buttons."""

    label: str
    value: str


@quick_init  # built on every message: see bot/engine/frozen.py
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


@quick_init  # built on every message: see bot/engine/frozen.py
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
    # The provider's id of a message sent in this one's stead (WhatsApp's "a message waits"):
    # kept with the row, so FSHI deletes that copy at the provider too.
    also_sent: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status the provider reported for a message we sent."""

    channel: str
    external_id: str
    status: str  # queued | sent | delivered | undelivered | failed
    error_code: str | None = None
    contact_state: str | None = None  # what the error says about the person (unreachable...)
    hold: bool = False  # refused for the provider's window (WhatsApp 63016): keep it for her
