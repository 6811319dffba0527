"""Group commit in the pipeline: several people's messages in one transaction, each answered,
a failure isolated to its own message, every person's messages in order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from bot import engine
from bot.store.db import Database
from tests.pipeline_harness import Harness
from tests.store.fixtures import (  # noqa: F401
    commits,
    crypto,
    db,
    db_url,
    postgres_url,
    sqlite_template,
)

ENGINE_FLOWS = Path(__file__).parent / "engine" / "flows"
SCRIPT = ["hello", "shqip", "po", "tirana", "jo", "jo"]
FIRST_LINES = ["t.lang", "t.safe", "t.where", "t.weapon", "t.choke", "t.level"]


@pytest.fixture
async def harness(db: Database) -> Harness:
    return await Harness(db, flows_dir=ENGINE_FLOWS, trigger_flow="main").start()


async def deliver(harness: Harness) -> dict[str, list[str]]:
    """Send everything due; the first line of every text sent, per person."""
    while await harness.sender.drain_once():
        pass
    sent: dict[str, list[str]] = {}
    for message in harness.channel.sent:
        sent.setdefault(message.urn, []).append(message.text.split("\n")[0])
    return sent


async def test_messages_arriving_together_are_committed_once_and_all_answered(harness, commits):
    people = [f"sim:p{i}" for i in range(8)]
    handled = await asyncio.gather(
        *(harness.pipeline.receive(harness.inbound("hello", urn)) for urn in people)
    )
    assert [h.status for h in handled] == ["processed"] * 8
    assert len(commits) == 1  # eight messages, one transaction
    assert await deliver(harness) == {urn: ["t.lang"] for urn in people}


async def test_a_failing_message_leaves_the_others_committed_and_answered(
    harness, db, commits, monkeypatch
):
    people = [f"sim:p{i}" for i in range(4)]
    for urn in people:
        await harness.pipeline.receive(harness.inbound("hello", urn))
    await deliver(harness)
    resume = engine.resume

    def failing(session: Any, res: Any, *args: Any, **kwargs: Any) -> Any:
        # After the message, the contact and the session were written in its savepoint.
        if getattr(res, "text", None) == "boom":
            raise RuntimeError("the engine failed on this message")
        return resume(session, res, *args, **kwargs)

    monkeypatch.setattr(engine, "resume", failing)
    commits.clear()
    says = {people[0]: "shqip", people[1]: "boom", people[2]: "shqip", people[3]: "shqip"}
    handled = await asyncio.gather(
        *(harness.pipeline.receive(harness.inbound(text, urn)) for urn, text in says.items())
    )
    assert [h.status for h in handled] == ["processed", "failed", "processed", "processed"]
    # One batch for all four, then the failed message recorded with its apology alone. Had
    # its savepoint not been rolled back, the record would have found it stored: "duplicate".
    assert len(commits) == 2
    sent = await deliver(harness)
    apology = {harness.catalogs.text(lang, "sys.error").split("\n")[0] for lang in ("sq", "en")}
    assert len(sent[people[1]]) == 2 and sent[people[1]][0] == "t.lang"
    assert sent[people[1]][1] in apology
    assert all(sent[urn] == ["t.lang", "t.safe"] for urn in people if urn != people[1])
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(people[1])
        log = await uow.messages.list_for_contact(contact.id)
    assert [t for d, t, _ in log if d == "in"] == ["hello", "boom"]  # kept, once


async def test_every_persons_messages_stay_in_order_when_batched(harness, commits):
    people = [f"sim:p{i}" for i in range(5)]
    # Everyone's whole conversation at once, interleaved: batches mix people, never reorder one.
    messages = [harness.inbound(text, urn) for text in SCRIPT for urn in people]
    handled = await asyncio.gather(*(harness.pipeline.receive(m) for m in messages))
    assert {h.status for h in handled} == {"processed"}
    assert len(commits) < len(messages)  # batched
    assert await deliver(harness) == {urn: FIRST_LINES for urn in people}


async def test_a_repeat_in_the_same_batch_is_processed_once(harness, commits):
    first = harness.inbound("hello", "sim:p1", external_id="SM1")
    again = harness.inbound("hello", "sim:p1", external_id="SM1")
    other = harness.inbound("hello", "sim:p2", external_id="SM2")
    handled = await asyncio.gather(*(harness.pipeline.receive(m) for m in (first, again, other)))
    assert [h.status for h in handled] == ["processed", "duplicate", "processed"]
    assert await deliver(harness) == {"sim:p1": ["t.lang"], "sim:p2": ["t.lang"]}


def _fallbacks() -> float:
    value = REGISTRY.get_sample_value("helpline_group_commit_fallbacks_total", {"name": "receive"})
    return value or 0.0


async def test_a_repeat_in_a_batch_does_not_make_it_run_again(harness, commits):
    people = [f"sim:p{i}" for i in range(4)]
    first = harness.inbound("hello", people[0])
    await harness.pipeline.receive(first)
    before = _fallbacks()
    commits.clear()
    # The provider sends her message again while three others arrive.
    handled = await asyncio.gather(
        harness.pipeline.receive(first),
        *(harness.pipeline.receive(harness.inbound("hello", urn)) for urn in people[1:]),
    )
    assert [h.status for h in handled] == ["duplicate"] + ["processed"] * 3
    assert len(commits) == 1
    # A repeat commits its (empty) unit: the batch stays optimistic, run once.
    assert _fallbacks() == before
    assert await deliver(harness) == {urn: ["t.lang"] for urn in people}
