"""Tables: one declarative Base, constraint names that SQLite and PostgreSQL share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, processors
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

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

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, process_bind_param and DATETIME's text in one step (the same text)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # Why: every timestamp a message writes went through both steps, SQLAlchemy's DATETIME
        # formatting by a %-template of seven fields; py-spy put the two at 5.6 % of the
        # server's CPU under bench/load.py. isoformat is C: 2.3 -> 1.2 us a value. It writes
        # DATETIME's storage format exactly (microseconds always, tests/store/test_models.py).
        # A UTC value's text is its isoformat less "+00:00" (replace(tzinfo=None) first cost
        # ~5,000 instructions of ~18,600: its keywords), and the last value's text is kept:
        # a message binds ~9.4 timestamps, ~7 of them the same object as the one before
        # (its `now`), and a datetime never changes.
        last: list[tuple[datetime | None, str | None]] = [(None, None)]

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            seen = last[0]  # one read: another thread may replace it, never half of it
            if seen[0] is value:
                return seen[1]
            if value.tzinfo is UTC:
                text = value.isoformat(" ", "microseconds")[:-6]
                last[0] = (value, text)
                return text
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError("naive datetime given to the store; use timezone-aware UTC")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """On SQLite, DATETIME's parsing and process_result_value in one step (the same value)."""
        inner = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        if dialect.name != "sqlite" or inner is not processors.str_to_datetime:
            return super().result_processor(dialect, coltype)

        # Why: ~12 timestamps read a message, each through TypeDecorator's wrapper, DATETIME's
        # processor and process_result_value: ~27 bytecodes a value, 325 a message. Exactly
        # what those do: DATETIME's text by datetime.fromisoformat, then aware UTC.
        # DATETIME's own text ("YYYY-MM-DD HH:MM:SS.ffffff", 26 characters) is read with
        # "+00:00" after it, aware UTC at once: replace(tzinfo=UTC) after the parse cost ~9,400
        # of ~11,700 instructions (its keywords). Anything else, or what that does not read as
        # UTC (a text with an offset of its own fails to parse with a second one), goes the
        # general way (tests/store/test_models.py compares both on many texts).
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            if len(value) == 26:
                try:
                    stamped = parse(value + "+00:00")
                except ValueError:
                    pass
                else:
                    if stamped.tzinfo is UTC:
                        return stamped
            parsed = parse(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Always hand back aware UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class OneOf(ColumnElement[bool]):
    """A CHECK constraint's `column IN (values)`, written as each database evaluates it fastest."""

    # Its text is its column and values: a cache key of those (two must never share one).
    _traverse_internals = [  # noqa: RUF012 (declared as SQLAlchemy declares it)
        ("column", InternalTraversal.dp_string),
        ("values", InternalTraversal.dp_string_list),
    ]
    inherit_cache = True
    type = sa.Boolean()

    def __init__(self, column: str, values: tuple[str, ...]) -> None:
        self.column = column
        self.values = values


def in_list(column: str, values: tuple[str, ...]) -> str:
    """`column IN ('a', 'b', ...)`: the constraints' text on PostgreSQL (and before 0014)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def or_chain(column: str, values: tuple[str, ...]) -> str:
    """`column = 'a' OR column = 'b' OR ...`: what `in_list` says, on SQLite without a table.

    Why: SQLite evaluates `IN` of three or more constants by building an ephemeral table of
    them (OP_OpenEphemeral: a B-tree and its pager opened, one insert a value, closed) every
    time a CHECK runs, i.e. at every INSERT and every UPDATE of the column: ~4.1 a message
    (outbox INSERT twice, "mark sent", the timer's INSERT), ~30,000 instructions each
    (callgrind: an INSERT into a table of one such CHECK, ~43,000 -> ~10,600);
    bench/instructions.py 2,150,307 -> 2,025,671 a message (-5.8 %). Two values it already
    compares one by one, so those stay `IN`. The same acceptance: NULL gives NULL both
    ways (a CHECK passes it), and `=` compares with the column's affinity and collation as
    `IN` does (tests/store/test_checks.py)."""
    if len(values) < 3:
        return in_list(column, values)
    return " OR ".join(f"{column} = {v!r}" for v in values)


@compiles(OneOf)
def _one_of(element: OneOf, _compiler: Any, **_kw: Any) -> str:
    return in_list(element.column, element.values)


@compiles(OneOf, "sqlite")
def _one_of_sqlite(element: OneOf, _compiler: Any, **_kw: Any) -> str:
    return or_chain(element.column, element.values)


def _in(column: str, values: tuple[str, ...]) -> OneOf:
    return OneOf(column, values)


DIRECTIONS = ("in", "out")
SESSION_STATUSES = ("waiting", "ended")
# An outbox row's meta key: provider ids of messages sent in its stead (WhatsApp's "a message
# waits"), which FSHI deletes at the provider with the rest (MessageRepo.provider_ids).
ALSO_SENT = "also_sent"
OUTBOX_KINDS = ("reply", "alert", "followup", "system", "delete")
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

    if TYPE_CHECKING:
        # Every model maps one plain Table (not a join or a select), so repositories can
        # insert into, update and delete from `Model.__table__`.
        __table__: ClassVar[sa.Table]


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
    # WhatsApp: when she was last sent "a message waits for you" (one a day, whatever worker).
    nudged_at: Mapped[datetime | None]
    # Her code words (issue 16): the one that says it is her, and the one that says "I'm not OK
    # but can't say"; encrypted like every personal datum, never logged, gone at FSHI.
    code_word_enc: Mapped[bytes | None]
    distress_word_enc: Mapped[bytes | None]


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
    # The id of an inbound message inside its chat (Telegram's message_id), so FSHI can delete it
    # from the person's phone; not personal data (a per-chat counter).
    chat_message_id: Mapped[str | None] = mapped_column(sa.String(32))
    # Links an outbound message to the outbox row that sends it, so the provider's id lands here.
    outbox_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    # Set by the retention job (bot/retention.py) when the text was replaced by an empty one.
    purged_at: Mapped[datetime | None]


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
        # Her rows that wait (OutboxRepo.release, at every message she sends): on contact_id
        # alone SQLite's planner took (status, due_at) and read every contact's pending rows.
        sa.Index(None, "contact_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL")
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
        # Her latest case in the index's order (contacts.STANDING, CaseRepo.open_for_contact:
        # ORDER BY created_at DESC, id DESC), no sort of her cases a message (migration 0013).
        sa.Index("ix_cases_contact_id_created_at_id", "contact_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(16), unique=True)
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL")
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
    # Set by the retention job when a closed case lost its link to the person and her words.
    anonymised_at: Mapped[datetime | None]
    # Opened in the simulator (migration 0007): only demo coordinators work it, and it stays
    # out of the admin's case list and the statistics.
    simulated: Mapped[bool] = mapped_column(server_default=sa.false())


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


# -- referral: coordinators, duty, alerts, assignments, audit, services directory ---------------

COORDINATOR_ROLES = ("coordinator", "backup")
COORDINATOR_LANGUAGES = ("sq", "en")
SHIFT_KINDS = ("always", "window", "weekly")
ALERT_KINDS = ("page", "digest", "relay", "notice")
# queued: a digest entry not sent yet; waiting: sent, may be accepted; info: nothing to answer.
ALERT_STATES = ("queued", "waiting", "accepted", "taken", "cancelled", "info")
SERVICE_KINDS = ("shelter", "police", "health", "legal", "psychosocial", "social", "economic")


class CoordinatorRow(Base):
    """A person who takes cases: found by keyed hashes of their URNs, personal fields encrypted."""

    __tablename__ = "coordinators"
    __table_args__ = (
        sa.CheckConstraint(_in("role", COORDINATOR_ROLES), name="role"),
        sa.CheckConstraint(_in("language", COORDINATOR_LANGUAGES), name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name_enc: Mapped[bytes]
    municipality: Mapped[str] = mapped_column(sa.String(64), index=True)  # a slug or "national"
    # Hashes are cleared on removal, so a number can come back with a new coordinator.
    phone_enc: Mapped[bytes | None]
    phone_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    telegram_enc: Mapped[bytes | None]
    telegram_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # Their phone number takes WhatsApp too: alerts may go there (issue 18).
    whatsapp: Mapped[bool] = mapped_column(server_default=sa.false())
    language: Mapped[str] = mapped_column(sa.String(8))
    role: Mapped[str] = mapped_column(sa.String(16))
    # A channel that failed to reach them: avoided until they write to us from it again.
    failing_channel: Mapped[str | None] = mapped_column(sa.String(32))
    active: Mapped[bool] = mapped_column(server_default=sa.true())
    demo: Mapped[bool] = mapped_column(server_default=sa.false())
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class DutyShiftRow(Base):
    """When a coordinator is on duty: always, a UTC window, or weekly local hours."""

    __tablename__ = "duty_shifts"
    __table_args__ = (sa.CheckConstraint(_in("kind", SHIFT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coordinator_id: Mapped[int] = mapped_column(
        sa.ForeignKey("coordinators.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    starts_at: Mapped[datetime | None]  # window
    ends_at: Mapped[datetime | None]  # window
    days: Mapped[str | None] = mapped_column(sa.String(32))  # weekly: "0,1,2,3,4" (Monday = 0)
    start_time: Mapped[str | None] = mapped_column(sa.String(5))  # weekly: local "HH:MM"
    end_time: Mapped[str | None] = mapped_column(sa.String(5))  # weekly: before start = next day
    tz: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]


class AlertRow(Base):
    """One message to a coordinator about a case: a page, a digest entry, a relay, a notice."""

    __tablename__ = "alerts"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", ALERT_KINDS), name="kind"),
        sa.CheckConstraint(_in("state", ALERT_STATES), name="state"),
        sa.Index(None, "coordinator_id", "created_at"),
        sa.Index(None, "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    coordinator_id: Mapped[int] = mapped_column(sa.ForeignKey("coordinators.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    step: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    state: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str | None] = mapped_column(sa.String(32))
    outbox_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    fallback_at: Mapped[datetime | None]  # when it was sent again on the other channel
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class CaseAssignmentRow(Base):
    """Who accepted a case, and whether messages are relayed between them and the person."""

    __tablename__ = "case_assignments"

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    coordinator_id: Mapped[int] = mapped_column(sa.ForeignKey("coordinators.id"), index=True)
    accepted_at: Mapped[datetime]
    relay_until: Mapped[datetime | None]
    # The person used the quick exit: nothing is relayed to them until they write again.
    quiet: Mapped[bool] = mapped_column(server_default=sa.false())


class AuditRow(Base):
    """Who saw or did something sensitive (a survivor's number revealed), and when."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    coordinator_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("coordinators.id", ondelete="SET NULL")
    )
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(64))
    data_enc: Mapped[bytes]
    # Who, when it was done in /admin (migration 0005). No foreign key: admin users are only ever
    # deactivated, and SQLite cannot add a constraint to an existing table in place.
    admin_user_id: Mapped[int | None] = mapped_column(BigId, index=True)


class ServiceRow(Base):
    """A service in the directory (public information, not personal data)."""

    __tablename__ = "services"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", SERVICE_KINDS), name="kind"),
        sa.CheckConstraint(_in("country", COUNTRIES), name="country"),
        sa.Index(None, "municipality", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(sa.String(2))
    municipality: Mapped[str] = mapped_column(sa.String(64))  # a slug or "national"
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str]
    phone: Mapped[str] = mapped_column(sa.String(64))
    hours: Mapped[str | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    serves: Mapped[list[str]] = mapped_column(sa.JSON)  # other municipalities it takes people from
    position: Mapped[int] = mapped_column(sa.Integer)  # order in the imported file


# -- follow-ups: protection orders, check-in plans, integration milestones (bot/followups/) ------

ORDER_STATUSES = ("active", "ended", "replaced", "erased")
PLAN_KINDS = ("order", "integration")
PLAN_STATUSES = ("active", "ended", "stopped", "replaced", "erased")
CHECKIN_STATUSES = ("pending", "leased", "done", "cancelled")
MILESTONE_KINDS = ("housing", "job", "training", "income")
MILESTONE_STATUSES = ("pending", "answered", "cancelled")


class ProtectionOrderRow(Base):
    """A protection order registered on a case (by the survivor in a flow or by a coordinator).

    Dates are personal: erasure clears them and the contact; kind and status stay as figures.
    """

    __tablename__ = "protection_orders"
    __table_args__ = (
        sa.CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        sa.CheckConstraint(_in("country", COUNTRIES), name="country"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    country: Mapped[str] = mapped_column(sa.String(2))
    kind: Mapped[str] = mapped_column(sa.String(32))  # a key of bot/data/orders.yaml
    issued_on: Mapped[date | None] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date)
    end_is_default: Mapped[bool] = mapped_column(server_default=sa.false())
    registered_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("coordinators.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FollowupPlanRow(Base):
    """A follow-up plan of a person: check-ins for an order, or an integration plan's milestones."""

    __tablename__ = "followup_plans"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", PLAN_KINDS), name="kind"),
        sa.CheckConstraint(_in("status", PLAN_STATUSES), name="status"),
        sa.Index(None, "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL")
    )
    case_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("protection_orders.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(sa.String(16))
    # The times of day she chose (morning, afternoon, evening, night, any), in `tz`.
    windows: Mapped[list[str] | None] = mapped_column(sa.JSON)
    tz: Mapped[str] = mapped_column(sa.String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]  # the order's end; None for an integration plan
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class CheckinRow(Base):
    """One check-in: due at `due_at`, claimed like the outbox, tried twice, answered or not."""

    __tablename__ = "checkins"
    __table_args__ = (
        sa.CheckConstraint(_in("status", CHECKIN_STATUSES), name="status"),
        sa.Index(None, "status", "due_at"),
        sa.Index(None, "status", "leased_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        sa.ForeignKey("followup_plans.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    milestone_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    # checkin: ask her; end: the order ends here (no message), the plan closes
    purpose: Mapped[str] = mapped_column(sa.String(16), server_default=sa.text("'checkin'"))
    nominal_at: Mapped[datetime]  # when the plan meant it, before windows and deferrals
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(16))
    tries: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    deferrals: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("0"))
    leased_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    # respected, breached, talk, stop, not_now, no_answer, exit, unreachable (a figure, no words)
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]


class MilestoneRow(Base):
    """A step of an integration plan a coordinator set (housing, job, training, income)."""

    __tablename__ = "milestones"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", MILESTONE_KINDS), name="kind"),
        sa.CheckConstraint(_in("status", MILESTONE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        sa.ForeignKey("followup_plans.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    due_on: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16))
    answer: Mapped[str | None] = mapped_column(sa.String(16))  # done, progress, problem, talk
    set_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("coordinators.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


# -- admin web (bot/web/): users, sign-in sessions, login attempts, overrides, publications ------

ADMIN_ROLES = ("admin", "coordinator")
ADMIN_LANGUAGES = ("sq", "en")


class AdminUserRow(Base):
    """A person who signs in to /admin: an admin, or a coordinator limited to one municipality."""

    __tablename__ = "admin_users"
    __table_args__ = (
        sa.CheckConstraint(_in("role", ADMIN_ROLES), name="role"),
        sa.CheckConstraint(_in("language", ADMIN_LANGUAGES), name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str]
    role: Mapped[str] = mapped_column(sa.String(16))
    municipality: Mapped[str | None] = mapped_column(sa.String(64))  # coordinators: their slug
    language: Mapped[str] = mapped_column(sa.String(8))
    active: Mapped[bool] = mapped_column(server_default=sa.true())
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class AdminSessionRow(Base):
    """A signed-in browser: only a hash of its cookie's token is stored."""

    __tablename__ = "admin_sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginAttemptRow(Base):
    """A failed sign-in, by keyed hash of the user name and of the client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (sa.Index(None, "key_hash", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime]


class TranslationOverrideRow(Base):
    """An admin's text for one message id in one language, layered over the shipped catalog."""

    __tablename__ = "translation_overrides"

    locale: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    msgid: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    text: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("admin_users.id", ondelete="SET NULL")
    )


class FlowPublicationRow(Base):
    """A flow version made current (from the files at start-up, or by an admin); newest wins."""

    __tablename__ = "flow_publications"
    __table_args__ = (sa.Index(None, "name", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[str] = mapped_column(sa.String(12))
    published_at: Mapped[datetime]
    published_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    note: Mapped[str | None]
