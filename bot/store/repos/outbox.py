"""The transactional outbox: rows written with the change that caused them, sent after commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.safe_times import HELD, TO_HER
from bot.store.driver import Prepared, inserting
from bot.store.models import ALSO_SENT, OUTBOX_KINDS, ContactRow, MessageRow, OutboxRow
from bot.store.records import Handoff, OutboxItem
from bot.store.repos.base import Repo

outbox = OutboxRow.__table__
messages = MessageRow.__table__
contacts = ContactRow.__table__
ERROR_MAX = 255

# The sender's statements for every message, built once: building one (clauses, coercion,
# its cache key) cost about as much CPU as running it. Those every message runs go on the
# driver (bot/store/driver.py: SQLAlchemy's execute was 43 % of a message's CPU).
_other = messages.alias("other")
_SID_CLASH = sa.exists().where(
    _other.c.channel == sa.bindparam("of_channel"),
    _other.c.direction == "out",
    _other.c.external_id == sa.bindparam("sid"),
    sa.or_(_other.c.outbox_id.is_(None), _other.c.outbox_id != sa.bindparam("oid")),
)
# Ids some providers give are unique per chat only: never fail a send over a clash, the
# older message just keeps the id.
_MARK_MESSAGE = {
    True: sa.update(messages)
    .where(messages.c.outbox_id == sa.bindparam("oid"))
    .values(
        status="sent",
        segments=sa.bindparam("n_segments"),
        external_id=sa.case((_SID_CLASH, None), else_=sa.bindparam("sid")),
    ),
    False: sa.update(messages)
    .where(messages.c.outbox_id == sa.bindparam("oid"))
    .values(status="sent", segments=sa.bindparam("n_segments"), external_id=None),
}
MARK_MESSAGE_SENT = Prepared(_MARK_MESSAGE[True])
MARK_MESSAGE_SENT_NO_ID = Prepared(_MARK_MESSAGE[False])
# Whether the row's person asked to be erased, in the same statement as the mark: a look
# fewer for every message sent (nearly always no).
_ERASED = (
    sa.select(contacts.c.erased_at.is_not(None))
    .where(contacts.c.id == outbox.c.contact_id)
    .correlate(outbox)
    .scalar_subquery()
)
_MARK = (
    sa.update(outbox)
    .where(outbox.c.id == sa.bindparam("oid"))
    .values(
        status="sent",
        leased_until=None,
        lease_owner=None,
        sent_at=sa.bindparam("at"),
        external_id=sa.bindparam("sid"),
        segments=sa.bindparam("n_segments"),
    )
)
_MARK_SENT = _MARK.returning(_ERASED.label("erased"))
MARK_SENT = Prepared(_MARK_SENT)
# The same mark for a row whose person did not ask to be erased, telling by its row count
# alone (OutboxRepo.mark_sent): SQLite collects what a statement returns in a temporary B-tree
# opened and closed at every run (see driver.inserting), ~24,000 instructions of a message.
# Nothing changes when her contact is erased (or the row is gone): MARK_SENT runs then.
MARK_SENT_KEPT = Prepared(
    _MARK.where(
        ~sa.exists().where(contacts.c.id == outbox.c.contact_id, contacts.c.erased_at.is_not(None))
    )
)
# PostgreSQL: the message's mark in the same statement as the row's, a WITH that updates (run
# to completion whether or not its output is read, with the statement's snapshot): a round trip
# fewer for every message sent. By whether the provider gave an id. SQLite has no UPDATE in
# WITH; its two statements cost no round trip.
MARK_SENT_WITH_MESSAGE = {
    with_id: Prepared(_MARK_SENT.add_cte(mark.cte("marked_message")))
    for with_id, mark in _MARK_MESSAGE.items()
}
INSERT_OUTBOX = inserting(sa.insert(outbox))
# What the sender reads of a row it claims (OutboxRepo._record): not the lease's own columns,
# nor what only a sent or failed row holds.
CLAIMED = (
    *("contact_id", "channel", "urn_enc", "payload_enc"),
    *("kind", "attempts", "meta", "created_at"),
)
# The queue gauge's one figure (the sender measures it once a second): one look along the
# (status, due_at) index, where OutboxRepo.stats also counts every row by status.
OLDEST_DUE = Prepared(
    sa.select(sa.func.min(outbox.c.due_at)).where(
        outbox.c.status == "pending",
        outbox.c.due_at <= sa.bindparam("now", type_=outbox.c.due_at.type),
    )
)
ERASED_OF_ROW = (
    sa.select(contacts.c.erased_at)
    .join(outbox, outbox.c.contact_id == contacts.c.id)
    .where(outbox.c.id == sa.bindparam("oid"))
)


# The longest the per-sender limit holds a reply back (bot/web/limits.py ReplyLimiter).
REPLY_HOLD_MAX = timedelta(seconds=60)
# What waits for her to write (her window, or her writing): OutboxRepo.release moves it when
# she writes; the look at her standing (repos/contacts.py) asks first whether there is any,
# with the same condition, so that the UPDATE runs only then (parameters: of_contact and
# held_after, see release()).
HELD_FOR_HER = sa.and_(
    outbox.c.contact_id == sa.bindparam("of_contact"),
    outbox.c.status == "pending",
    outbox.c.kind.in_(TO_HER),
    outbox.c.due_at > sa.bindparam("held_after"),
)


def held_after(now: datetime) -> datetime:
    """HELD_FOR_HER's held_after when she writes at `now`: what is due later than a reply the
    per-sender limit holds back can be."""
    return now + REPLY_HOLD_MAX


# Built once: every message she sends releases what waited for her (OutboxRepo.release).
RELEASE = Prepared(sa.update(outbox).where(HELD_FOR_HER).values(due_at=sa.bindparam("now")))


class OutboxRepo(Repo):
    """The outbox table."""

    # Rows this repository's connection queued or made due for a claim (add() without a
    # handoff, release()), ever: a unit of work that reads it before and after knows whether
    # the sender must claim (bot/pipeline.py), or has all it queued in hand.
    queued = 0

    def _record(self, row: Any) -> OutboxItem:
        payload = self.crypto.decrypt_json(row.payload_enc)
        # Her address travels in the payload too (OutboxRepo.add): one decryption a row, not
        # two. A row queued before it was there has it in urn_enc only.
        urn = payload.get("urn")
        return OutboxItem(
            id=row.id,
            contact_id=row.contact_id,
            channel=row.channel,
            urn=urn if isinstance(urn, str) else self.crypto.decrypt(row.urn_enc),
            text=payload["text"],
            buttons=list(payload.get("buttons") or []),
            kind=row.kind,
            attempts=row.attempts,
            meta=dict(row.meta or {}),
            created_at=row.created_at,
        )

    async def add(
        self,
        *,
        contact_id: int | None,
        channel: str,
        urn: str,
        text: str,
        buttons: Sequence[dict[str, Any]] = (),
        kind: str = "reply",
        due_at: datetime,
        now: datetime,
        meta: dict[str, Any] | None = None,
        urn_enc: bytes | None = None,
        handoff: Handoff | None = None,
    ) -> int:
        """Queue a message; returns the outbox id. `urn_enc`: a stored token of `urn` (her
        contact's, which a configured key just decrypted), copied instead of encrypting again.
        `handoff`: a row due by `now` is written leased to its sender and added to its items,
        for the sender to take once committed (no claim); any other row waits, pending, for
        a claim and counts in `queued`."""
        if kind not in OUTBOX_KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}")
        kept_meta = dict(meta or {})
        kept_buttons = [dict(b) for b in buttons]
        row = dict(
            contact_id=contact_id,
            channel=channel,
            urn_enc=urn_enc if urn_enc is not None else self.crypto.encrypt(urn),
            # The address again inside the payload (encrypted with it, no operation more):
            # the sender then decrypts one token a row instead of two (OutboxRepo._record).
            payload_enc=self.crypto.encrypt_json(
                {"text": text, "buttons": kept_buttons, "urn": urn}
            ),
            kind=kind,
            status="pending",
            attempts=0,
            due_at=due_at,
            created_at=now,
            meta=kept_meta,
        )
        handed = handoff is not None and due_at <= now
        if handed:
            assert handoff is not None
            row |= {"status": "leased", "lease_owner": handoff.owner, "leased_until": handoff.until}
        outbox_id: int = await INSERT_OUTBOX.scalar_one(self.conn, row)
        if not handed:
            self.queued += 1
            return outbox_id
        assert handoff is not None
        handoff.items.append(
            OutboxItem(
                id=outbox_id,
                contact_id=contact_id,
                channel=channel,
                urn=urn,
                text=text,
                buttons=kept_buttons,
                kind=kind,
                attempts=0,
                meta=kept_meta,
                created_at=now,
            )
        )
        return outbox_id

    async def release(self, contact_id: int, now: datetime) -> int:
        """Safe times: she wrote, so what waited for her (her window, or her writing) goes now.

        Not the replies the per-sender limit holds back for up to a minute: they wait for their
        slot, not for her (a flood would otherwise release its own held replies)."""
        params = {"of_contact": contact_id, "now": now, "held_after": held_after(now)}
        released = max(await RELEASE.rowcount(self.conn, params), 0)
        self.queued += released
        return released

    async def hold(self, contact_id: int) -> int:
        """Safe times: she left with the quick exit; nothing waiting goes until she writes."""
        result = await self.conn.execute(
            sa.update(outbox)
            .where(
                outbox.c.contact_id == contact_id,
                outbox.c.status == "pending",
                outbox.c.kind.in_(TO_HER),
            )
            .values(due_at=HELD)
        )
        return result.rowcount or 0

    async def hold_one(
        self,
        outbox_id: int,
        *,
        error: str | None,
        also_sent: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """One message cannot go inside the provider's rules now (WhatsApp's 24 hours): it
        waits until she writes, without counting as a failed attempt. `also_sent`: the id of
        what went in its stead (a nudge), added to the row's `meta` (MessageRepo.provider_ids
        finds it for FSHI)."""
        values: dict[str, Any] = {}
        if also_sent is not None:
            kept = dict(meta or {})
            kept[ALSO_SENT] = [*kept.get(ALSO_SENT, []), also_sent]
            values["meta"] = kept
        await self._finish(
            outbox_id, status="pending", due_at=HELD, last_error=_short(error), **values
        )

    async def hold_sent(self, channel: str, external_id: str, error: str | None) -> int | None:
        """The provider refused a sent message afterwards for its window (WhatsApp 63016): hers
        waits again until she writes; a coordinator's is marked failed (the alert then goes
        another way), and so is a check-in (it counts as unanswered). The row's id, if known."""
        row = (
            await self.conn.execute(
                sa.select(outbox.c.id, outbox.c.contact_id, outbox.c.kind).where(
                    outbox.c.channel == channel,
                    outbox.c.external_id == external_id,
                    outbox.c.status == "sent",
                )
            )
        ).first()
        if row is None:
            return None
        if row.contact_id is None or row.kind == "followup":  # a check-in counts as unanswered
            await self._finish(row.id, status="failed", last_error=_short(error))
        else:
            await self._finish(
                row.id, status="pending", due_at=HELD, external_id=None, last_error=_short(error)
            )
        return int(row.id)

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, owner: str
    ) -> list[OutboxItem]:
        """Lease due rows to `owner` (see Repo.claim_rows); the caller commits."""
        rows = await self.claim_rows(
            outbox, now, limit, lease, owner, count_reclaims=True, returning=CLAIMED
        )
        return [self._record(r) for r in rows]

    async def renew_lease(self, outbox_id: int, owner: str, until: datetime) -> bool:
        """Extend `owner`'s lease of a row it claimed; False when it is no longer theirs
        (another sender claimed it after the lease ran out, or it is done)."""
        result = await self.conn.execute(
            sa.update(outbox)
            .where(
                outbox.c.id == outbox_id,
                outbox.c.status == "leased",
                outbox.c.lease_owner == owner,
            )
            .values(leased_until=until)
        )
        return (result.rowcount or 0) == 1

    async def mark_sent(
        self,
        outbox_id: int,
        *,
        external_id: str | None,
        segments: int | None,
        now: datetime,
        channel: str | None = None,
    ) -> None:
        """The provider accepted the message (`channel`: the row's, when the caller knows it)."""
        params = {"oid": outbox_id, "sid": external_id, "n_segments": segments, "at": now}
        if channel is not None and self.postgres:
            # One statement (MARK_SENT_WITH_MESSAGE); a clash on the id fails it as below.
            params["of_channel"] = channel
            both = MARK_SENT_WITH_MESSAGE[external_id is not None]
            if await both.scalar(self.conn, params):  # nearly never: see below
                await self._forget_if_erased(outbox_id, sent_sid=external_id)
            return
        # Nearly always one statement without RETURNING (MARK_SENT_KEPT); when it marks
        # nothing, the erased person's row (or none) is marked as before.
        erased = await MARK_SENT_KEPT.rowcount(self.conn, params) != 1 and bool(
            await MARK_SENT.scalar(self.conn, params)
        )
        if channel is None:
            channel = (
                await self.conn.execute(sa.select(outbox.c.channel).where(outbox.c.id == outbox_id))
            ).scalar_one_or_none()
        if channel is not None:
            params["of_channel"] = channel
            # Two sends given one id and committing at once (PostgreSQL: several workers)
            # do not see each other's id, and the second fails here on the unique id. No
            # savepoint of its own (its SAVEPOINT and RELEASE were two round trips for every
            # message sent): the caller's record is rolled back and tried again
            # (bot/outbox.py _record_outcome), when the other's id is committed and this
            # message keeps none (tests/test_outbox_records.py).
            mark = MARK_MESSAGE_SENT if external_id is not None else MARK_MESSAGE_SENT_NO_ID
            await mark.execute(self.conn, params)
        if erased:  # nearly never: the look above spared a SELECT for every other message
            await self._forget_if_erased(outbox_id, sent_sid=external_id)

    async def mark_retry(
        self, outbox_id: int, *, due_at: datetime, error: str | None, now: datetime
    ) -> None:
        """Sending failed for now: back to pending at `due_at`, one more attempt counted."""
        await self._finish(
            outbox_id,
            status="pending",
            due_at=due_at,
            attempts=outbox.c.attempts + 1,
            last_error=_short(error),
        )

    async def mark_failed(self, outbox_id: int, *, error: str | None, now: datetime) -> None:
        """Sending failed for good."""
        await self._finish(
            outbox_id, status="failed", attempts=outbox.c.attempts + 1, last_error=_short(error)
        )
        await self.conn.execute(
            sa.update(messages)
            .where(messages.c.outbox_id == outbox_id)
            .values(status="failed", error=_short(error))
        )
        await self._forget_if_erased(outbox_id)

    async def stats(self, now: datetime) -> dict[str, Any]:
        """Counts by status and the age in seconds of the oldest due pending row."""
        counts: dict[str, int] = dict(
            (
                await self.conn.execute(
                    sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
                )
            ).all()
        )
        oldest = (
            await self.conn.execute(
                sa.select(sa.func.min(outbox.c.due_at)).where(
                    outbox.c.status == "pending", outbox.c.due_at <= now
                )
            )
        ).scalar_one()
        return {
            "pending": counts.get("pending", 0),
            "leased": counts.get("leased", 0),
            "failed": counts.get("failed", 0),
            "oldest_pending_age": (now - oldest).total_seconds() if oldest else 0.0,
        }

    async def oldest_due_age(self, now: datetime) -> float:
        """Seconds the oldest due pending row has waited (0 when none waits)."""
        oldest = await OLDEST_DUE.scalar(self.conn, {"now": now})
        return (now - oldest).total_seconds() if oldest is not None else 0.0

    async def _finish(self, outbox_id: int, **values: Any) -> None:
        await self.conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == outbox_id)
            .values(leased_until=None, lease_owner=None, **values)
        )

    async def _forget_if_erased(self, outbox_id: int, sent_sid: str | None = None) -> None:
        """A row of a person who asked to be erased goes once it needs sending no more."""
        gone = (await self.conn.execute(ERASED_OF_ROW, {"oid": outbox_id})).first()
        if gone is None or gone.erased_at is None:
            return  # nearly always: one look instead of a SELECT and a DELETE
        erased = sa.select(contacts.c.id).where(contacts.c.erased_at.is_not(None))
        if sent_sid is not None:
            await self._add_to_pending_delete(outbox_id, sent_sid, erased)
        await self.conn.execute(
            sa.delete(outbox).where(outbox.c.id == outbox_id, outbox.c.contact_id.in_(erased))
        )

    async def _add_to_pending_delete(self, outbox_id: int, sid: str, erased: Any) -> None:
        """An SMS (or WhatsApp message) sent after FSHI (its confirmation) joins the deletion
        still to run at Twilio."""
        row = (
            await self.conn.execute(
                sa.select(outbox.c.contact_id, outbox.c.channel, outbox.c.kind).where(
                    outbox.c.id == outbox_id, outbox.c.contact_id.in_(erased)
                )
            )
        ).first()
        if row is None or row.kind == "delete" or row.channel not in ("sms", "whatsapp"):
            return  # on Telegram the confirmation stays: it is what tells her it is done
        pending = (
            await self.conn.execute(
                sa.select(outbox.c.id, outbox.c.meta).where(
                    outbox.c.contact_id == row.contact_id,
                    outbox.c.kind == "delete",
                    outbox.c.status == "pending",
                )
            )
        ).first()
        if pending is not None:
            meta = dict(pending.meta or {})
            meta["message_sids"] = [*meta.get("message_sids", []), sid]
            await self.conn.execute(
                sa.update(outbox).where(outbox.c.id == pending.id).values(meta=meta)
            )


def _short(error: str | None) -> str | None:
    return None if error is None else str(error)[:ERROR_MAX]
