"""Plain, decrypted, immutable records the store hands out (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A conversation's engine state as stored."""

    id: int
    contact_id: int
    status: str
    state: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message claimed for sending."""

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
