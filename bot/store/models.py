"""Tables: one declarative Base, constraint names that SQLite and PostgreSQL share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names must be explicit so migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; timestamptz on PostgreSQL, naive UTC text on SQLite."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes (their zone is a guess); store UTC."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Always hand back aware UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


DIRECTIONS = ("in", "out")
SESSION_STATUSES = ("waiting", "ended")
OUTBOX_KINDS = ("reply", "alert", "followup", "system")
OUTBOX_STATUSES = ("pending", "leased", "sent", "failed")
URGENCIES = ("normal", "urgent")
RISK_LEVELS = ("standard", "medium", "high")
REPORTERS = ("survivor", "witness")
CASE_STATUSES = ("new", "alerted", "accepted", "referred", "closed")
FIRE_STATUSES = ("pending", "leased", "done", "cancelled")
COUNTRIES = ("AL", "XK")


class Base(DeclarativeBase):
    """The one declarative base; later tables subclass it."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        int: BigId,
        str: sa.String(255),
        bytes: sa.LargeBinary(),
        bool: sa.Boolean(),
    }


class ContactRow(Base):
    """A person writing to the helpline, found by a keyed hash of their URN."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    urn_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    urn_enc: Mapped[bytes | None]
    channel: Mapped[str] = mapped_column(sa.String(32))
    language: Mapped[str | None] = mapped_column(sa.String(8))
    fields_enc: Mapped[bytes | None]
    name_enc: Mapped[bytes | None]
    opted_out: Mapped[bool] = mapped_column(server_default=sa.false())
    unreachable: Mapped[bool] = mapped_column(server_default=sa.false())
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]


class MessageRow(Base):
    """One message in or out; the text is encrypted."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("channel", "direction", "external_id"),
        sa.CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        sa.Index(None, "contact_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(sa.String(32))
    direction: Mapped[str] = mapped_column(sa.String(3))
    external_id: Mapped[str | None] = mapped_column(sa.String(128))
    text_enc: Mapped[bytes]
    created_at: Mapped[datetime]
    status: Mapped[str | None] = mapped_column(sa.String(32))
    error: Mapped[str | None]
    segments: Mapped[int | None] = mapped_column(sa.Integer)
    # Links an outbound message to the outbox row that sends it, so the provider's id lands here.
    outbox_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )


class SessionRow(Base):
    """A contact's conversation state (the engine's session, encrypted)."""

    __tablename__ = "sessions"
    __table_args__ = (
        sa.CheckConstraint(_in("status", SESSION_STATUSES), name="status"),
        # At most one waiting session per contact.
        sa.Index(
            "uq_sessions_contact_id_waiting",
            "contact_id",
            unique=True,
            sqlite_where=sa.text("status = 'waiting'"),
            postgresql_where=sa.text("status = 'waiting'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16))
    state_enc: Mapped[bytes]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutboxRow(Base):
    """A message to send after commit (transactional outbox)."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", OUTBOX_KINDS), name="kind"),
        sa.CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        sa.Index(None, "status", "due_at"),
        sa.Index(None, "status", "leased_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(sa.String(32))
    urn_enc: Mapped[bytes]
    payload_enc: Mapped[bytes]
    kind: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    due_at: Mapped[datetime]
    leased_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(sa.String(128))
    segments: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None]
    meta: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # never personal data


class CaseRow(Base):
    """A case: what is known about one request for help, as anonymisable figures."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.CheckConstraint(_in("urgency", URGENCIES), name="urgency"),
        sa.CheckConstraint(_in("risk_level", RISK_LEVELS), name="risk_level"),
        sa.CheckConstraint(_in("reporter", REPORTERS), name="reporter"),
        sa.CheckConstraint(_in("status", CASE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(16), unique=True)
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    # A slug, not a foreign key: cases outlive edits of the municipality list.
    municipality: Mapped[str | None] = mapped_column(sa.String(64))
    urgency: Mapped[str] = mapped_column(sa.String(16))
    risk_level: Mapped[str | None] = mapped_column(sa.String(16))
    risk_score: Mapped[int | None] = mapped_column(sa.Integer)
    flags: Mapped[list[str]] = mapped_column(sa.JSON)
    reporter: Mapped[str | None] = mapped_column(sa.String(16))
    category: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    consent: Mapped[dict[str, bool]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class CaseEventRow(Base):
    """Something that happened to a case; its data is encrypted."""

    __tablename__ = "case_events"
    __table_args__ = (sa.Index(None, "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(64))
    data_enc: Mapped[bytes]


class FireRow(Base):
    """A timer the pipeline sweeps (a wait's timeout, a session's expiry, a follow-up)."""

    __tablename__ = "fires"
    __table_args__ = (
        sa.CheckConstraint(_in("status", FIRE_STATUSES), name="status"),
        sa.Index(None, "status", "due_at"),
        sa.Index(None, "status", "leased_until"),
        # One pending timer of a kind per session: scheduling again replaces it.
        sa.Index(
            "uq_fires_session_id_kind_pending",
            "session_id",
            "kind",
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32))
    due_at: Mapped[datetime]
    seq: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    status: Mapped[str] = mapped_column(sa.String(16))
    leased_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime]
    payload: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # never personal data


class FlowVersionRow(Base):
    """The source of every flow version ever served, so pinned sessions can finish on it."""

    __tablename__ = "flow_versions"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[str] = mapped_column(sa.String(12))
    source: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    published: Mapped[bool] = mapped_column(server_default=sa.false())


class MunicipalityRow(Base):
    """A municipality of Albania or Kosovo (admins may edit the list)."""

    __tablename__ = "municipalities"
    __table_args__ = (sa.CheckConstraint(_in("country", COUNTRIES), name="country"),)

    slug: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    country: Mapped[str] = mapped_column(sa.String(2))
    county: Mapped[str | None] = mapped_column(sa.String(128))
    tz: Mapped[str] = mapped_column(sa.String(64))
    aliases: Mapped[list[str]] = mapped_column(sa.JSON)
