"""Fault (b): Twilio answers 500 for a whole minute. Coordinators are paged by Telegram meanwhile;
after Twilio recovers every reply is delivered, once.

The clock is the test's: the minute is simulated, the outbox's real backoff (2 s doubling,
HELPLINE_OUTBOX_RETRY_BASE/MAX) runs against it, so the test takes well under a second and
waits on nothing. Real twilio and python-telegram-bot clients talk to the local fakes.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.auxil.channels_app import channels_app, fakes
from tests.referral.harness import Desk
from tests.store.fixtures import crypto, db, db_url, postgres_url, sqlite_template  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

SURVIVORS = [f"+3556911102{i:02d}" for i in range(8)]
COORDINATOR_PHONE = "+355692220031"
COORDINATOR_CHAT = 5550003331
OUTAGE = timedelta(minutes=1)
TICK = timedelta(seconds=5)
SAYS = ["hi", "Tirana", "po", "më rreh"]  # the last one is urgent: the coordinator is paged


# PostgreSQL only (production's database; the referral suite runs the fallback on both), to keep
# the suite's time budget.
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_twilio_down_for_a_minute(db, tmp_path: Path) -> None:
    desk = await Desk(db).start()
    coordinator = await desk.add_coordinator(
        "Arta", "tirane", phone=COORDINATOR_PHONE, chat=str(COORDINATOR_CHAT)
    )
    async with db.uow() as uow:
        # Her Telegram failed once before, so SMS is tried first: the page has to fall back.
        await uow.coordinators.set_failing_channel(coordinator.id, "telegram")
        await uow.commit()
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, desk.pipeline, desk.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        twilio.fail_all_with(500)
        start = desk.clock()
        for body in SAYS:
            for person in SURVIVORS:
                await app.sms(person, body)
        while desk.clock() - start < OUTAGE:
            await app.deliver()
            await desk.pipeline.sweep_fires()  # the referral sweep: failed pages go another way
            await app.deliver()
            desk.clock.advance(TICK)

        # Meanwhile: nothing got through Twilio, though it was tried; every case's page reached
        # the coordinator on Telegram.
        assert twilio.messages == {}
        tried = len(twilio.created())
        assert tried > len(SURVIVORS) * len(SAYS)  # tried, and tried again
        pages = [c["text"] for c in telegram.calls_to("sendMessage")]
        references = {m for text in pages for m in re.findall(r"URGJENT (R-[0-9A-Z]{4,})", text)}
        assert len(references) == len(SURVIVORS)
        assert all(c["chat_id"] == COORDINATOR_CHAT for c in telegram.calls_to("sendMessage"))

        twilio.recover()
        for _ in range(20):  # bounded: the longest backoff after a minute is about 2 minutes
            desk.clock.advance(timedelta(minutes=1))
            await desk.pipeline.sweep_fires()
            await app.deliver()
            async with db.uow() as uow:
                left = (
                    await uow.conn.execute(
                        sa.text("SELECT count(*) FROM outbox WHERE status IN ('pending','leased')")
                    )
                ).scalar_one()
            if not left:
                break
        async with db.uow() as uow:
            rows = (await uow.conn.execute(sa.text("SELECT status, last_error FROM outbox"))).all()
        statuses = Counter(r.status for r in rows)
        superseded = [r for r in rows if (r.last_error or "").startswith("superseded")]

    to_people = Counter(str(m["to"]) for m in twilio.messages.values())
    bodies = Counter((str(m["to"]), str(m["body"])) for m in twilio.messages.values())
    # Every survivor got one reply per message; none twice; the pages that went by Telegram
    # were not sent again by SMS once Twilio was back.
    assert to_people == dict.fromkeys(SURVIVORS, len(SAYS))
    assert max(bodies.values()) == 1
    assert COORDINATOR_PHONE not in to_people
    # Nothing left to send, nothing given up on: the only "failed" rows are SMS pages whose
    # retries were stopped because Telegram delivered them.
    assert statuses["pending"] == 0 and statuses["leased"] == 0
    assert statuses["failed"] == len(superseded) >= len(SURVIVORS)
    print(
        f"\noutage: {len(SURVIVORS) * len(SAYS)} SMS replies queued, {tried} attempts refused by "
        f"Twilio during the minute, {len(twilio.messages)} delivered after, "
        f"{len(references)} pages by Telegram meanwhile"
    )
