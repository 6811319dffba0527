"""Whole conversations through the real channels: signed webhooks in, requests out, FSHI."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.store.db import Database
from tests.auxil import telegram_payloads as tp
from tests.auxil.channels_app import PUBLIC, ChannelsApp, channels_app, fakes
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio
from tests.flows.test_dialogues import SQ_HIGH_RISK, expect
from tests.flows.test_dialogues import text as catalog_text
from tests.pipeline_harness import Harness as PipelineHarness
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

PERSON = "+355691110042"

# PTB 22 warns inside RetryAfter's own constructor; the channel reads both value types.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@dataclass
class Line:
    """The helpline behind both fakes, driven through its webhooks."""

    convo: PipelineHarness
    app: ChannelsApp
    twilio: FakeTwilio
    telegram: FakeTelegram

    async def sms(self, body: str) -> list[str]:
        """A signed inbound SMS; the bodies Twilio was then asked to send to the person."""
        before = len(self.twilio.created())
        await self.app.sms(PERSON, body)
        await self.app.deliver()
        created = self.twilio.created()[before:]
        assert all(r.form["To"] == PERSON for r in created)
        return [r.form["Body"] for r in created]

    async def telegram_update(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Post one update with the secret; the sendMessage calls made after it."""
        before = len(self.telegram.calls_to("sendMessage"))
        await self.app.update(update)
        await self.app.deliver()
        return self.telegram.calls_to("sendMessage")[before:]


@pytest.fixture
async def line(db: Database, tmp_path: Path) -> AsyncIterator[Line]:
    convo = await PipelineHarness(db).start()
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, convo.pipeline, convo.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Line(convo, app, twilio, telegram)


async def test_a_whole_screening_over_sms(line: Line, db: Database) -> None:
    """SQ_HIGH_RISK typed by SMS without diacritics: every reply, then the case and its number."""
    for says, expected in SQ_HIGH_RISK:
        [reply] = await line.sms(says)  # one engine turn → one SMS (the carrier joins parts)
        expect(reply, expected)
    [last] = await line.sms("strehim")
    expect(last, [("sq", "services.noted"), ("sq", "services.more")])
    await line.sms("jo")
    [info] = await line.sms("po")
    expect(info, [("sq", "orders.al"), ("sq", "orders.have")])  # Follow-ups: an order already?
    [bye] = await line.sms("jo")
    expect(bye, [("sq", "fc.bye_case")])
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(f"tel:{PERSON}")
        assert contact is not None
        case = await uow.cases.open_for_contact(contact.id)
        rows = (
            await uow.conn.execute(
                sa.text("SELECT status, segments FROM outbox WHERE contact_id = :c"),
                {"c": contact.id},
            )
        ).all()
    assert case is not None and case.reference in bye
    assert (case.risk_level, case.municipality) == ("high", "tirane")
    # Every message Twilio was asked to send carried our status callback; the outbox kept
    # how many segments each one cost.
    created = line.twilio.created()
    assert {r.form["StatusCallback"] for r in created} == {PUBLIC + "/webhooks/twilio/status"}
    assert len(rows) == len(created) == len(SQ_HIGH_RISK) + 4  # + the order question
    assert all(status == "sent" and segments >= 1 for status, segments in rows)
    assert sum(segments for _, segments in rows) > len(rows)  # long texts: several segments


async def test_fshi_by_sms_deletes_every_message_from_twilio(line: Line, db: Database) -> None:
    """Twilio keeps every body in its logs: FSHI deletes them there (retrying 20009)."""
    clock = line.convo.clock
    await line.sms("pershendetje")
    await line.sms("shqip")
    [confirm] = await line.sms("FSHI")
    assert catalog_text("sq", "erase.confirm").split("{")[0] in confirm
    kept = set(line.twilio.messages) | set(line.twilio.inbound)
    [done] = await line.sms("po")
    assert done == catalog_text("sq", "erase.done")
    # Her "po", and the confirmation: sent after FSHI, it joins the deletion still to run.
    kept |= set(line.twilio.inbound) | set(line.twilio.messages)
    assert line.twilio.deleted == []  # Twilio is given a little time to finish them first

    line.twilio.refuse_deletes(1)  # 20009: still processing
    clock.advance(timedelta(minutes=2))
    await line.app.deliver()
    assert line.twilio.deleted == []
    clock.advance(timedelta(minutes=2))
    await line.app.deliver()
    assert set(line.twilio.deleted) == kept and len(kept) == 8  # 4 hers, 4 ours
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(f"tel:{PERSON}") is None
        left = (await uow.conn.execute(sa.text("SELECT count(*) FROM outbox"))).scalar_one()
    assert left == 0  # the rows that sent the confirmation and did the deleting are gone too


async def test_a_whole_screening_over_telegram_then_fshi_deletes_the_chat(
    line: Line, db: Database
) -> None:
    """The same screening by buttons and typing; FSHI then deletes the chat's last 48 hours."""
    clock, fake = line.convo.clock, line.telegram
    updates = itertools.count(1)
    keyboard: dict[str, str] = {}  # label (lower case) -> callback data of the last buttons
    last_bot_message = 0
    pressed: list[str] = []

    async def says(body: str) -> str:
        """Press the button labelled `body` if the last reply had one, else type it."""
        nonlocal keyboard, last_bot_message
        data = keyboard.get(body.lower())
        if data is not None:
            n = next(updates)
            pressed.append(f"q{n}")
            update = tp.callback(n, data, query_id=f"q{n}", message_id=last_bot_message)
        else:
            mid = fake.seed_message(tp.CHAT_ID, body, clock())  # the person's own message
            update = tp.update(next(updates), message=tp.message(mid, date=clock(), text=body))
        [call] = await line.telegram_update(update)
        assert call["chat_id"] == tp.CHAT_ID
        rows = (call.get("reply_markup") or {}).get("inline_keyboard") or []
        keyboard = {row[0]["text"].lower(): row[0]["callback_data"] for row in rows}
        last_bot_message = max(fake.message_ids(tp.CHAT_ID))
        return call["text"]

    for body, expected in SQ_HIGH_RISK:
        expect(await says(body), expected)
    expect(await says("strehim"), [("sq", "services.noted")])
    assert len(pressed) >= 5  # yes/no questions and choices were answered by button
    assert fake.answered == pressed  # every press was answered (the spinner stops)
    old = set(fake.message_ids(tp.CHAT_ID))

    # Two days later she writes again; a day after that she asks to erase everything.
    clock.advance(timedelta(hours=30))
    await says("pershendetje")
    clock.advance(timedelta(hours=20))
    recent = set(fake.message_ids(tp.CHAT_ID)) - old
    confirm = await says("FSHI")
    assert catalog_text("sq", "erase.confirm").split("{")[0] in confirm
    newest = max(fake.message_ids(tp.CHAT_ID))
    recent |= {newest - 1, newest}  # her FSHI and our question
    done = await says("po")  # pressed: a button press adds no message to the chat
    assert pressed[-1] == fake.answered[-1]
    assert done == catalog_text("sq", "erase.done")

    # Every message of the last 48 hours, hers and ours, is gone from her phone, except the
    # confirmation; older ones Telegram would refuse, so they are not even asked for.
    deleted = fake.deleted[tp.CHAT_ID]
    asked = {c["message_id"] for c in fake.calls_to("deleteMessage")}
    assert set(deleted) == asked == recent
    assert not asked & old
    assert [m["text"] for m in fake.messages[tp.CHAT_ID].values()][-1] == done
    async with db.uow() as uow:
        assert await uow.contacts.find_by_urn(f"telegram:{tp.CHAT_ID}") is None


async def test_a_shared_location_answers_the_municipality_question(
    line: Line, db: Database
) -> None:
    """On Telegram she may send her location instead of typing where she lives; only the
    municipality is kept, never the coordinates."""
    clock, fake = line.convo.clock, line.telegram
    updates = itertools.count(1)
    port_of_durres = (41.3110, 19.4480)
    for body, expected in SQ_HIGH_RISK:
        n = next(updates)
        if body == "tirana":
            mid = fake.seed_message(tp.CHAT_ID, "", clock())
            update = tp.location(n, *port_of_durres, message_id=mid)
        else:
            mid = fake.seed_message(tp.CHAT_ID, body, clock())
            update = tp.update(n, message=tp.message(mid, date=clock(), text=body))
        [call] = await line.telegram_update(update)
        expect(call["text"], expected)
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(f"telegram:{tp.CHAT_ID}")
        assert contact is not None
        case = await uow.cases.open_for_contact(contact.id)
        stored = (await uow.conn.execute(sa.text("SELECT * FROM messages"))).mappings().all()
    assert case is not None and case.municipality == "durres"
    # Nothing that was stored holds the coordinates, in any column, in any form.
    dump = repr([dict(row) for row in stored]) + repr(case)
    assert "41.31" not in dump and "19.44" not in dump


async def test_a_location_far_away_is_asked_again(line: Line) -> None:
    """A location outside Albania and Kosovo does not guess: the question is asked again."""
    clock, fake = line.convo.clock, line.telegram
    for n, (body, _) in enumerate(SQ_HIGH_RISK[:4], start=1):
        mid = fake.seed_message(tp.CHAT_ID, body, clock())
        await line.telegram_update(tp.update(n, message=tp.message(mid, date=clock(), text=body)))
    [call] = await line.telegram_update(tp.location(5, 41.9028, 12.4964, message_id=900))
    assert catalog_text("sq", "fc.municipality").split("{")[0][:30] in call["text"]


async def test_english_yes_by_sms_reaches_the_conversation(line: Line) -> None:
    """Twilio counts YES as an opt-in word; from someone who never opted out it is her answer."""
    await line.sms("hello")
    expect((await line.sms("english"))[0], [("en", "fc.safe_now")])
    [reply] = await line.sms("YES")
    expect(reply, [("en", "fc.danger_now")])
