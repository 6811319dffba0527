"""The outbox: claims never overlap (tasks, processes, PostgreSQL's SKIP LOCKED), leases expire."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.store.db import Database
from bot.store.repos.base import _claim as claim_statement
from bot.store.repos.outbox import CLAIMED, outbox

URN = "tel:+38344123456"
LEASE = timedelta(seconds=60)


async def _queue(db, now, count: int, *, step: timedelta = timedelta(0), contact=True) -> list[int]:
    async with db.uow() as uow:
        cid = None
        if contact:
            cid = (await uow.contacts.get_or_create(URN, "sms", now))[0].id
        ids = [
            await uow.outbox.add(
                contact_id=cid,
                channel="sms",
                urn=URN,
                text=f"message {i}",
                buttons=[{"label": "Po", "value": "yes"}] if i == 0 else (),
                kind="reply",
                due_at=now + step * i,
                now=now,
                meta={"n": i},
            )
            for i in range(count)
        ]
        await uow.commit()
    return ids


async def _claim(db, now, limit=100, owner="a", lease=LEASE):
    async with db.uow() as uow:
        items = await uow.outbox.claim_due(now, limit, lease, owner)
        await uow.commit()
    return items


async def test_a_claimed_item_is_decrypted_and_complete(db, now):
    [oid] = await _queue(db, now, 1)
    [item] = await _claim(db, now)
    assert (item.id, item.channel, item.urn, item.text) == (oid, "sms", URN, "message 0")
    assert item.buttons == [{"label": "Po", "value": "yes"}]
    assert (item.kind, item.attempts, item.meta, item.created_at) == ("reply", 0, {"n": 0}, now)
    assert item.contact_id is not None


async def test_a_claim_returns_only_what_the_sender_reads(db, now):
    statement = claim_statement(outbox, db.dialect, True, CLAIMED).statement
    returned = {c["name"] for c in statement.returning_column_descriptions}
    assert returned == {"id", "due_at", *CLAIMED}  # not the lease's own columns


async def test_due_rows_oldest_first_up_to_the_limit_and_future_ones_wait(db, now):
    ids = await _queue(db, now, 5, step=timedelta(minutes=1))
    claimed = await _claim(db, now + timedelta(minutes=3), limit=3)
    assert [i.id for i in claimed] == ids[:3]
    claimed = await _claim(db, now + timedelta(minutes=3))
    assert [i.id for i in claimed] == ids[3:4]  # the fifth is not due yet
    assert await _claim(db, now + timedelta(minutes=3)) == []


async def test_a_lease_holds_until_it_expires_then_the_row_is_reclaimed(db, now):
    [oid] = await _queue(db, now, 1)
    assert [i.id for i in await _claim(db, now, owner="a")] == [oid]
    assert await _claim(db, now + LEASE - timedelta(seconds=1), owner="b") == []
    [again] = await _claim(db, now + LEASE, owner="b")
    # The dead sender's attempt counts, so a row that kills every sender ends up failed.
    assert (again.id, again.attempts) == (oid, 1)


async def test_sent_rows_are_not_claimed_again(db, now):
    [oid] = await _queue(db, now, 1)
    await _claim(db, now)
    async with db.uow() as uow:
        await uow.outbox.mark_sent(oid, external_id="SM1", segments=2, now=now)
        await uow.commit()
    assert await _claim(db, now + timedelta(hours=1)) == []
    async with db.uow() as uow:
        assert (await uow.outbox.stats(now))["pending"] == 0


async def test_retry_goes_back_to_pending_later_and_failed_stays_failed(db, now):
    first, second = await _queue(db, now, 2)
    await _claim(db, now)
    async with db.uow() as uow:
        await uow.outbox.mark_retry(first, due_at=now + timedelta(seconds=30), error="503", now=now)
        await uow.outbox.mark_failed(second, error="21211 invalid number", now=now)
        await uow.commit()
    assert await _claim(db, now + timedelta(seconds=29)) == []
    [retried] = await _claim(db, now + timedelta(seconds=30))
    assert (retried.id, retried.attempts) == (first, 1)
    async with db.uow() as uow:
        stats = await uow.outbox.stats(now + timedelta(seconds=30))
        await uow.outbox.mark_sent(first, external_id="SM9", segments=1, now=now)
        await uow.commit()
    assert (stats["pending"], stats["leased"], stats["failed"]) == (0, 1, 1)
    assert await _claim(db, now + timedelta(days=1)) == []  # the failed one never comes back


async def test_stats_report_the_oldest_due_pending_row(db, now):
    async with db.uow() as uow:
        assert (await uow.outbox.stats(now))["oldest_pending_age"] == 0
    await _queue(db, now, 3, step=timedelta(seconds=10))
    async with db.uow() as uow:
        stats = await uow.outbox.stats(now + timedelta(seconds=15))
    assert stats["pending"] == 3
    assert stats["oldest_pending_age"] == 15.0


async def test_the_queue_gauge_reads_the_oldest_due_pending_row_alone(db, now):
    async with db.uow() as uow:
        assert await uow.outbox.oldest_due_age(now) == 0.0
    ids = await _queue(db, now, 3, step=timedelta(seconds=10))
    later = now + timedelta(seconds=15)
    async with db.uow() as uow:
        assert await uow.outbox.oldest_due_age(later) == 15.0
        await uow.outbox.mark_sent(ids[0], external_id="s0", segments=1, now=later)
        # Leased, sent or not yet due: not waiting.
        assert await uow.outbox.oldest_due_age(later) == 5.0
        assert (
            await uow.outbox.oldest_due_age(later)
            == (await uow.outbox.stats(later))["oldest_pending_age"]
        )


async def test_an_unknown_kind_is_refused(db, now):
    async with db.uow() as uow:
        with pytest.raises(ValueError, match="kind"):
            await uow.outbox.add(
                contact_id=None, channel="sms", urn=URN, text="x", kind="spam", due_at=now, now=now
            )


async def _drain(db: Database, now, owner: str, batch: int) -> list[int]:
    """Claim batches until nothing is left, as a sender would."""
    got: list[int] = []
    while True:
        async with db.uow() as uow:
            items = await uow.outbox.claim_due(now, batch, LEASE, owner)
            await uow.commit()
        if not items:
            return got
        got.extend(i.id for i in items)


async def test_concurrent_claimers_never_share_a_row(db, now):
    ids = await _queue(db, now, 60, contact=False)
    results = await asyncio.gather(*(_drain(db, now, f"w{n}", 7) for n in range(6)))
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == sorted(ids)  # all of them, each once


async def test_claimers_in_separate_processes_never_share_a_row(db, crypto, now):
    """Separate Database objects share no lock in Python: only the database keeps them apart."""
    ids = await _queue(db, now, 60, contact=False)
    others = [Database(db.url, crypto) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(_drain(other, now, f"p{n}", 5) for n, other in enumerate([db, *others]))
        )
    finally:
        for other in others:
            await other.dispose()
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == sorted(ids)


async def test_postgres_claimers_skip_rows_another_transaction_holds(db, now):
    if db.dialect != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time")
    ids = await _queue(db, now, 10, contact=False)
    async with db.uow() as first, db.uow() as second:
        mine = await first.outbox.claim_due(now, 4, LEASE, "first")
        # `first` has not committed: its rows are locked, and `second` must not wait or take them.
        theirs = await second.outbox.claim_due(now, 100, LEASE, "second")
        await second.commit()
        await first.commit()
    assert [i.id for i in mine] == ids[:4]
    assert [i.id for i in theirs] == ids[4:]


async def test_held_rows_wait_go_when_released_and_go_stale_at_retention(db, now):
    """Safe times: a row held until she writes is never claimed; release sends it now; hold
    keeps it again; rows held past the retention cutoff are deleted, others stay."""
    from bot.safe_times import HELD

    async with db.uow() as uow:
        cid = (await uow.contacts.get_or_create(URN, "sms", now))[0].id
        ids = [
            await uow.outbox.add(
                contact_id=cid, channel="sms", urn=URN, text=f"held {i}", kind="reply",
                due_at=HELD, now=now - timedelta(days=40 * i),
            )
            for i in range(2)
        ]  # fmt: skip
        await uow.commit()
    assert await _claim(db, now + timedelta(days=365)) == []
    async with db.uow() as uow:
        assert await uow.retention.delete_finished_outbox(now - timedelta(days=30)) == 1
        assert await uow.outbox.release(cid, now) == 1
        await uow.commit()
    [item] = await _claim(db, now)
    assert item.id == ids[0]
    async with db.uow() as uow:  # the lease ran out: pending again, then held by a DIL
        await uow.outbox.mark_retry(item.id, due_at=now, error=None, now=now)
        assert await uow.outbox.hold(cid) == 1
        await uow.commit()
    assert await _claim(db, now + timedelta(days=365)) == []


async def test_a_reply_copies_her_stored_address_instead_of_encrypting_it(db, now, monkeypatch):
    """queue_to_person: two Fernet encryptions (the outbox's payload, her conversation's copy),
    not three; the outbox row holds her contact's own token, which the sender reads."""
    from bot.replies import queue_to_person
    from bot.store.models import ContactRow

    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        await uow.commit()
    encrypted: list[str] = []
    real, real_seal = db.crypto.encrypt, db.crypto._seal  # texts; encrypt_json's bytes

    def counted(text: str) -> bytes:
        encrypted.append(text)
        return real(text)

    def counted_seal(data: bytes) -> bytes:
        encrypted.append(data.decode())
        return real_seal(data)

    monkeypatch.setattr(db.crypto, "encrypt", counted)
    monkeypatch.setattr(db.crypto, "_seal", counted_seal)
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create(URN, "sms", now)
        oid = await queue_to_person(uow, contact, "Përshëndetje", kind="reply", due_at=now, now=now)
        await uow.commit()
    assert oid is not None
    assert URN not in encrypted and len(encrypted) == 2
    contacts = ContactRow.__table__
    async with db.uow() as uow:
        stored = (
            await uow.conn.execute(
                sa.select(outbox.c.urn_enc, contacts.c.urn_enc.label("hers")).join(
                    contacts, contacts.c.id == outbox.c.contact_id
                )
            )
        ).one()
        assert bytes(stored.urn_enc) == bytes(stored.hers)
        (item,) = await uow.outbox.claim_due(now, 10, LEASE, "me")
        assert (item.id, item.urn, item.text) == (oid, URN, "Përshëndetje")
        await uow.commit()


async def test_without_her_token_the_outbox_encrypts_her_address(db, now):
    """A caller that has no stored token (an alert, a system message) still gets her address
    encrypted, under the newest key."""
    async with db.uow() as uow:
        oid = await uow.outbox.add(
            contact_id=None, channel="sms", urn=URN, text="x", due_at=now, now=now
        )
        token = (
            await uow.conn.execute(sa.select(outbox.c.urn_enc).where(outbox.c.id == oid))
        ).scalar_one()
        assert db.crypto.is_current(bytes(token)) and db.crypto.decrypt(token) == URN
        await uow.commit()


async def test_the_sender_decrypts_one_token_a_row(db, now, monkeypatch):
    """The address travels in the payload: a claimed row costs one Fernet decryption, not two;
    a row queued before (its payload without the address) is still read from urn_enc."""
    from bot.store.crypto import Crypto

    await _queue(db, now, 2)
    async with db.uow() as uow:
        old = await uow.outbox.add(
            contact_id=None, channel="sms", urn=URN, text="older", due_at=now, now=now
        )
        await uow.conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == old)
            .values(payload_enc=db.crypto.encrypt_json({"text": "older", "buttons": []}))
        )
        await uow.commit()
    decrypted: list[bytes] = []
    real = Crypto._open  # what decrypt and decrypt_json both decrypt through

    def counted(self: Crypto, token: bytes) -> bytes:
        decrypted.append(token)
        return real(self, token)

    monkeypatch.setattr(Crypto, "_open", counted)
    async with db.uow() as uow:
        items = await uow.outbox.claim_due(now, 10, LEASE, "me")
        await uow.commit()
    assert sorted((i.urn, i.text) for i in items) == [
        (URN, "message 0"),
        (URN, "message 1"),
        (URN, "older"),
    ]
    assert len(decrypted) == 2 + 2  # one a new row, two for the older one


async def test_releasing_her_rows_reads_her_rows_only(db, now):
    """Every message she sends releases what waited for her: found through her contact, not by
    reading every contact's pending rows (SQLite's planner took the (status, due_at) index)."""
    from bot.store.repos.outbox import RELEASE

    if db.dialect != "sqlite":
        pytest.skip("SQLite's planner has no statistics to choose by; PostgreSQL's has")
    names = frozenset({"of_contact", "now", "held_after"})
    async with db.uow() as uow:
        dialect = uow.conn.sync_connection.dialect
        compiled = RELEASE.compiled(dialect, names)
        plan = await uow.conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + compiled.sql, tuple([1] * len(compiled.binds))
        )
        details = " ".join(row[3] for row in plan)
    assert "ix_outbox_contact_id_status_due_at (contact_id=? AND status=? AND due_at>?)" in details


async def test_marking_sent_with_the_channel_marks_as_without_it(db, now):
    """mark_sent given the row's channel (the sender's way: on PostgreSQL the message's mark
    rides along the row's, one statement) leaves the same rows as without it: the provider's
    id, none, one seen before; an erased person's row goes."""
    from tests.store.fixtures import statements_seen

    msgs = sa.table(
        "messages",
        sa.column("outbox_id"),
        sa.column("external_id"),
        sa.column("status"),
        sa.column("segments"),
    )
    results = {}
    for given in (False, True):
        channel = "sms" if given else None
        async with db.uow() as uow:
            contact, _ = await uow.contacts.get_or_create(f"tel:+3556900000{given:d}", "sms", now)
            ids = []
            for _ in range(4):
                oid = await uow.outbox.add(
                    contact_id=contact.id, channel="sms", urn=URN, text="t", due_at=now, now=now
                )
                await uow.messages.add_outbound(contact.id, "sms", "t", now, oid)
                ids.append(oid)
            await uow.commit()
        marks = [(f"SM{given:d}", 2), (None, None), (f"SM{given:d}", 1)]
        async with db.uow() as uow:
            for oid, (sid, segments) in zip(ids, marks, strict=False):
                with statements_seen(db) as seen:
                    await uow.outbox.mark_sent(
                        oid, external_id=sid, segments=segments, now=now, channel=channel
                    )
                if given and db.dialect == "postgresql":
                    sql = " ".join(seen[0].split())
                    assert len(seen) == 1 and "WITH marked_message AS (UPDATE messages" in sql
                else:  # her contact not erased: the row's mark returns nothing (MARK_SENT_KEPT)
                    assert seen[0].startswith("UPDATE outbox") and "RETURNING" not in seen[0]
                    assert not any(s.startswith("UPDATE outbox") for s in seen[1:])
            await uow.commit()
        async with db.uow() as uow:
            rows = (
                await uow.conn.execute(
                    sa.select(outbox.c.status, outbox.c.external_id, outbox.c.segments)
                    .where(outbox.c.id.in_(ids))
                    .order_by(outbox.c.id)
                )
            ).all()
            marked = (
                await uow.conn.execute(
                    sa.select(msgs.c.status, msgs.c.external_id, msgs.c.segments)
                    .where(msgs.c.outbox_id.in_(ids))
                    .order_by(msgs.c.outbox_id)
                )
            ).all()
            await uow.contacts.erase(contact.id, now)  # the last row still to send
            await uow.outbox.mark_sent(
                ids[3], external_id=None, segments=1, now=now, channel=channel
            )
            await uow.commit()
        async with db.uow() as uow:
            left = (
                await uow.conn.execute(sa.select(outbox.c.id).where(outbox.c.id == ids[3]))
            ).all()
        results[given] = ([tuple(r) for r in rows], [tuple(m) for m in marked], left)
    for given in (False, True):
        sid = f"SM{given:d}"
        assert results[given] == (
            [("sent", sid, 2), ("sent", None, None), ("sent", sid, 1), ("pending", None, None)],
            # The id seen before: the older message keeps it, this one none.
            [("sent", sid, 2), ("sent", None, None), ("sent", None, 1), ("queued", None, None)],
            [],  # erased: her row goes once sent
        )
