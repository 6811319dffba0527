"""Contacts: found by a keyed hash of their URN, personal data encrypted, erasable."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.safe_times import TO_HER
from bot.store.crypto import DecryptionError
from bot.store.driver import Prepared, inserting, row_type
from bot.store.models import (
    AlertRow,
    AuditRow,
    CaseEventRow,
    CaseRow,
    ContactRow,
    FireRow,
    MessageRow,
    OutboxRow,
    SessionRow,
)
from bot.store.records import Arrival, Contact, Standing
from bot.store.repos.base import Repo
from bot.store.repos.cases import case_record
from bot.store.repos.coordinators import WRITES_FROM, lookup_keys, may_write_from
from bot.store.repos.followups import erase_followups
from bot.store.repos.outbox import HELD_FOR_HER, held_after
from bot.store.repos.sessions import WAITING, stored_session

log = logging.getLogger(__name__)

contacts = ContactRow.__table__
audit = AuditRow.__table__
messages = MessageRow.__table__
sessions = SessionRow.__table__
outbox = OutboxRow.__table__
cases = CaseRow.__table__
case_events = CaseEventRow.__table__
fires = FireRow.__table__

# Built once and run on the driver (bot/store/driver.py: SQLAlchemy's execute was 43 % of a
# message's CPU): every message touches its contact and looks it up by the hash of its URN.
# UPDATE of the columns named in the parameters (compiled once per set of names): her
# last-seen time on every message, her language and fields when a conversation sets them.
UPDATE_BY_ID = Prepared(sa.update(contacts).where(contacts.c.id == sa.bindparam("of_id")))
TOUCH = UPDATE_BY_ID
# A contact by id (timers, follow-ups, a case's page); locked as get_or_create locks it.
BY_ID = Prepared(
    sa.select(contacts).where(
        contacts.c.id == sa.bindparam("of_id"), contacts.c.erased_at.is_(None)
    )
)
LOCKED_BY_ID = Prepared(
    sa.select(contacts)
    .where(contacts.c.id == sa.bindparam("of_id"), contacts.c.erased_at.is_(None))
    .with_for_update(key_share=True)
)
# With whether an active coordinator writes from her address (coordinators.WRITES_FROM, an
# EXISTS on its unique hashes): the statement that asked it (CoordinatorRepo.find_by_urn)
# then runs for coordinators' messages only. Only her row is locked (OF contacts). On
# PostgreSQL a look that waited for her lock answers from the snapshot it began with: a
# coordinator added while it waited is one from their next message (the separate look came
# one statement later, no surer of it).
LOCKED_BY_HASH = Prepared(
    sa.select(contacts, sa.exists().where(WRITES_FROM).label("coordinator"))
    .where(contacts.c.urn_hash == sa.bindparam("of_hash"))
    .with_for_update(key_share=True, of=contacts)
)
# A known person's message, in one statement (issue 19: it was LOCKED_BY_HASH and, at the end of
# her message, TOUCH): her row locked as LOCKED_BY_HASH locks it (an UPDATE takes PostgreSQL's
# FOR NO KEY UPDATE, the lock that statement asked for), her last_seen_at set to `seen_at`, and
# whether a coordinator writes from her address. Her stamp is left as it was (the caller
# touches her later, as before) when a coordinator writes from the address, whose messages
# read their own last_seen_at before it changes (referral's WhatsApp window), or when the
# message repeats one stored already (a provider's retry changes nothing). Rare-path
# differences, data only: on PostgreSQL a retry that waited for her lock while its original
# was processed by another worker does not see the original's row (a statement that waited
# for a lock reads other rows as of its start), so her last_seen_at becomes the retry's
# arrival instead of the original's, moments apart; and a row that no key decrypts, set aside
# (ContactRepo._set_aside), keeps this message's time instead of its last one. Her Contact then
# holds `now` as last_seen_at, not her previous message's time: nothing on a message's path
# reads it (pipeline.last_heard and referral's window read it in units of their own or of a
# coordinator's row, never stamped here).
_COORDINATOR = sa.exists().where(WRITES_FROM)
_REPEAT = sa.exists().where(
    messages.c.channel == sa.bindparam("of_channel", type_=sa.String()),
    messages.c.direction == "in",
    messages.c.external_id == sa.bindparam("of_external_id", type_=sa.String()),
)
SEEN_BY_HASH = Prepared(
    sa.update(contacts)
    .where(contacts.c.urn_hash == sa.bindparam("of_hash"))
    .values(
        last_seen_at=sa.case(
            (sa.or_(_COORDINATOR, _REPEAT), contacts.c.last_seen_at),
            else_=sa.bindparam("seen_at", type_=contacts.c.last_seen_at.type),
        )
    )
    .returning(*contacts.c, _COORDINATOR.label("coordinator"))
)
# What a known person's message finds, in one statement: her waiting session (at most one:
# uq_sessions_contact_id_waiting), her latest open case, and whether replies wait for her to
# write (outbox.HELD_FOR_HER): the session's columns, the case's (named case_...), held.
# Never folded into LOCKED_BY_HASH: on PostgreSQL (READ COMMITTED) a statement that waited
# for her row's lock sees her row's new version but every other row as of its start, so the
# session another worker committed with her previous message would be read as it was before
# it (a turn answered twice, or a step lost). Run after the lock, as a statement of its own,
# it sees what that worker committed.
_open_case = cases.alias("open_case")
_LATEST_OPEN = (
    sa.select(_open_case.c.id)
    .where(_open_case.c.contact_id == contacts.c.id, _open_case.c.status != "closed")
    .order_by(_open_case.c.created_at.desc(), _open_case.c.id.desc())
    .limit(1)
    .correlate(contacts)
    .scalar_subquery()
)
STANDING = Prepared(
    sa.select(
        *sessions.c,
        *(c.label(f"case_{c.key}") for c in cases.c),  # unique names (ids, statuses, times)
        sa.exists().where(HELD_FOR_HER).label("held"),
    )
    .select_from(
        contacts.outerjoin(
            sessions,
            sa.and_(sessions.c.contact_id == contacts.c.id, sessions.c.status == WAITING),
        ).outerjoin(cases, cases.c.id == _LATEST_OPEN)
    )
    .where(contacts.c.id == sa.bindparam("of_contact"))
)
_SESSION_ROW = row_type([c.key for c in sessions.c])
_CASE_ROW = row_type([c.key for c in cases.c])
_N_SESSION = len(sessions.c)
_N_CASE = len(cases.c)
# A new contact, nothing done when another transaction created it first.
CREATE = {
    name: inserting(insert(contacts).on_conflict_do_nothing(index_elements=["urn_hash"]))
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}

# Case events FSHI keeps whole: what the case needs for her safety (the coordinator's notes,
# the order registered); her own words, relays and everything else lose their data.
KEPT_FOR_HER_SAFETY = frozenset({"note", "order_registered"})
# Case events whose data are figures, never words a person wrote; erasure keeps them so the
# anonymised statistics survive. Every other kind (notes, relayed messages) loses its data.
ANONYMOUS_EVENT_KINDS = frozenset(
    {
        "opened",
        "updated",
        "consent",
        "urgency_raised",
        "risk_assessed",
        "referral_requested",
        "followup_requested",
        "status_changed",
        "closed",
        # Referral steps hold only ids and figures; "note" holds words and is not here.
        "alerted",
        "accepted",
        "referred",
        "escalation_exhausted",
        "digest_queued",
        "digest_sent",
        "alert_fallback",
        "relayed",
        "number_revealed",
        "person_left",
        "no_coordinator",
    }
)


class ContactRepo(Repo):
    """The contacts table."""

    def _record(self, row: Any) -> Contact:
        return Contact(
            id=row.id,
            urn=self.crypto.decrypt(row.urn_enc) if row.urn_enc is not None else "",
            channel=row.channel,
            language=row.language,
            fields=self.crypto.decrypt_json(row.fields_enc) if row.fields_enc is not None else {},
            opted_out=row.opted_out,
            unreachable=row.unreachable,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            urn_enc=bytes(row.urn_enc) if row.urn_enc is not None else None,
        )

    async def key_samples(self) -> list[bytes]:
        """The oldest and newest stored addresses, encrypted: /healthz tries the keys on them."""
        found = []
        for order in (contacts.c.id.asc(), contacts.c.id.desc()):
            token = (
                await self.conn.execute(
                    sa.select(contacts.c.urn_enc)
                    .where(contacts.c.urn_enc.is_not(None))
                    .order_by(order)
                    .limit(1)
                )
            ).scalar_one_or_none()
            if token is not None:
                found.append(bytes(token))
        return found

    async def claim_nudge(self, urn: str, now: datetime, since: datetime) -> bool:
        """Take the one announcement a day for this address: True when none was sent since
        `since` (and `now` is recorded, in the same statement: two workers never both get it)."""
        claimed = await self.conn.execute(
            sa.update(contacts)
            .where(contacts.c.urn_hash == self.crypto.lookup_hash(urn))
            .where(sa.or_(contacts.c.nudged_at.is_(None), contacts.c.nudged_at < since))
            .values(nudged_at=now)
            .returning(contacts.c.id)
        )
        return claimed.first() is not None

    async def release_nudge(self, urn: str, now: datetime) -> None:
        """The announcement claimed at `now` did not go: the next message may try again."""
        await self.conn.execute(
            sa.update(contacts)
            .where(contacts.c.urn_hash == self.crypto.lookup_hash(urn))
            .where(contacts.c.nudged_at == now)
            .values(nudged_at=None)
        )

    async def find_by_urn(self, urn: str) -> Contact | None:
        """The contact with this URN, if any (and readable: see get_or_create)."""
        row = (
            await self.conn.execute(
                sa.select(contacts).where(contacts.c.urn_hash == self.crypto.lookup_hash(urn))
            )
        ).first()
        if row is None:
            return None
        try:
            return self._record(row)
        except DecryptionError:
            log.error("contact %s: stored data cannot be decrypted", row.id)
            return None

    async def get_or_create(self, urn: str, channel: str, now: datetime) -> tuple[Contact, bool]:
        """The contact with this URN, created if new; True when created. Race-safe.

        On PostgreSQL the row stays locked until the transaction ends, so one contact's
        messages are processed one after the other even across workers.
        """
        arrival = await self.arrive(urn, channel, now)
        return arrival.contact, arrival.created

    async def arrive(
        self,
        urn: str,
        channel: str,
        now: datetime,
        *,
        stamp: bool = False,
        external_id: str | None = None,
    ) -> Arrival:
        """get_or_create, and whether an active coordinator may write from the address (in
        the same statement: see LOCKED_BY_HASH). `stamp`: her message (the provider's
        `external_id`) arrives at `now`: a known person's last_seen_at is set by the same
        statement (SEEN_BY_HASH; Arrival.seen_now), unless the message is a repeat or a
        coordinator may write from the address."""
        urn_hash = self.crypto.lookup_hash(urn)
        by_hash: dict[str, Any] = {"of_hash": urn_hash, **lookup_keys(self.crypto, urn, urn_hash)}
        # Most messages come from people we know: one statement, nothing to encrypt. The
        # simulator's coordinator phone (found by id, not by WRITES_FROM) is never stamped.
        if stamp and not may_write_from(urn, False):
            seen = {"seen_at": now, "of_channel": channel, "of_external_id": external_id}
            known = await SEEN_BY_HASH.first(self.conn, by_hash | seen)
        else:
            known = await LOCKED_BY_HASH.first(self.conn, by_hash)
        if known is not None:
            try:
                contact = self._record(known)
                coordinator = may_write_from(urn, known.coordinator)
                # Stamped, or `now` already (a touch would write the same value): no flag of
                # its own in RETURNING, which would evaluate both EXISTS again.
                seen_now = stamp and contact.last_seen_at == now
                return Arrival(contact, False, coordinator, seen_now)
            except DecryptionError:
                # Her data is under a key we no longer have: answer her as someone new
                # rather than fail every message she sends; the old row is set aside.
                await self._set_aside(known.id, now)
        values = {
            "urn_hash": urn_hash,
            "urn_enc": self.crypto.encrypt(urn),
            "channel": channel,
            "fields_enc": self.crypto.encrypt_json({}),
            "opted_out": False,
            "unreachable": False,
            "created_at": now,
            "last_seen_at": now,
        }
        created = await CREATE[self.dialect].scalar(self.conn, values) is not None
        row = await LOCKED_BY_HASH.first(self.conn, by_hash)
        if row is None:  # as Result.one() would
            raise sa.exc.NoResultFound("the contact just created is not there")
        record = self._record(row)
        return Arrival(record, created, may_write_from(urn, row.coordinator), created)

    async def standing(self, contact_id: int, now: datetime) -> Standing:
        """What her message written at `now` finds, in one statement (STANDING): her waiting
        session (as SessionRepo.get_active), her open case (as CaseRepo.open_for_contact),
        whether replies wait for her (what OutboxRepo.release would move). After her lock."""
        params = {"of_contact": contact_id, "held_after": held_after(now)}
        row = await STANDING.first(self.conn, params)
        if row is None:
            return Standing(None, None, False)
        session = row[:_N_SESSION]
        case = row[_N_SESSION : _N_SESSION + _N_CASE]
        return Standing(
            stored_session(self.crypto, _SESSION_ROW(session)) if session[0] is not None else None,
            case_record(_CASE_ROW(case)) if case[0] is not None else None,
            bool(row.held),
        )

    async def _set_aside(self, contact_id: int, now: datetime) -> None:
        """A contact whose data no key decrypts: unlinked from its address, flagged for admins.

        The address's hash moves to a random one (as erasure does), so the next message makes a
        new contact; the audit log and /healthz ("keys": "mismatch") tell the admins.
        """
        log.error(
            "contact %s: stored data cannot be decrypted; answered as a new contact", contact_id
        )
        await self._update(contact_id, urn_hash="undecryptable:" + secrets.token_hex(24))
        await self.conn.execute(
            sa.insert(audit).values(
                at=now,
                action="contact_undecryptable",
                data_enc=self.crypto.encrypt_json({"contact_id": contact_id}),
            )
        )

    async def get(self, contact_id: int, *, lock: bool = False) -> Contact | None:
        """A contact by id; None if unknown or erased. `lock`: on PostgreSQL the row stays
        locked until the transaction ends, as get_or_create does (one contact, one at a time,
        across workers)."""
        row = await (LOCKED_BY_ID if lock else BY_ID).first(self.conn, {"of_id": contact_id})
        if row is None:
            return None
        try:
            return self._record(row)
        except DecryptionError:  # no key reads it: as good as gone for whoever asks
            log.error("contact %s: stored data cannot be decrypted", contact_id)
            return None

    async def set_language(self, contact_id: int, lang: str | None) -> None:
        """Remember the language the person chose."""
        await self._update(contact_id, language=lang)

    async def set_fields(self, contact_id: int, fields: dict[str, Any]) -> None:
        """Replace the contact's fields."""
        await self._update(contact_id, fields_enc=self.crypto.encrypt_json(dict(fields)))

    async def set_code_words(self, contact_id: int, word: str | None, distress: str | None) -> None:
        """Her code words (already normalised); None clears one."""
        await self._update(
            contact_id,
            code_word_enc=self.crypto.encrypt(word) if word else None,
            distress_word_enc=self.crypto.encrypt(distress) if distress else None,
        )

    async def code_words(self, contact_id: int) -> tuple[str | None, str | None]:
        """(her code word, her distress word), each None when she chose none."""
        row = (
            await self.conn.execute(
                sa.select(contacts.c.code_word_enc, contacts.c.distress_word_enc).where(
                    contacts.c.id == contact_id
                )
            )
        ).first()
        if row is None:
            return None, None
        return (
            self.crypto.decrypt(row.code_word_enc) if row.code_word_enc else None,
            self.crypto.decrypt(row.distress_word_enc) if row.distress_word_enc else None,
        )

    async def set_flags(
        self, contact_id: int, *, opted_out: bool | None = None, unreachable: bool | None = None
    ) -> None:
        """Set the opted-out and unreachable flags; None leaves a flag as it is."""
        values = {
            k: v
            for k, v in (("opted_out", opted_out), ("unreachable", unreachable))
            if v is not None
        }
        if values:
            await self._update(contact_id, **values)

    async def touch(self, contact_id: int, now: datetime) -> None:
        """Record that the person wrote at `now`."""
        await TOUCH.execute(self.conn, {"of_id": contact_id, "last_seen_at": now})

    async def _update(self, contact_id: int, **values: Any) -> None:
        await UPDATE_BY_ID.execute(self.conn, {"of_id": contact_id, **values})

    async def erase(self, contact_id: int, now: datetime) -> None:
        """Erase everything about the person; cases keep anonymised figures only."""
        ex = self.conn.execute
        await ex(sa.delete(fires).where(fires.c.contact_id == contact_id))
        # Follow-ups: her plans end, check-ins are cancelled, dates and windows go.
        await erase_followups(self.conn, contact_id, now)
        await ex(sa.delete(sessions).where(sessions.c.contact_id == contact_id))
        await ex(sa.delete(messages).where(messages.c.contact_id == contact_id))
        # Rows still to send stay (the erasure confirmation among them); the sender drops
        # them once they are sent or given up on.
        await ex(
            sa.delete(outbox).where(
                outbox.c.contact_id == contact_id, outbox.c.status.not_in(("pending", "leased"))
            )
        )
        # Safe times: what waited for her window or for her to write again never goes now.
        await ex(
            sa.delete(outbox).where(
                outbox.c.contact_id == contact_id,
                outbox.c.status == "pending",
                outbox.c.kind.in_(TO_HER),
                outbox.c.due_at > now,
            )
        )
        case_ids = sa.select(cases.c.id).where(cases.c.contact_id == contact_id)
        # What went to coordinators about her cases (relayed words among it), once sent.
        alerts = AlertRow.__table__
        await ex(
            sa.delete(outbox).where(
                outbox.c.id.in_(
                    sa.select(alerts.c.outbox_id).where(
                        alerts.c.case_id.in_(case_ids), alerts.c.outbox_id.is_not(None)
                    )
                ),
                outbox.c.status.not_in(("pending", "leased")),
            )
        )
        await ex(
            sa.update(case_events)
            .where(
                case_events.c.case_id.in_(case_ids),
                case_events.c.kind.not_in(ANONYMOUS_EVENT_KINDS | KEPT_FOR_HER_SAFETY),
            )
            .values(data_enc=self.crypto.encrypt_json({}))
        )
        await ex(sa.update(cases).where(cases.c.contact_id == contact_id).values(contact_id=None))
        await ex(
            sa.update(contacts)
            .where(contacts.c.id == contact_id)
            .values(
                # A random hash: the next message from this URN makes a new contact.
                urn_hash="erased:" + secrets.token_hex(28),
                urn_enc=None,
                name_enc=None,
                fields_enc=None,
                code_word_enc=None,
                distress_word_enc=None,
                language=None,
                erased_at=now,
            )
        )
