"""Per-sender limit (HELPLINE_RATE_PER_SENDER): every message is kept; the replies are limited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.channels.twilio_sms import SMS_PATH
from bot.store.db import Database
from bot.store.models import MessageRow
from bot.web.limits import ReplyLimiter
from tests.auxil import telegram_payloads as tgp
from tests.auxil import twilio_payloads as smsp
from tests.auxil.channels_app import PUBLIC, SECRET, ChannelsApp, channels_app, fakes
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio
from tests.pipeline_harness import Harness
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

FLOODER = "+355691110099"
OTHER = "+355691110098"
CHAT = 7770009999
LIMIT = 3  # replies a minute; the 4th to 6th wait 20, 40, 60 s; later ones are not answered


@dataclass
class Line:
    """The real pipeline behind both channels, with a per-sender limit of LIMIT a minute."""

    convo: Harness
    app: ChannelsApp
    twilio: FakeTwilio
    telegram: FakeTelegram

    async def sms(self, from_: str, body: str, form: dict[str, str] | None = None) -> int:
        """Post a signed inbound SMS (this form again, for a retry); the status."""
        form = form or smsp.inbound_sms(from_, body)
        headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
        async with self.app.client.post(SMS_PATH, data=form, headers=headers) as resp:
            return resp.status

    async def sent_to(self, phone: str) -> int:
        """How many SMS Twilio was asked to send to this number so far (after delivering)."""
        await self.app.deliver()
        return sum(1 for r in self.twilio.created() if r.form["To"] == phone)


@pytest.fixture
async def line(db: Database, tmp_path: Path) -> AsyncIterator[Line]:
    convo = await Harness(db).start()
    assert convo.pipeline is not None
    convo.pipeline.reply_limit = ReplyLimiter(
        LIMIT, clock=lambda: convo.clock().timestamp()
    ).reserve
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, convo.pipeline, convo.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Line(convo, app, twilio, telegram)


async def inbound_count(db: Database, channel: str) -> int:
    """Inbound messages stored for a channel."""
    table = MessageRow.__table__
    async with db.uow() as uow:
        query = sa.select(sa.func.count()).where(
            table.c.direction == "in", table.c.channel == channel
        )
        return (await uow.conn.execute(query)).scalar_one()


async def test_a_flood_is_kept_and_only_the_replies_are_limited(line: Line, db: Database) -> None:
    first = smsp.inbound_sms(FLOODER, "ndihmë")
    assert await line.sms(FLOODER, "", first) == 200
    # Twilio retrying the same message five times: duplicates, dropped before the limit.
    for _ in range(5):
        assert await line.sms(FLOODER, "", first) == 200
    # Eight more: every one taken (200) and kept, never a 429 that Twilio would not retry.
    statuses = [await line.sms(FLOODER, f"mesazhi {n}") for n in range(8)]
    assert statuses == [200] * 8
    assert await inbound_count(db, "sms") == 9
    # Replies: the first LIMIT at once (the retries took none), three more held back by up to
    # a minute, none for the rest.
    assert await line.sent_to(FLOODER) == LIMIT
    line.convo.clock.advance(timedelta(seconds=60))
    assert await line.sent_to(FLOODER) == LIMIT + 3
    line.convo.clock.advance(timedelta(minutes=10))
    assert await line.sent_to(FLOODER) == LIMIT + 3
    # Somebody else is not limited by her flood.
    assert await line.sms(OTHER, "ndihmë") == 200
    assert await line.sent_to(OTHER) == 1


async def test_a_keyword_is_answered_at_once_even_over_the_limit(line: Line) -> None:
    for n in range(LIMIT + 4):
        assert await line.sms(FLOODER, f"mesazhi {n}") == 200
    before = await line.sent_to(FLOODER)
    assert before == LIMIT
    assert await line.sms(FLOODER, "DIL") == 200  # quick exit: never held back
    assert await line.sent_to(FLOODER) == before + 1


async def test_telegram_floods_are_kept_too(line: Line, db: Database) -> None:
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    statuses = []
    for n in range(LIMIT + 5):
        update = tgp.text(n + 1, "ndihmë", chat_id=CHAT)
        async with line.app.client.post(
            WEBHOOK_PATH, data=json.dumps(update), headers=headers
        ) as resp:
            statuses.append(resp.status)
    assert statuses == [200] * (LIMIT + 5)
    assert await inbound_count(db, "telegram") == LIMIT + 5
    await line.app.deliver()
    assert len(line.telegram.calls_to("sendMessage")) == LIMIT


def test_the_reply_limiter_reserves_slots_then_refuses() -> None:
    now = [0.0]
    limiter = ReplyLimiter(3, clock=lambda: now[0])
    assert [limiter.reserve("a") for _ in range(7)] == [0, 0, 0, 20, 40, 60, None]
    assert limiter.reserve("b") == 0  # each sender alone
    now[0] = 200.0
    assert limiter.reserve("a") == 0  # slots come back with time
    assert ReplyLimiter(0).reserve("a") == 0  # off


def test_the_same_message_asking_again_gets_the_same_answer_and_no_second_slot() -> None:
    """A batch run again (bot/store/group_commit.py) asks again for the same message."""
    now = [100.0]
    limiter = ReplyLimiter(1, clock=lambda: now[0])
    assert limiter.reserve("a", "m1") == 0
    assert limiter.reserve("a", "m1") == 0  # the same message: its slot, not another
    assert limiter.reserve("a", "m2") == 60  # the next slot is still the second
    assert limiter.reserve("a", "m2") == 60
    assert limiter.reserve("a", "m3") is None  # beyond the horizon, and so again
    assert limiter.reserve("a", "m3") is None
