"""A reply due at once goes to this process's sender in hand: leased as written, sent unclaimed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from bot.safe_times import HELD
from bot.store.models import OutboxRow
from tests.pipeline_harness import Harness
from tests.store.fixtures import (  # noqa: F401
    crypto,
    db,
    db_url,
    postgres_url,
    sqlite_template,
    statements_seen,
)

outbox = OutboxRow.__table__


def claims(seen: list[str]) -> list[str]:
    """The sender's claims among the statements seen (Repo.claim_rows's UPDATE)."""
    return [s for s in seen if "UPDATE outbox SET status" in s and "status = 'pending'" in s]


async def rows(db) -> list[tuple[str, str | None]]:
    """Every outbox row's status and lease owner, in id order."""
    async with db.uow() as uow:
        result = await uow.conn.execute(
            sa.select(outbox.c.status, outbox.c.lease_owner).order_by(outbox.c.id)
        )
        return [(r.status, r.lease_owner) for r in result]


async def started(db, **options) -> Harness:
    """A harness whose sender made its first pass (which claims what a process before left)."""
    harness = await Harness(db, **options).start()
    assert await harness.sender.drain_once() == 0
    return harness


async def test_a_reply_is_leased_to_the_sender_as_written_and_sent_without_a_claim(db):
    harness = await started(db)
    await harness.pipeline.receive(harness.inbound("hello"))
    # Committed leased to this process's sender; nothing for a claim, so no wake.
    assert await rows(db) == [("leased", harness.sender.owner)]
    assert harness.wakes == 0
    with statements_seen(db) as seen:
        assert await harness.sender.drain_once() == 1
    assert not claims(seen)
    assert len(harness.channel.sent) == 1
    assert await rows(db) == [("sent", None)]
    # Nothing in hand: the next pass claims (what falls due by the clock), and finds nothing.
    with statements_seen(db) as seen:
        assert await harness.sender.drain_once() == 0
    assert len(claims(seen)) == 1


async def test_without_a_sender_in_hand_the_reply_waits_for_a_claim(db):
    harness = await started(db, hand_over=False)
    await harness.pipeline.receive(harness.inbound("hello"))
    assert await rows(db) == [("pending", None)]
    assert harness.wakes == 1
    assert await harness.sender.drain_once() == 1
    assert len(harness.channel.sent) == 1


async def test_what_waited_for_her_goes_before_her_reply(db):
    harness = await started(db)
    await harness.say("hello")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
        assert contact is not None
        await uow.outbox.add(
            contact_id=contact.id,
            channel="simulator",
            urn="sim:test1",
            text="kept for you",
            kind="followup",
            due_at=HELD,
            now=harness.clock(),
        )
        await uow.commit()
    before = len(harness.channel.sent)
    harness.wakes = 0
    await harness.pipeline.receive(harness.inbound("shqip"))
    # Released by her writing: her reply is not handed over (it would overtake), both wait
    # for the claim, which sends them in the order they were queued.
    assert harness.wakes == 1
    assert {owner for _, owner in await rows(db)} == {None}
    while await harness.sender.drain_once():
        pass
    texts = [m.text for m in harness.channel.sent[before:]]
    assert texts[0] == "kept for you"
    assert len(texts) == 2


async def test_a_reply_held_back_by_the_per_sender_limit_waits_for_a_claim(db):
    harness = await started(db)
    harness.pipeline.reply_limit = lambda _urn, _id: 30.0
    await harness.pipeline.receive(harness.inbound("hello"))
    assert await rows(db) == [("pending", None)]
    assert harness.wakes == 1
    assert await harness.sender.drain_once() == 0  # not due for 30 s
    harness.clock.advance(timedelta(seconds=31))
    assert await harness.sender.drain_once() == 1


async def test_a_pass_with_replies_in_hand_still_claims_once_its_tick_is_due(db):
    harness = await started(db)
    harness.sender.idle_wait = 3600.0
    harness.sender._next_claim = 0.0  # as if at start-up, with this idle_wait
    assert await harness.sender.drain_once() == 0
    # A row that fell due by the clock (as a retry or a safe time does), no commit waking
    # the sender for it; and her reply, in hand.
    async with db.uow() as uow:
        await uow.outbox.add(
            contact_id=None,
            channel="simulator",
            urn="sim:other",
            text="due by the clock",
            kind="system",
            due_at=harness.clock(),
            now=harness.clock(),
        )
        await uow.commit()
    await harness.pipeline.receive(harness.inbound("hello"))
    with statements_seen(db) as seen:
        assert await harness.sender.drain_once() == 1  # her reply only: no claim yet
    assert not claims(seen)
    # Replies keep coming in hand (the run loop never idles then): once idle_wait has passed
    # since the last claim, the pass claims as well.
    await harness.pipeline.receive(harness.inbound("po"))
    harness.sender._next_claim = 0.0  # idle_wait passed
    assert await harness.sender.drain_once() == 2
    assert "due by the clock" in [m.text for m in harness.channel.sent]


async def test_stopping_sends_what_was_handed_over_first(db):
    harness = await started(db)
    harness.sender.stop()  # asked to stop before its run begins
    await harness.pipeline.receive(harness.inbound("hello"))
    await asyncio.wait_for(harness.sender.run(), timeout=30)
    assert len(harness.channel.sent) == 1
    assert await rows(db) == [("sent", None)]
