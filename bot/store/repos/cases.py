"""Cases and their events: short unique references, figures in columns, event data encrypted."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.driver import Prepared, inserting
from bot.store.models import (
    CASE_STATUSES,
    REPORTERS,
    RISK_LEVELS,
    URGENCIES,
    CaseEventRow,
    CaseRow,
    ContactRow,
)
from bot.store.records import Case, CaseEvent
from bot.store.repos.base import Repo

cases = CaseRow.__table__
# Built once (every message looks for its contact's open case), run on the driver
# (bot/store/driver.py).
OPEN_OF_CONTACT = Prepared(
    sa.select(cases)
    .where(cases.c.contact_id == sa.bindparam("of_contact"), cases.c.status != "closed")
    .order_by(cases.c.created_at.desc(), cases.c.id.desc())
    .limit(1)
)
case_events = CaseEventRow.__table__
contacts = ContactRow.__table__
# The statements of a case's opening and of what a conversation adds to it, built once and run
# on the driver too: through SQLAlchemy's execute each cost ~0.1 ms of CPU, and a case opened
# by a message ran 15 of them (bench/hot_path.py, cProfile).
CHANNEL_OF_CONTACT = Prepared(
    sa.select(contacts.c.channel).where(contacts.c.id == sa.bindparam("of_contact"))
)
OPEN_CASE = {
    name: Prepared(
        insert(cases).on_conflict_do_nothing(index_elements=["reference"]).returning(*cases.c)
    )
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
CASE_BY_ID = Prepared(sa.select(cases).where(cases.c.id == sa.bindparam("of_id")))
# UPDATE of the columns named in the parameters (compiled once per set of names), the row after.
UPDATE_CASE = Prepared(
    sa.update(cases).where(cases.c.id == sa.bindparam("of_id")).returning(*cases.c)
)
CONSENT_OF_CASE = Prepared(
    sa.select(cases.c.consent).where(cases.c.id == sa.bindparam("of_id")).with_for_update()
)
ADD_EVENT = inserting(sa.insert(case_events))

# Security: a reference is a capability a coordinator types, so it must not be guessable.
# Crockford's base 32 (no I, L, O, U: nothing to misread on a phone), 8 characters: 32**8, about
# 10**12; with failed look-ups limited per coordinator (bot/referral/desk.py) nobody finds one.
# Old cases keep their 4-digit references; those still resolve.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 8
TRIES_PER_WIDTH = 3  # after this many collisions at one width, use one more character
MAX_LENGTH = 12
# What a coordinator may type for a character the alphabet leaves out (Crockford's reading).
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})

# Columns update() may change, and the values an enumerated one accepts (None: any).
UPDATABLE: dict[str, tuple[Any, ...] | None] = {
    "municipality": None,
    "urgency": URGENCIES,
    "risk_level": (*RISK_LEVELS, None),
    "risk_score": None,
    "flags": None,
    "reporter": (*REPORTERS, None),
    "category": None,
    "status": CASE_STATUSES,
    "closed_at": None,
}


def case_record(row: Any) -> Case:
    """A case from its row (all of the table's columns, by name)."""
    return Case(
        id=row.id,
        reference=row.reference,
        contact_id=row.contact_id,
        municipality=row.municipality,
        urgency=row.urgency,
        risk_level=row.risk_level,
        risk_score=row.risk_score,
        flags=tuple(row.flags or ()),
        reporter=row.reporter,
        category=row.category,
        status=row.status,
        consent=dict(row.consent or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        simulated=bool(row.simulated),
    )


class CaseRepo(Repo):
    """The cases and case_events tables."""

    # Injectable so tests can force collisions; secrets because references must not be guessable.
    randbelow: ClassVar[Callable[[int], int]] = staticmethod(secrets.randbelow)

    def _record(self, row: Any) -> Case:
        return case_record(row)

    def new_reference(self, prefix: str, length: int) -> str:
        """A random reference like R-7KX9M2PQ."""
        pick = type(self).randbelow
        rest = "".join(REFERENCE_ALPHABET[pick(len(REFERENCE_ALPHABET))] for _ in range(length))
        return f"{prefix}-{rest}"

    async def open(self, contact_id: int | None, now: datetime, prefix: str = "R") -> Case:
        """Open a case with a fresh reference like R-7KX9M2PQ and record an 'opened' event.

        A case of a person writing from the simulator is marked simulated, whoever opens it.
        """
        simulated = False
        if contact_id is not None:
            channel = await CHANNEL_OF_CONTACT.scalar(self.conn, {"of_contact": contact_id})
            simulated = channel == "simulator"
        length, tries = REFERENCE_LENGTH, 0
        while True:
            reference = self.new_reference(prefix, length)
            values: dict[str, Any] = {
                "reference": reference,
                "contact_id": contact_id,
                "urgency": "normal",
                "flags": [],
                "status": "new",
                "consent": {},
                "created_at": now,
                "updated_at": now,
                "simulated": simulated,
            }
            # The row as inserted: what reading it back by id gave (one statement less).
            row = await OPEN_CASE[self.dialect].first(self.conn, values)
            if row is not None:
                break
            tries += 1
            if tries % TRIES_PER_WIDTH == 0:
                if length >= MAX_LENGTH:
                    raise RuntimeError("no free case reference found")
                length += 1
        await self.add_event(row.id, "opened", {"reference": reference}, now)
        return self._record(row)

    async def get(self, case_id: int) -> Case | None:
        """A case by id."""
        row = await CASE_BY_ID.first(self.conn, {"of_id": case_id})
        return self._record(row) if row else None

    async def get_by_reference(self, ref: str) -> Case | None:
        """A case by its reference (case-insensitive, O read as 0 and I, L as 1)."""
        row = (
            await self.conn.execute(
                sa.select(cases).where(cases.c.reference == canonical_reference(ref))
            )
        ).first()
        return self._record(row) if row else None

    async def open_for_contact(self, contact_id: int) -> Case | None:
        """The contact's latest case that is not closed."""
        row = await OPEN_OF_CONTACT.first(self.conn, {"of_contact": contact_id})
        return self._record(row) if row else None

    async def update(self, case_id: int, now: datetime, **fields: Any) -> Case:
        """Change known columns; ValueError for an unknown column or a value out of range."""
        unknown = sorted(set(fields) - set(UPDATABLE))
        if unknown:
            raise ValueError(f"cases cannot update {', '.join(unknown)}")
        for name, value in fields.items():
            allowed = UPDATABLE[name]
            if allowed is not None and value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}")
        if "flags" in fields:
            fields["flags"] = list(dict.fromkeys(str(f) for f in fields["flags"] or ()))
        if fields.get("status") == "closed" and "closed_at" not in fields:
            fields["closed_at"] = now
        # The row as updated: what reading it back by id gave (one statement less).
        row = await UPDATE_CASE.first(self.conn, {"of_id": case_id, "updated_at": now, **fields})
        if row is None:
            raise LookupError(f"case {case_id} does not exist")
        return self._record(row)

    async def set_consent(self, case_id: int, service: str, given: bool, now: datetime) -> None:
        """Record the person's yes or no to being referred to one kind of service."""
        rows = await CONSENT_OF_CASE.rows(self.conn, {"of_id": case_id})
        current = rows[0][0] if rows else None
        if current is None:
            raise LookupError(f"case {case_id} does not exist")
        consent = {**current, service: bool(given)}
        await UPDATE_CASE.execute(
            self.conn, {"of_id": case_id, "consent": consent, "updated_at": now}
        )

    async def add_event(self, case_id: int, kind: str, data: dict[str, Any], now: datetime) -> int:
        """Record something that happened to a case; returns the event id."""
        values = {"case_id": case_id, "at": now, "kind": kind}
        event_id: int = await ADD_EVENT.scalar_one(
            self.conn, values | {"data_enc": self.crypto.encrypt_json(data)}
        )
        return event_id

    async def events(self, case_id: int) -> list[CaseEvent]:
        """A case's events, oldest first."""
        rows = (
            await self.conn.execute(
                sa.select(case_events)
                .where(case_events.c.case_id == case_id)
                .order_by(case_events.c.at, case_events.c.id)
            )
        ).all()
        return [
            CaseEvent(
                id=r.id,
                case_id=r.case_id,
                at=r.at,
                kind=r.kind,
                data=self.crypto.decrypt_json(r.data_enc),
            )
            for r in rows
        ]

    # -- the admin's case list (real cases only: the simulator's are nobody's work) ---------------

    async def find(
        self,
        *,
        municipality: str | None = None,
        status: str | None = None,
        urgency: str | None = None,
        risk_level: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        reference: str | None = None,
        limit: int = 200,
    ) -> list[Case]:
        """Cases, newest first, matching every filter given (municipality enforces a scope)."""
        stmt = (
            sa.select(cases)
            .where(cases.c.simulated.is_(False))
            .order_by(cases.c.created_at.desc(), cases.c.id.desc())
            .limit(limit)
        )
        if municipality is not None:
            stmt = stmt.where(cases.c.municipality == municipality)
        if status:
            stmt = stmt.where(cases.c.status == status)
        if urgency:
            stmt = stmt.where(cases.c.urgency == urgency)
        if risk_level:
            stmt = stmt.where(cases.c.risk_level == risk_level)
        if since is not None:
            stmt = stmt.where(cases.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(cases.c.created_at < until)
        if reference:
            stmt = stmt.where(cases.c.reference.like(f"%{reference.strip().upper()}%"))
        return [self._record(r) for r in await self.conn.execute(stmt)]

    async def in_scope(self, case_id: int, municipality: str | None) -> Case | None:
        """A real case by id, only if it lies in the municipality (None: any)."""
        stmt = sa.select(cases).where(cases.c.id == case_id, cases.c.simulated.is_(False))
        if municipality is not None:
            stmt = stmt.where(cases.c.municipality == municipality)
        row = (await self.conn.execute(stmt)).first()
        return self._record(row) if row else None

    async def references(self, case_ids: Iterable[int]) -> dict[int, str]:
        """Case id -> reference, for the ids given (the audit log names cases by reference)."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        rows = await self.conn.execute(
            sa.select(cases.c.id, cases.c.reference).where(cases.c.id.in_(ids))
        )
        return {r.id: r.reference for r in rows}


def canonical_reference(ref: str) -> str:
    """A reference as stored: upper case; after the letter and '-', O is 0 and I, L are 1."""
    ref = ref.strip().upper()
    head, dash, rest = ref.partition("-")
    return f"{head}{dash}{rest.translate(_MISREAD)}" if dash else ref
