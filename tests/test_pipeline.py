"""The pipeline on real databases: one transaction per message, order, dedupe, timers, erasure."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.safe_times import HELD
from tests.pipeline_harness import Harness, build_sender
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template, statements_seen  # noqa: F401

ENGINE_FLOWS = Path(__file__).parent / "engine" / "flows"


@pytest.fixture
async def harness(db):
    return await Harness(db, flows_dir=ENGINE_FLOWS, trigger_flow="main").start()


async def test_a_conversation_is_stored_encrypted_and_answered(harness, db):
    assert await harness.say("hello") == ["t.lang\n1. t.sq\n2. t.en"]
    await harness.say("shqip")
    await harness.say("po")
    sent = await harness.say("tirana")
    assert sent and sent[0].startswith("t.weapon")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
        assert contact.language == "sq"
        assert contact.fields["municipality"] == "tirane"
        log = await uow.messages.list_for_contact(contact.id)
    assert [d for d, _, _ in log].count("in") == 4
    assert ("in", "tirana") in [(d, t) for d, t, _ in log]


async def test_a_repeated_external_id_is_processed_once(harness):
    first = await harness.pipeline.receive(harness.inbound("hello", external_id="SM1"))
    again = await harness.pipeline.receive(harness.inbound("hello", external_id="SM1"))
    assert (first.status, again.status) == ("processed", "duplicate")
    while await harness.sender.drain_once():
        pass
    assert len(harness.channel.sent) == 1


async def test_messages_of_one_contact_are_processed_in_order(harness):
    messages = [harness.inbound(t) for t in ["hello", "shqip", "po", "tirana", "jo", "jo"]]
    await asyncio.gather(*(harness.pipeline.receive(m) for m in messages))
    while await harness.sender.drain_once():
        pass
    texts = [m.text.split("\n")[0] for m in harness.channel.sent]
    assert texts == ["t.lang", "t.safe", "t.where", "t.weapon", "t.choke", "t.level"]


async def test_danger_opens_an_urgent_case_with_a_reference(harness, db):
    sent = await harness.say("SOS")
    assert sent[0].startswith("t.danger")
    refs = [e["reference"] for _, e in harness.events if e["type"] == "case_opened"]
    assert len(refs) == 1 and re.fullmatch(r"R-[0-9A-Z]{4,}", refs[0])
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(refs[0])
        events = [e.kind for e in await uow.cases.events(case.id)]
    assert case.urgency == "urgent"
    assert "referral_requested" in events


async def test_the_case_reference_reaches_the_text(harness):
    for text in ["hi", "1", "1", "tirane", "po", "jo", "dje"]:
        await harness.say(text)
    sent = await harness.say("e theu deren")  # in her language: no offer of another
    refs = [e["reference"] for _, e in harness.events if e["type"] == "case_opened"]
    assert sent == ["t.thanks"] and refs  # test catalogs have no text: the id stands in


async def test_a_wait_timeout_fires_from_the_sweep(harness, db):
    await harness.say("hi")
    await harness.say("shqip")  # "safe to text?" waits one hour
    harness.clock.advance(timedelta(minutes=59))
    assert await harness.pipeline.sweep_fires() == 0
    harness.clock.advance(timedelta(minutes=2))
    assert await harness.pipeline.sweep_fires() == 1
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
        assert await uow.sessions.get_active(contact.id) is None
    assert await harness.sender.drain_once() == 0  # nothing is sent on a silent end


async def test_a_session_expires_a_day_after_her_last_message_not_her_first(harness, db):
    await harness.say("hello")  # the session's expiry timer: a day from now
    await harness.say("shqip")
    await harness.say("po")  # "where?": no timeout of its own
    harness.clock.advance(timedelta(hours=2))
    assert await harness.pipeline.sweep_fires() == 1  # the timeout of "safe?", answered: stale
    harness.clock.advance(timedelta(hours=18))
    with statements_seen(db) as written:
        await harness.say("atlantis")  # not understood: asked again, the session lives on
    assert [s for s in written if "INSERT INTO outbox" in s]  # the statements are seen
    assert not [s for s in written if "INSERT INTO fires" in s]  # the expiry moves unwritten

    async def active() -> bool:
        async with db.uow() as uow:
            contact = await uow.contacts.find_by_urn("sim:test1")
            return await uow.sessions.get_active(contact.id) is not None

    harness.clock.advance(timedelta(hours=5))  # a day after the first message: fires early
    assert await harness.pipeline.sweep_fires() == 1
    assert await active()
    harness.clock.advance(timedelta(hours=18, minutes=59))  # set again for her expiry
    assert await harness.pipeline.sweep_fires() == 0
    assert await active()
    harness.clock.advance(timedelta(minutes=2))  # a day after "atlantis"
    assert await harness.pipeline.sweep_fires() == 1
    assert not await active()


async def test_an_engine_failure_still_answers_and_keeps_the_message(db, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(
        "flow: main\nstart: a\nnodes:\n  a:\n    next: b\n  b:\n    next: a\n"
    )
    harness = await Harness(db, flows_dir=flows, trigger_flow="main").start()
    handled = await harness.pipeline.receive(harness.inbound("hello"))
    assert handled.status == "failed"
    while await harness.sender.drain_once():
        pass
    assert harness.channel.sent[0].text == harness.catalogs.text("sq", "sys.error")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
        log = await uow.messages.list_for_contact(contact.id)
    assert ("in", "hello") in [(d, t) for d, t, _ in log]


async def test_a_failed_send_is_retried_later(harness):
    harness.channel.fail_next = 1
    await harness.pipeline.receive(harness.inbound("hello"))
    assert await harness.sender.drain_once() == 1
    assert harness.channel.sent == []
    assert await harness.sender.drain_once() == 0  # not due yet
    harness.clock.advance(timedelta(minutes=5))
    assert await harness.sender.drain_once() == 1
    assert len(harness.channel.sent) == 1


async def test_a_crashed_send_is_picked_up_after_its_lease(harness, db):
    harness.pipeline.hand_to = None  # the reply waits, pending, for a claim
    await harness.pipeline.receive(harness.inbound("hello"))
    async with db.uow() as uow:  # a sender claims the row and dies before sending
        claimed = await uow.outbox.claim_due(harness.clock(), 10, timedelta(seconds=60), "dead")
        await uow.commit()
    assert len(claimed) == 1
    assert await harness.sender.drain_once() == 0
    harness.clock.advance(timedelta(seconds=61))
    assert await harness.sender.drain_once() == 1
    assert len(harness.channel.sent) == 1


async def test_a_reply_handed_to_a_sender_that_dies_goes_after_its_lease(harness, db):
    # The reply is written leased to harness.sender and handed to it; the process dies before
    # that sender's pass. A sender of the next process finds it leased until the lease ends.
    await harness.pipeline.receive(harness.inbound("hello"))
    after = build_sender(db, {"simulator": harness.channel}, harness.clock)
    assert await after.drain_once() == 0
    harness.clock.advance(harness.sender.lease + timedelta(seconds=1))
    assert await after.drain_once() == 1
    assert len(harness.channel.sent) == 1


async def test_a_late_undeliverable_status_marks_the_contact(harness, db):
    from bot.messages import StatusUpdate

    await harness.say("hello")
    assert harness.channel.sent
    external_id = "x1"  # the recording channel's id for its first message
    update = StatusUpdate("simulator", external_id, "undelivered", "30005", "unreachable")
    await harness.pipeline.record_status(update)
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
    assert contact.unreachable and not contact.opted_out


async def test_the_sender_stops_after_its_pass(harness):
    task = asyncio.ensure_future(harness.sender.run())
    await harness.pipeline.receive(harness.inbound("hello"))
    harness.sender.stop()
    await asyncio.wait_for(task, 10)
    assert task.done() and not task.cancelled()


async def test_a_conversation_begun_for_someone_erased_meanwhile_starts_nothing(harness, db):
    """begin() reads the contact, takes her lock, reads her again: erased in between, nothing
    starts, prepare() hears None, and the commit hooks still run (no error after commit)."""
    await harness.say("hello")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
    pipeline = harness.pipeline
    locks = pipeline._lock

    def erasing_lock(urn: str):
        # Taking her lock is where another worker's erasure can slip in; do it right there.
        lock = locks(urn)

        class Erasing:
            async def __aenter__(self) -> None:
                await lock.acquire()
                async with db.uow() as uow:
                    await uow.contacts.erase(contact.id, harness.clock())
                    await uow.commit()

            async def __aexit__(self, *exc: object) -> None:
                lock.release()

        return Erasing()

    pipeline._lock = erasing_lock
    seen = []

    async def prepare(uow, found, now):
        seen.append(found)

    commits = []
    pipeline.handlers.after_commit(lambda done: commits.append(1))
    assert await pipeline.begin(contact.id, prepare) is False
    assert seen == [None]
    assert commits == [1]


async def test_a_waiting_message_is_announced_once_a_day_whatever_worker_sends_it(harness, db):
    """WhatsApp's "a message waits for you": the claim is one statement on her contact row, so
    of two workers (two pipelines on one database) only the first gets it; a send that failed
    gives it back; a day later it may go again. An address never heard from gets none."""
    from tests.pipeline_harness import build_pipeline

    await harness.say("hello")
    other = build_pipeline(db, clock=harness.clock)
    urn, now = "sim:test1", harness.clock()
    assert await harness.pipeline.claim_nudge(urn, now) is True
    assert await other.claim_nudge(urn, now + timedelta(minutes=1)) is False
    await other.release_nudge(urn, now + timedelta(minutes=1))  # not its claim: nothing changes
    assert await other.claim_nudge(urn, now + timedelta(minutes=2)) is False
    await harness.pipeline.release_nudge(urn, now)  # the announcement did not go
    assert await other.claim_nudge(urn, now + timedelta(minutes=3)) is True
    assert await harness.pipeline.claim_nudge(urn, now + timedelta(hours=12)) is False
    assert await harness.pipeline.claim_nudge(urn, now + timedelta(hours=24, minutes=3)) is True
    assert await other.claim_nudge("whatsapp:+355690000000", now) is False


async def test_no_relay_lookup_for_a_person_without_an_open_case(harness, db):
    # Referral: a relay needs a worked case, a worked case is open; most people have none.
    with statements_seen(db) as seen:
        await harness.say("hello")
        await harness.say("shqip")
    assert not [s for s in seen if "case_assignments" in s]
    # Read once a message (with her session), and not at all for someone new (her first).
    assert len([s for s in seen if " JOIN cases " in s or "FROM cases" in s]) == 1


async def test_a_new_contacts_first_message_reads_and_writes_only_what_it_must(harness, db):
    with statements_seen(db) as written:
        await harness.say("hello")  # created now: last seen now, by the insert itself
    assert [s for s in written if "INSERT INTO contacts" in s]  # the statements are seen
    # The look-up that stamps a known person (contacts.SEEN_BY_HASH) found nobody; no other.
    assert [_kind(s) for s in written if "SET last_seen_at" in s] == ["UPDATE contacts"]
    assert not [s for s in written if _touch(s)]
    # Nor anything to look up for someone new: no held replies, no session, no case.
    assert not [s for s in written if "UPDATE outbox SET due_at" in s]
    assert not [s for s in written if s.lstrip().startswith(("SELECT sessions.", "SELECT cases."))]
    first = harness.clock()
    harness.clock.advance(timedelta(minutes=3))
    await harness.say("shqip")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
    assert contact.last_seen_at.replace(tzinfo=None) == (first + timedelta(minutes=3)).replace(
        tzinfo=None
    )


def _kind(sql: str) -> str:
    """A statement's first words: its verb and table."""
    words = sql.split()
    return " ".join(words[:3] if words[0] in ("INSERT", "DELETE") else words[:2])


def _touch(sql: str) -> bool:
    """Whether a statement is ContactRepo.touch's (her last-seen time, by her id)."""
    flat = " ".join(sql.split())
    return flat.startswith("UPDATE contacts SET last_seen_at=") and "WHERE contacts.id =" in flat


async def test_a_known_persons_message_runs_six_statements(harness, db):
    """Issue 19: her contact locked and stamped last seen in one statement, with whether she is
    a coordinator; her session, her case and whether replies wait for her in one statement;
    nothing to release, no UPDATE of her contact at the end."""
    for text in ("hello", "shqip", "po"):
        await harness.say(text)
    with statements_seen(db) as seen:
        handled = await harness.pipeline.receive(harness.inbound("jo"))
    assert handled.status == "processed"
    assert [_kind(s) for s in seen] == [
        "UPDATE contacts",  # locked and last seen, with whether a coordinator writes from there
        "INSERT INTO messages",  # hers, unless a repeat
        "SELECT sessions.id,",  # her session, her case, anything held (contacts.STANDING)
        "UPDATE sessions",
        "INSERT INTO outbox",
        "INSERT INTO messages",
    ]
    first = " ".join(seen[0].split())
    assert "EXISTS (SELECT * FROM coordinators" in first and "RETURNING" in first
    assert "WHERE contacts.urn_hash =" in first and not _touch(seen[0])
    assert " JOIN cases " in seen[2] and "FROM outbox" in seen[2]


async def _last_seen(db, urn: str = "sim:test1"):
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(urn)
    assert contact is not None
    return contact.last_seen_at.replace(tzinfo=None)


async def test_last_seen_is_her_messages_time_on_every_path_as_before(harness, db):
    """Issue 19 moved a known person's stamp into her look-up: the same value on every path. A
    new contact, a known one, a repeat (nothing changes), a message over the reply limit."""
    await harness.say("hello")
    assert await _last_seen(db) == harness.clock().replace(tzinfo=None)
    harness.clock.advance(timedelta(minutes=3))
    with statements_seen(db) as seen:
        await harness.pipeline.receive(harness.inbound("shqip", external_id="SM7"))
    known = harness.clock().replace(tzinfo=None)
    assert await _last_seen(db) == known
    assert not [s for s in seen if _touch(s)]  # stamped by the look-up
    # A provider's retry, later: a duplicate, and her last-seen time stays her message's.
    harness.clock.advance(timedelta(minutes=5))
    with statements_seen(db) as seen:
        again = await harness.pipeline.receive(harness.inbound("shqip", external_id="SM7"))
    assert again.status == "duplicate"
    assert await _last_seen(db) == known
    assert [_kind(s) for s in seen] == ["UPDATE contacts", "INSERT INTO messages"]
    # The same provider id on another channel is another message: stamped.
    harness.clock.advance(timedelta(minutes=1))
    await harness.pipeline.receive(harness.inbound("po", external_id="SM7", channel="sms"))
    assert await _last_seen(db) == harness.clock().replace(tzinfo=None)
    # Over the per-sender limit: kept, not answered, last seen now.
    harness.clock.advance(timedelta(minutes=2))
    harness.pipeline.reply_limit = lambda urn, external_id: None
    limited = await harness.pipeline.receive(harness.inbound("po"))
    assert limited.status == "limited"
    assert await _last_seen(db) == harness.clock().replace(tzinfo=None)


async def _make_coordinator(harness, db) -> None:
    """Arta, Tirana's coordinator, at +355692220001 (the address the two tests below use)."""
    async with db.uow() as uow:
        await uow.coordinators.add(
            name="Arta",
            municipality="tirane",
            phone="+355692220001",
            telegram_chat_id=None,
            language="en",
            role="coordinator",
            now=harness.clock(),
        )
        await uow.commit()


async def test_a_coordinators_last_seen_changes_only_after_their_command_as_before(harness, db):
    """A coordinator's own last-seen time (WhatsApp's window for what goes to them) is read
    while their command is handled: the look-up leaves it, the touch at the end sets it."""
    urn = "tel:+355692220001"
    assert await harness.say("hello", urn, channel="sms")
    before = await _last_seen(db, urn)
    await _make_coordinator(harness, db)
    harness.clock.advance(timedelta(hours=30))
    read: list[object] = []
    desk = harness.pipeline.referral
    handle = desk.handle_coordinator

    async def handle_and_look(uow, coordinator, contact, inbound, now):
        read.append((await uow.contacts.find_by_urn(urn)).last_seen_at.replace(tzinfo=None))
        return await handle(uow, coordinator, contact, inbound, now)

    desk.handle_coordinator = handle_and_look
    with statements_seen(db) as seen:
        replies = await harness.say("help", urn, channel="sms")
    assert replies and replies[0].startswith("Commands:")
    assert read == [before]  # while handled: as it was
    assert await _last_seen(db, urn) == harness.clock().replace(tzinfo=None)
    assert len([s for s in seen if _touch(s)]) == 1


async def test_someone_who_wrote_before_becoming_a_coordinator_reaches_the_desk(harness, db):
    """Known as a person first: once a coordinator, what she writes is a command."""
    urn = "tel:+355692220001"
    assert await harness.say("hello", urn, channel="sms")  # the bot answers a person
    await _make_coordinator(harness, db)
    with statements_seen(db) as seen:
        replies = await harness.say("help", urn, channel="sms")
    assert replies and replies[0].startswith("Commands:")  # the desk's help, not the flows
    assert [s for s in seen if s.lstrip().startswith("SELECT coordinators.")]  # found by urn
    assert not [s for s in seen if s.lstrip().startswith("SELECT sessions.")]


async def test_what_waited_for_her_goes_when_she_writes_and_nothing_is_updated_else(harness, db):
    """Safe times: the UPDATE releasing her held replies runs only when some wait."""
    await harness.say("hello")
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn("sim:test1")
        held = await uow.outbox.add(
            contact_id=contact.id,
            channel="simulator",
            urn="sim:test1",
            text="kept for you",
            kind="reply",
            due_at=HELD,
            now=harness.clock(),
        )
        await uow.commit()
    with statements_seen(db) as seen:
        replies = await harness.say("shqip")
    assert "kept for you" in replies
    assert len([s for s in seen if s.lstrip().startswith("UPDATE outbox SET due_at")]) == 1
    with statements_seen(db) as seen:
        await harness.say("po")
    assert not [s for s in seen if s.lstrip().startswith("UPDATE outbox SET due_at")]
    assert held
