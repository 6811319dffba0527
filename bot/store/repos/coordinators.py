"""Coordinators and their duty shifts: personal fields encrypted, found by keyed URN hashes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from bot.store.crypto import Crypto
from bot.store.driver import Prepared
from bot.store.models import (
    COORDINATOR_LANGUAGES,
    COORDINATOR_ROLES,
    SHIFT_KINDS,
    CoordinatorRow,
    DutyShiftRow,
)
from bot.store.records import DEMO_COORDINATOR_URN, Coordinator, DutyShift
from bot.store.repos.base import Repo

coordinators = CoordinatorRow.__table__
shifts = DutyShiftRow.__table__

# Built once and run on the driver (bot/store/driver.py): every message asks whether its
# sender is a coordinator, by the phone's hash (WhatsApp) or the phone's or chat's: the keys
# lookup_keys gives. The same condition rides along the contact's look-up (repos/contacts.py,
# an EXISTS), so that this statement runs for coordinators' messages only.
# Real coordinators only: a demo row's number "could be anybody's" (it is never paged on it),
# and a real person writing from it must reach the helpline, not the desk as a demo coordinator.
# A demo coordinator writes from the simulator's phone, found by id (find_by_urn).
WRITES_FROM = sa.and_(
    coordinators.c.active.is_(True),
    coordinators.c.demo.is_(False),
    sa.or_(
        coordinators.c.phone_hash == sa.bindparam("phone_key", type_=sa.String()),
        coordinators.c.telegram_hash == sa.bindparam("chat_key", type_=sa.String()),
    ),
)
BY_URN = Prepared(sa.select(coordinators).where(WRITES_FROM))


def lookup_keys(crypto: Crypto, urn: str, urn_hash: str | None = None) -> dict[str, str | None]:
    """WRITES_FROM's parameters for an address: the hash a coordinator's phone (phone_key) or
    Telegram chat (chat_key) would have to write from it. `urn_hash`: the address's own hash,
    when the caller has it. None as a key matches nothing (SQL's = NULL).

    On WhatsApp their phone number (`tel:`), whether or not alerts go to them there; the
    simulator's coordinator phone (sim:demo-coordinator-<id>) is found by id, not by hash
    (CoordinatorRepo.find_by_urn): nothing here matches it."""
    if urn.startswith(DEMO_COORDINATOR_URN):
        return {"phone_key": None, "chat_key": None}
    if urn.startswith("whatsapp:"):
        return {
            "phone_key": crypto.lookup_hash("tel:" + urn.removeprefix("whatsapp:")),
            "chat_key": None,
        }
    key = urn_hash if urn_hash is not None else crypto.lookup_hash(urn)
    return {"phone_key": key, "chat_key": key}


def may_write_from(urn: str, matched: bool) -> bool:
    """Whether an active coordinator may write from `urn`, given whether WRITES_FROM matched
    with its lookup_keys: the simulator's coordinator phone is always worth a look by id."""
    return matched or urn.startswith(DEMO_COORDINATOR_URN)


# Who routing may page (id, municipality, role), real or demo: read by every request for a
# coordinator (an urgent message), built once per kind and run on the driver.
ROSTER = {
    demo: Prepared(
        sa.select(coordinators.c.id, coordinators.c.municipality, coordinators.c.role)
        .where(coordinators.c.active.is_(True), coordinators.c.demo.is_(demo))
        .order_by(coordinators.c.id)
    )
    for demo in (False, True)
}


@lru_cache(maxsize=64)
def _by_ids(table: sa.Table, column: str, count: int) -> Prepared:
    """Rows of `table` whose `column` is one of `count` ids (id0, id1...), ordered by id: built
    once per number of coordinators and run on the driver (every urgent case reads shifts and
    coordinators of the roster)."""
    ids: list[Any] = [sa.bindparam(f"id{i}") for i in range(count)]
    return Prepared(sa.select(table).where(table.c[column].in_(ids)).order_by(table.c.id))


class DuplicateContact(ValueError):
    """The phone or Telegram chat already belongs to an active coordinator."""


class CoordinatorRepo(Repo):
    """The coordinators and duty_shifts tables."""

    def _record(self, row: Any) -> Coordinator:
        """A decrypted Coordinator from a row."""
        phone = self.crypto.decrypt(row.phone_enc) if row.phone_enc is not None else None
        chat = self.crypto.decrypt(row.telegram_enc) if row.telegram_enc is not None else None
        return Coordinator(
            id=row.id,
            name=self.crypto.decrypt(row.name_enc),
            municipality=row.municipality,
            phone=phone,
            telegram_chat_id=chat,
            language=row.language,
            role=row.role,
            active=row.active,
            demo=row.demo,
            created_at=row.created_at,
            failing_channel=row.failing_channel,
            whatsapp=bool(row.whatsapp),
        )

    async def add(
        self,
        *,
        name: str,
        municipality: str,
        phone: str | None,
        telegram_chat_id: str | None,
        language: str,
        role: str,
        now: datetime,
        demo: bool = False,
        whatsapp: bool = False,
    ) -> Coordinator:
        """Add a coordinator; phone must be E.164 already. DuplicateContact if taken."""
        if not (phone or telegram_chat_id or demo):
            # A demo coordinator is reached on the simulator's coordinator phone instead.
            raise ValueError("a coordinator needs a phone number or a Telegram chat id")
        if whatsapp and not phone:
            raise ValueError("WhatsApp alerts need the coordinator's phone number")
        if role not in COORDINATOR_ROLES:
            raise ValueError(f"role must be one of {', '.join(COORDINATOR_ROLES)}")
        if language not in COORDINATOR_LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(COORDINATOR_LANGUAGES)}")
        phone_hash = self.crypto.lookup_hash(f"tel:{phone}") if phone else None
        chat_urn = f"telegram:{telegram_chat_id}" if telegram_chat_id else None
        chat_hash = self.crypto.lookup_hash(chat_urn) if chat_urn else None
        for column, value, what in (
            (coordinators.c.phone_hash, phone_hash, "phone number"),
            (coordinators.c.telegram_hash, chat_hash, "Telegram chat"),
        ):
            if value is None:
                continue
            taken = (
                await self.conn.execute(sa.select(coordinators.c.id).where(column == value))
            ).scalar_one_or_none()
            if taken is not None:
                raise DuplicateContact(f"that {what} already belongs to coordinator {taken}")
        stmt = (
            sa.insert(coordinators)
            .values(
                name_enc=self.crypto.encrypt(name),
                municipality=municipality,
                phone_enc=self.crypto.encrypt(phone) if phone else None,
                phone_hash=phone_hash,
                telegram_enc=self.crypto.encrypt(telegram_chat_id) if telegram_chat_id else None,
                telegram_hash=chat_hash,
                whatsapp=whatsapp,
                language=language,
                role=role,
                active=True,
                demo=demo,
                created_at=now,
            )
            .returning(coordinators.c.id)
        )
        new_id = (await self.conn.execute(stmt)).scalar_one()
        found = await self.get(new_id)
        assert found is not None
        return found

    async def get(self, coordinator_id: int) -> Coordinator | None:
        """A coordinator by id (removed ones too: cases name who took them)."""
        row = (
            await self.conn.execute(
                sa.select(coordinators).where(coordinators.c.id == coordinator_id)
            )
        ).first()
        return self._record(row) if row else None

    async def get_many(self, ids: Iterable[int]) -> dict[int, Coordinator]:
        """Coordinators by id."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        params = {f"id{i}": v for i, v in enumerate(wanted)}
        rows = await _by_ids(coordinators, "id", len(wanted)).rows(self.conn, params)
        return {r.id: self._record(r) for r in rows}

    async def find_by_urn(self, urn: str) -> Coordinator | None:
        """The active coordinator who writes from this URN (tel:+355…, whatsapp:+355…,
        telegram:123), if any."""
        if urn.startswith(DEMO_COORDINATOR_URN):
            number = urn.removeprefix(DEMO_COORDINATOR_URN)
            found = await self.get(int(number)) if number.isascii() and number.isdigit() else None
            return found if found is not None and found.demo and found.active else None
        row = await BY_URN.first(self.conn, lookup_keys(self.crypto, urn))
        return self._record(row) if row else None

    async def list_all(
        self, *, municipality: str | None = None, include_removed: bool = False
    ) -> list[Coordinator]:
        """Coordinators ordered by id; active ones unless asked otherwise."""
        stmt = sa.select(coordinators).order_by(coordinators.c.id)
        if not include_removed:
            stmt = stmt.where(coordinators.c.active.is_(True))
        if municipality is not None:
            stmt = stmt.where(coordinators.c.municipality == municipality)
        return [self._record(r) for r in await self.conn.execute(stmt)]

    async def roster(self, *, demo: bool = False) -> list[tuple[int, str, str]]:
        """Active real (or, with `demo`, demo) coordinators as (id, municipality, role).

        Nothing is decrypted (for routing). The two never mix: a simulated case must not page a
        real person, and a real survivor's case must not go to the simulator's demo phone.
        """
        rows = await ROSTER[demo].rows(self.conn)
        return [(r.id, r.municipality, r.role) for r in rows]

    async def remove(self, coordinator_id: int, now: datetime) -> bool:
        """Take a coordinator off the list: no more alerts, contact details forgotten.

        The row stays (inactive, name kept) so case timelines still say who did what.
        """
        result = await self.conn.execute(
            sa.update(coordinators)
            .where(coordinators.c.id == coordinator_id, coordinators.c.active.is_(True))
            .values(
                active=False,
                removed_at=now,
                phone_enc=None,
                phone_hash=None,
                telegram_enc=None,
                telegram_hash=None,
            )
        )
        if result.rowcount:
            await self.conn.execute(
                sa.delete(shifts).where(shifts.c.coordinator_id == coordinator_id)
            )
        return bool(result.rowcount)

    async def set_failing_channel(self, coordinator_id: int, channel: str | None) -> None:
        """Remember that a channel failed to reach them (None: it works again)."""
        await self.conn.execute(
            sa.update(coordinators)
            .where(coordinators.c.id == coordinator_id)
            .values(failing_channel=channel)
        )

    # -- duty shifts ---------------------------------------------------------------------------

    @staticmethod
    def _shift(row: Any) -> DutyShift:
        """A DutyShift from a row."""
        return DutyShift(
            id=row.id,
            coordinator_id=row.coordinator_id,
            kind=row.kind,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            days=tuple(int(d) for d in row.days.split(",")) if row.days else (),
            start_time=row.start_time,
            end_time=row.end_time,
            tz=row.tz,
        )

    async def add_shift(
        self,
        coordinator_id: int,
        *,
        kind: str,
        tz: str,
        now: datetime,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        days: Iterable[int] = (),
        start_time: str | None = None,
        end_time: str | None = None,
    ) -> DutyShift:
        """Put a coordinator on duty; ValueError when the shift is incomplete."""
        if kind not in SHIFT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SHIFT_KINDS)}")
        day_list = sorted(set(days))
        if kind == "window" and not (starts_at and ends_at and starts_at < ends_at):
            raise ValueError("a window needs a start before its end")
        if kind == "weekly" and not (day_list and start_time and end_time):
            raise ValueError("a weekly shift needs days, a start time and an end time")
        if await self.get(coordinator_id) is None:
            raise LookupError(f"coordinator {coordinator_id} does not exist")
        stmt = (
            sa.insert(shifts)
            .values(
                coordinator_id=coordinator_id,
                kind=kind,
                starts_at=starts_at if kind == "window" else None,
                ends_at=ends_at if kind == "window" else None,
                days=",".join(map(str, day_list)) if kind == "weekly" else None,
                start_time=start_time if kind == "weekly" else None,
                end_time=end_time if kind == "weekly" else None,
                tz=tz,
                created_at=now,
            )
            .returning(*shifts.c)
        )
        return self._shift((await self.conn.execute(stmt)).one())

    async def shifts(self, coordinator_ids: Iterable[int] | None = None) -> list[DutyShift]:
        """Duty shifts, of some coordinators or all, ordered by id."""
        if coordinator_ids is None:
            stmt = sa.select(shifts).order_by(shifts.c.id)
            return [self._shift(r) for r in await self.conn.execute(stmt)]
        wanted = sorted(set(coordinator_ids))
        if not wanted:  # none: no statement (an empty IN matches nothing)
            return []
        params = {f"id{i}": v for i, v in enumerate(wanted)}
        rows = await _by_ids(shifts, "coordinator_id", len(wanted)).rows(self.conn, params)
        return [self._shift(r) for r in rows]

    async def remove_shift(self, shift_id: int) -> bool:
        """Delete one duty shift; False when there was none."""
        result = await self.conn.execute(sa.delete(shifts).where(shifts.c.id == shift_id))
        return bool(result.rowcount)
