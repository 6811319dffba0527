"""Sessions: encrypted state saved and read back, one waiting session per contact."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

STATE = {"frames": [{"flow": "main", "node": "safe_now"}], "results": {"lang": "sq"}}


async def _contact(db, now) -> int:
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create("sim:s1", "simulator", now)
        await uow.commit()
    return contact.id


async def test_save_get_and_end(db, now):
    cid = await _contact(db, now)
    later = now + timedelta(minutes=2)
    async with db.uow() as uow:
        assert await uow.sessions.get_active(cid) is None
        sid = await uow.sessions.save(cid, None, STATE, "waiting", now)
        assert await uow.sessions.save(cid, sid, {**STATE, "n": 2}, "waiting", later) == sid
        await uow.commit()
    async with db.uow() as uow:
        active = await uow.sessions.get_active(cid)
        assert active == await uow.sessions.get(sid)
        assert (active.contact_id, active.status, active.state) == (
            cid,
            "waiting",
            {**STATE, "n": 2},
        )
        assert (active.created_at, active.updated_at) == (now, later)
        await uow.sessions.save(cid, sid, STATE, "ended", later)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.sessions.get_active(cid) is None
        assert (await uow.sessions.get(sid)).status == "ended"
        assert await uow.sessions.get(sid + 99) is None


async def test_at_most_one_waiting_session_per_contact(db, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        first = await uow.sessions.save(cid, None, STATE, "waiting", now)
        with pytest.raises(sa.exc.IntegrityError):
            await uow.sessions.save(cid, None, STATE, "waiting", now)
    async with db.uow() as uow:
        first = await uow.sessions.save(cid, None, STATE, "waiting", now)
        await uow.sessions.save(cid, first, STATE, "ended", now)
        second = await uow.sessions.save(cid, None, STATE, "waiting", now)
        await uow.commit()
    assert second != first


async def test_updating_a_missing_session_or_a_bad_status_is_refused(db, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        with pytest.raises(LookupError):
            await uow.sessions.save(cid, 12345, STATE, "waiting", now)
        with pytest.raises(ValueError, match="status"):
            await uow.sessions.save(cid, None, STATE, "paused", now)


async def test_state_is_encrypted(db, crypto, now):
    cid = await _contact(db, now)
    async with db.uow() as uow:
        sid = await uow.sessions.save(cid, None, STATE, "waiting", now)
        raw = (
            await uow.conn.execute(
                sa.text("SELECT state_enc FROM sessions WHERE id = :i"), {"i": sid}
            )
        ).scalar_one()
    assert b"safe_now" not in bytes(raw)
    assert crypto.decrypt_json(raw) == STATE
