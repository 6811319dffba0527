"""The outbox records what became of sends finishing together in one transaction (group commit
"sent"), each under its own savepoint: a failing record is rolled back and tried again alone,
and a SIGKILL mid-batch leaves every row of the batch leased, to go again after its lease."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.messages import Outbound, SendResult
from bot.store.db import Database
from bot.store.records import OutboxItem
from tests.pipeline_harness import Harness, RecordingChannel, build_sender
from tests.store.fixtures import (  # noqa: F401
    commits,
    crypto,
    db,
    db_url,
    postgres_url,
    sqlite_template,
)

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = 5
LEASE = timedelta(seconds=60)


class TogetherChannel:
    """Accepts every message, answering none before `rows` are in flight: they finish together."""

    name = "simulator"

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.sent: list[int] = []
        self.all_in = asyncio.Event()

    async def send(self, msg: Outbound) -> SendResult:
        self.sent.append(msg.outbox_id)
        if len(self.sent) == self.rows:
            self.all_in.set()
        await self.all_in.wait()
        return SendResult(ok=True, external_id=f"x{msg.outbox_id}")


async def queued(db: Database, people: int = PEOPLE) -> Harness:
    """A harness with one reply queued for each of `people` people."""
    harness = await Harness(db, hand_over=False).start()  # their own senders claim
    for n in range(people):
        await harness.pipeline.receive(harness.inbound("ok", urn=f"sim:p{n}"))
    return harness


async def statuses(db: Database) -> tuple[Counter[str], Counter[str]]:
    """The outbox rows' statuses and the outgoing messages' statuses."""
    async with db.uow() as uow:
        rows = Counter((await uow.conn.execute(sa.text("SELECT status FROM outbox"))).scalars())
        sent = Counter(
            (
                await uow.conn.execute(
                    sa.text("SELECT status FROM messages WHERE direction = 'out'")
                )
            ).scalars()
        )
    return rows, sent


async def audited(db: Database) -> list[str]:
    async with db.uow() as uow:
        return [e.action for e in await uow.audit.list_all()]


async def test_outcomes_of_sends_finishing_together_share_one_commit(db, commits):
    harness = await queued(db)
    channel = TogetherChannel(PEOPLE)
    sender = build_sender(db, {"simulator": channel}, harness.clock)
    drain = asyncio.create_task(sender.drain_once())
    await channel.all_in.wait()  # claimed (committed), every send with the provider
    before = len(commits)
    assert await drain == PEOPLE
    assert len(commits) - before == 1  # five outcomes, one COMMIT
    assert await statuses(db) == (Counter(sent=PEOPLE), Counter(sent=PEOPLE))


async def test_outcomes_of_a_pass_share_a_commit_when_the_provider_answers_at_once(db, commits):
    # Each send then reaches its record before the next one starts (no await suspends it).
    harness = await queued(db)
    channel = RecordingChannel()
    sender = build_sender(db, {"simulator": channel}, harness.clock)
    before = len(commits)
    assert await sender.drain_once() == PEOPLE
    assert len(commits) - before == 2  # the claim, then five outcomes at once
    assert await statuses(db) == (Counter(sent=PEOPLE), Counter(sent=PEOPLE))


async def test_a_record_that_fails_is_rolled_back_alone_and_recorded_on_its_retry(db, commits):
    harness = await queued(db)
    channel = TogetherChannel(PEOPLE)
    failed: list[int] = []

    async def hook(uow: Any, item: OutboxItem) -> None:
        await uow.audit.add(f"sent {item.id}", now=harness.clock())
        # Twice: an optimistic batch (no savepoints) runs again under savepoints when one
        # of its units fails (bot/store/group_commit.py); the second run fails alone.
        if len(failed) < 2 and item.id == channel.sent[1]:
            failed.append(item.id)
            # A database error in this record only (PostgreSQL aborts the transaction until
            # the savepoint is rolled back): the others in its batch must still commit.
            await uow.conn.execute(sa.text("SELECT * FROM no_such_table"))

    sender = build_sender(db, {"simulator": channel}, harness.clock, on_sent=(hook,))
    drain = asyncio.create_task(sender.drain_once())
    await channel.all_in.wait()
    before = len(commits)
    assert await drain == PEOPLE
    # The batch committed four; the fifth, rolled back to its savepoint (its audit entry and
    # its mark with it), was recorded on its own retry.
    assert len(commits) - before == 2
    assert sorted(await audited(db)) == sorted(f"sent {i}" for i in channel.sent)
    assert await statuses(db) == (Counter(sent=PEOPLE), Counter(sent=PEOPLE))
    assert len(channel.sent) == PEOPLE  # nothing sent twice


async def test_a_record_that_keeps_failing_gives_up_at_its_lease_and_the_row_goes_again(db):
    harness = await queued(db)
    channel = TogetherChannel(PEOPLE)
    broken = [True]

    async def hook(uow: Any, item: OutboxItem) -> None:
        if broken[0] and item.id == channel.sent[-1]:  # every send is in before any record
            await uow.conn.execute(sa.text("SELECT * FROM no_such_table"))

    # A short lease: the record is tried again (production backoff) until the lease is gone.
    lease = timedelta(seconds=0.3)
    sender = build_sender(db, {"simulator": channel}, harness.clock, lease=lease, on_sent=(hook,))
    assert await sender.drain_once() == PEOPLE
    assert await statuses(db) == (
        Counter(sent=PEOPLE - 1, leased=1),
        Counter(sent=PEOPLE - 1, queued=1),
    )
    # At-least-once by nature: once its lease ran out the unrecorded row goes again.
    harness.clock.advance(lease + timedelta(seconds=1))
    broken[0] = False  # recording works again
    again = TogetherChannel(1)
    sender = build_sender(db, {"simulator": again}, harness.clock, lease=lease, on_sent=(hook,))
    assert await sender.drain_once() == 1
    assert again.sent == channel.sent[-1:]
    assert await statuses(db) == (Counter(sent=PEOPLE), Counter(sent=PEOPLE))


async def test_a_sigkill_mid_batch_leaves_the_rows_leased_and_they_go_again(db, tmp_path):
    harness = await queued(db)
    sent_file = tmp_path / "sent"
    url = db.engine.url.render_as_string(hide_password=False)
    killed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.auxil.killed_sender",
        url,
        str(sent_file),
        str(PEOPLE),
        "3",  # dies in the third record, the first two done under their savepoints
        harness.clock().isoformat(),
        cwd=ROOT,
    )
    assert await killed.wait() == -9
    accepted = [int(line) for line in sent_file.read_text().split()]
    assert len(accepted) == PEOPLE  # the provider took all five...
    # ...and none is recorded: the batch's transaction died with it, the two records before
    # the kill included. Every row stays leased, none lost.
    assert await statuses(db) == (Counter(leased=PEOPLE), Counter(queued=PEOPLE))
    harness.clock.advance(timedelta(seconds=61))  # the dead sender's lease (60 s) ran out
    channel = TogetherChannel(PEOPLE)
    sender = build_sender(db, {"simulator": channel}, harness.clock, lease=LEASE)
    assert await sender.drain_once() == PEOPLE
    assert sorted(channel.sent) == sorted(accepted)  # sent again: at-least-once, not lost
    assert await statuses(db) == (Counter(sent=PEOPLE), Counter(sent=PEOPLE))
    async with db.uow() as uow:
        attempts = (await uow.conn.execute(sa.text("SELECT attempts FROM outbox"))).scalars()
        assert set(attempts) == {1}  # the lease that ran out with the dead sender counts


class SameIdChannel:
    """Accepts every message and gives each the same provider id (per-chat numbering)."""

    name = "simulator"

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def send(self, msg: Outbound) -> SendResult:
        self.sent.append(msg.outbox_id)
        return SendResult(ok=True, external_id="SM-SAME")


async def test_a_provider_id_clash_with_a_send_committing_at_once_is_recorded_on_a_retry(
    db, caplog
):
    """PostgreSQL: another worker records the same provider id for another message and commits
    while this record waits on the unique id. The mark fails (mark_sent has no savepoint of its
    own), the record is rolled back and tried again, and the message counts as sent, without
    the id; it is not sent again."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only (SQLite has one writer)")
    from tests.store.fixtures import until_a_lock_wait

    harness = await queued(db, people=1)
    now = harness.clock()
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create("sim:other", "simulator", now)
        other = await uow.outbox.add(
            contact_id=contact.id,
            channel="simulator",
            urn="sim:other",
            text="o",
            due_at=now + timedelta(days=1),  # not this sender's to take
            now=now,
        )
        await uow.messages.add_outbound(contact.id, "simulator", "o", now, other)
        await uow.commit()
    marked, release = asyncio.Event(), asyncio.Event()

    async def other_worker() -> None:
        async with db.uow() as uow:
            await uow.outbox.mark_sent(other, external_id="SM-SAME", segments=1, now=now)
            marked.set()
            await release.wait()
            await uow.commit()

    holder = asyncio.create_task(other_worker())
    await marked.wait()
    channel = SameIdChannel()
    sender = build_sender(db, {"simulator": channel}, harness.clock)
    drain = asyncio.create_task(sender.drain_once())
    await until_a_lock_wait(db, drain)
    release.set()
    await holder
    assert await drain == 1
    assert len(channel.sent) == 1  # not sent twice
    assert "recording failed (IntegrityError); trying again" in caplog.text
    async with db.uow() as uow:
        rows = (
            await uow.conn.execute(
                sa.text(
                    "SELECT m.outbox_id, m.external_id, m.status, o.status AS row_status"
                    " FROM messages m JOIN outbox o ON o.id = m.outbox_id"
                    " WHERE m.direction = 'out' ORDER BY m.outbox_id"
                )
            )
        ).all()
    by_row = {r.outbox_id: (r.external_id, r.status, r.row_status) for r in rows}
    assert by_row[other] == ("SM-SAME", "sent", "sent")
    [mine] = channel.sent
    assert by_row[mine] == (None, "sent", "sent")
