"""Plain, decrypted, immutable records the store hands out (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.engine.frozen import quick_init


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Contact:
    """A person writing to the helpline."""

    id: int
    urn: str
    channel: str
    language: str | None
    fields: dict[str, Any]
    opted_out: bool
    unreachable: bool
    created_at: datetime
    last_seen_at: datetime
    # The stored token `urn` was decrypted from (None when none is stored): the outbox row of a
    # message to her copies it instead of encrypting her address again (one encryption,
    # a reply). Ciphertext only; left out of comparisons and repr.
    urn_enc: bytes | None = field(default=None, compare=False, repr=False)


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Arrival:
    """Who wrote a message (ContactRepo.arrive): her contact, whether it was created now, and
    whether an active coordinator may write from the address (False: nobody does, no need to
    ask CoordinatorRepo.find_by_urn; True: find_by_urn says who, if anyone)."""

    contact: Contact
    created: bool
    coordinator: bool
    # Her last_seen_at is `now` already (created now, or stamped by the look-up itself:
    # ContactRepo.arrive's `stamp`); False: the caller's touch() records her message.
    seen_now: bool = False


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Standing:
    """What a known person's message finds (ContactRepo.standing): her waiting session, her
    open case, and whether replies wait for her to write (OutboxRepo.release would move any)."""

    session: StoredSession | None
    case: Case | None
    held: bool


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class StoredSession:
    """A conversation's engine state as stored."""

    id: int
    contact_id: int
    status: str
    state: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message claimed for sending (or handed over: Handoff)."""

    id: int
    contact_id: int | None
    channel: str
    urn: str
    text: str
    buttons: list[dict[str, Any]]
    kind: str
    attempts: int
    meta: dict[str, Any]
    created_at: datetime


@dataclass(slots=True)
class Handoff:
    """Rows a unit of work queues due at once, leased to this process's outbox sender as they
    are written (`owner`, until `until`; from their `created_at`) and handed to it once
    committed (`items`): no claim of them by the sender (bot/outbox.py OutboxSender.take)."""

    owner: str
    until: datetime
    items: list[OutboxItem] = field(default_factory=list)


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Case:
    """A case with every column of the cases table."""

    id: int
    reference: str
    contact_id: int | None
    municipality: str | None
    urgency: str
    risk_level: str | None
    risk_score: int | None
    flags: tuple[str, ...]
    reporter: str | None
    category: str | None
    status: str
    consent: dict[str, bool]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    simulated: bool = False  # opened in the simulator: demo coordinators only, no statistics


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """Something that happened to a case."""

    id: int
    case_id: int
    at: datetime
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Fire:
    """A due timer."""

    id: int
    contact_id: int
    session_id: int | None
    kind: str
    due_at: datetime
    seq: int
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Municipality:
    """A municipality: slug of its Albanian name, name, country (AL|XK), county, time zone."""

    slug: str
    name: str
    country: str
    county: str | None
    tz: str
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Accept any sequence of aliases (JSON gives lists) and keep a tuple."""
        object.__setattr__(self, "aliases", tuple(self.aliases))


# -- referral ------------------------------------------------------------------------------------


# The simulator page's coordinator phone writes from this address followed by the id.
DEMO_COORDINATOR_URN = "sim:demo-coordinator-"


@dataclass(frozen=True, slots=True)
class Coordinator:
    """A person who takes cases; phone is E.164, telegram_chat_id the chat's id as text."""

    id: int
    name: str
    municipality: str
    phone: str | None
    telegram_chat_id: str | None
    language: str
    role: str
    active: bool
    demo: bool
    created_at: datetime
    failing_channel: str | None = None
    whatsapp: bool = False  # their phone number takes WhatsApp

    @property
    def sms_urn(self) -> str | None:
        """The URN SMS reaches them at."""
        return f"tel:{self.phone}" if self.phone else None

    @property
    def whatsapp_urn(self) -> str | None:
        """The URN WhatsApp reaches them at, when they take alerts there."""
        return f"whatsapp:{self.phone}" if self.phone and self.whatsapp else None

    @property
    def telegram_urn(self) -> str | None:
        """The URN Telegram reaches them at."""
        return f"telegram:{self.telegram_chat_id}" if self.telegram_chat_id else None

    @property
    def simulator_urn(self) -> str | None:
        """The simulator's coordinator phone: demo coordinators only, and only there."""
        return f"{DEMO_COORDINATOR_URN}{self.id:06d}" if self.demo else None


@dataclass(frozen=True, slots=True)
class DutyShift:
    """When a coordinator is on duty (see bot/referral/rota.py for the meaning of each kind)."""

    id: int
    coordinator_id: int
    kind: str  # always | window | weekly
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    days: tuple[int, ...] = ()  # weekly: weekdays the shift starts on, Monday = 0
    start_time: str | None = None  # weekly: local "HH:MM"
    end_time: str | None = None
    tz: str = "Europe/Tirane"


@dataclass(frozen=True, slots=True)
class Alert:
    """One message to a coordinator about a case, with the case's reference and status."""

    id: int
    case_id: int
    coordinator_id: int
    kind: str
    step: int
    state: str
    channel: str | None
    outbox_id: int | None
    fallback_at: datetime | None
    due_at: datetime
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    reference: str = ""
    case_status: str = ""


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who accepted a case and the state of the relay with the person."""

    case_id: int
    coordinator_id: int
    accepted_at: datetime
    relay_until: datetime | None
    quiet: bool


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A sensitive action, recorded."""

    id: int
    at: datetime
    coordinator_id: int | None
    case_id: int | None
    action: str
    data: dict[str, Any]
    admin_user_id: int | None = None  # who, when it was done in /admin


@dataclass(frozen=True, slots=True)
class Service:
    """A service in the directory."""

    country: str
    municipality: str  # a slug or "national"
    kind: str
    name: str
    phone: str
    hours: str | None = None
    notes: str | None = None
    serves: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Accept any sequence of served municipalities (JSON gives lists) and keep a tuple."""
        object.__setattr__(self, "serves", tuple(self.serves))

    @property
    def sample(self) -> bool:
        """Sample data (says SAMPLE in its notes): never shown to a person asking for help."""
        return "SAMPLE" in (self.notes or "")


# -- admin ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdminUser:
    """Someone who signs in to /admin."""

    id: int
    username: str
    password_hash: str
    role: str  # admin | coordinator
    municipality: str | None
    language: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None

    @property
    def is_admin(self) -> bool:
        """Admins see everything; coordinators only their municipality's cases."""
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Publication:
    """A flow version made current, by whom (None: the files at start-up)."""

    id: int
    name: str
    version: str
    published_at: datetime
    published_by: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """One case as figures only (no person, no words), for statistics."""

    id: int
    municipality: str | None
    created_at: datetime
    urgency: str
    risk_level: str | None
    category: str | None
    status: str
    accepted_at: datetime | None
    escalations: int  # pages sent after the first step


# -- follow-ups ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Order:
    """A protection order as registered."""

    id: int
    case_id: int | None
    contact_id: int | None
    country: str
    kind: str
    issued_on: date | None
    ends_on: date | None
    end_is_default: bool
    registered_by: int | None
    status: str


@dataclass(frozen=True, slots=True)
class Plan:
    """A follow-up plan (order check-ins or an integration plan)."""

    id: int
    kind: str
    contact_id: int | None
    case_id: int | None
    order_id: int | None
    status: str
    windows: tuple[str, ...]
    tz: str
    starts_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class Checkin:
    """One check-in and where it stands."""

    id: int
    plan_id: int
    contact_id: int | None
    milestone_id: int | None
    purpose: str
    nominal_at: datetime
    due_at: datetime
    status: str
    tries: int
    deferrals: int
    sent_at: datetime | None
    answered_at: datetime | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class Milestone:
    """A step of an integration plan."""

    id: int
    plan_id: int
    kind: str
    due_on: date | None
    status: str
    answer: str | None
    set_by: int | None
