"""Fires (timers): schedule, replace, claim with leases, cancel, done."""

from __future__ import annotations

from datetime import timedelta

LEASE = timedelta(minutes=2)


async def _session(db, now) -> tuple[int, int]:
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create("sim:f1", "simulator", now)
        sid = await uow.sessions.save(contact.id, None, {}, "waiting", now)
        await uow.commit()
    return contact.id, sid


async def _claim(db, at, owner="sweeper", limit=100):
    async with db.uow() as uow:
        fires = await uow.fires.claim_due(at, limit, LEASE, owner)
        await uow.commit()
    return fires


async def test_schedule_claim_and_done(db, now):
    cid, sid = await _session(db, now)
    async with db.uow() as uow:
        fid = await uow.fires.schedule(
            contact_id=cid,
            session_id=sid,
            kind="wait_timeout",
            due_at=now + timedelta(minutes=10),
            seq=3,
            now=now,
            payload={"node": "safe_now"},
        )
        await uow.commit()
    assert await _claim(db, now + timedelta(minutes=9)) == []
    [fire] = await _claim(db, now + timedelta(minutes=10))
    assert (fire.id, fire.contact_id, fire.session_id, fire.kind, fire.seq) == (
        fid,
        cid,
        sid,
        "wait_timeout",
        3,
    )
    assert (fire.due_at, fire.payload) == (now + timedelta(minutes=10), {"node": "safe_now"})
    assert await _claim(db, now + timedelta(minutes=11), owner="other") == []  # leased
    async with db.uow() as uow:
        await uow.fires.done(fid)
        await uow.commit()
    assert await _claim(db, now + timedelta(days=1)) == []


async def test_an_expired_lease_is_claimed_again(db, now):
    cid, sid = await _session(db, now)
    async with db.uow() as uow:
        await uow.fires.schedule(
            contact_id=cid, session_id=sid, kind="session_expire", due_at=now, seq=0, now=now
        )
        await uow.commit()
    [first] = await _claim(db, now, owner="dead")
    [again] = await _claim(db, now + LEASE, owner="alive")
    assert again.id == first.id and again.payload == {}


async def test_scheduling_again_replaces_the_pending_timer_of_that_kind(db, now):
    cid, sid = await _session(db, now)
    async with db.uow() as uow:
        for seq in range(3):
            await uow.fires.schedule(
                contact_id=cid,
                session_id=sid,
                kind="wait_timeout",
                due_at=now + timedelta(minutes=seq),
                seq=seq,
                now=now,
            )
        await uow.fires.schedule(
            contact_id=cid, session_id=sid, kind="session_expire", due_at=now, seq=2, now=now
        )
        await uow.commit()
    fires = await _claim(db, now + timedelta(hours=1))
    assert sorted((f.kind, f.seq) for f in fires) == [("session_expire", 2), ("wait_timeout", 2)]


async def test_cancel_for_session_stops_its_timers_only(db, now):
    cid, sid = await _session(db, now)
    async with db.uow() as uow:
        await uow.sessions.save(cid, sid, {}, "ended", now)
        other = await uow.sessions.save(cid, None, {}, "waiting", now)
        for session_id in (sid, other):
            await uow.fires.schedule(
                contact_id=cid,
                session_id=session_id,
                kind="wait_timeout",
                due_at=now,
                seq=1,
                now=now,
            )
        await uow.fires.cancel_for_session(sid)
        await uow.commit()
    assert [f.session_id for f in await _claim(db, now)] == [other]
