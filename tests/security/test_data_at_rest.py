"""Data at rest and in logs: conversations over SMS and Telegram, then the SQLite file, a
pg_dump of PostgreSQL and every log line are searched for each number, chat id, name and text."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.__main__ import _setup_logging
from bot.store.db import Database
from tests.auxil import telegram_payloads as tgp
from tests.auxil.channels_app import ChannelsApp, channels_app, fakes
from tests.auxil.fake_telegram import FakeTelegram
from tests.referral.harness import Desk
from tests.security.leaks import decrypted_text, found, phone_forms
from tests.store.fixtures import (  # noqa: F401
    PG_HOST,
    PG_PORT,
    PG_USER,
    crypto,
    db,
    db_url,
    postgres_url,
    sqlite_template,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

SMS_PERSON = "+355691110091"
TG_PERSON = 7770001234  # her chat id (= her Telegram user id)
COORDINATOR_CHAT = 5550009911
OTHER_COORDINATOR_CHAT = 5550009912
COORDINATOR_PHONE = "+355692229911"
COORDINATOR_NAME = "Besa Hoxhaj"
# What the two women write (long enough that a chance match in binary data is impossible).
SMS_TEXTS = [
    "Përshëndetje",
    "Tiranë",
    "po",
    "jam në rrezik",
    "Burri im Gentian më kërcënoi me thikë dje",
    "Jam te fqinja Valbona në Kombinat",
]
TG_TEXTS = ["hi", "Durres", "yes", "SOS", "my brother-in-law Florian follows me to work"]
COORDINATOR_TEXTS = ["Ku ndodhesh tani, a je vetëm?", "fqinja Valbona e strehon sonte"]
NAMES = [COORDINATOR_NAME, "Hoxhaj", "Krasniqi", "Gentian", "Valbona", "Florian"]


def needles() -> list[str]:
    """Everything personal the conversations carried. Words shorter than 12 letters ("po",
    "SOS", "Tiranë") are left out: they occur anyway as catalog texts and municipality names."""
    texts = [t for t in SMS_TEXTS + TG_TEXTS + COORDINATOR_TEXTS if len(t) >= 12]
    numbers = phone_forms(SMS_PERSON) + phone_forms(COORDINATOR_PHONE)
    chats = [str(TG_PERSON), str(COORDINATOR_CHAT), str(OTHER_COORDINATOR_CHAT)]
    return [*numbers, *chats, *NAMES, *texts]


class Phones:
    """Two survivors (SMS, Telegram) and a coordinator (Telegram) through the real webhooks."""

    def __init__(self, desk: Desk, app: ChannelsApp, telegram: FakeTelegram) -> None:
        self.desk, self.app, self.fake_telegram = desk, app, telegram
        self._update = 0
        self._message = 100

    async def sms(self, body: str) -> None:
        await self.app.sms(SMS_PERSON, body)
        await self.app.deliver()

    async def telegram(self, chat_id: int, body: str) -> None:
        self._update += 1
        self._message += 1
        message = tgp.message(self._message, chat_id, text=body)
        await self.app.update(tgp.update(self._update, message=message))
        await self.app.deliver()


@pytest.fixture
async def phones(db: Database, tmp_path: Path) -> AsyncIterator[Phones]:
    desk = await Desk(db).start()
    await desk.add_coordinator(
        COORDINATOR_NAME, "tirane", phone=COORDINATOR_PHONE, chat=str(COORDINATOR_CHAT)
    )
    await desk.add_coordinator(COORDINATOR_NAME, "durres", chat=str(OTHER_COORDINATOR_CHAT))
    async with (
        fakes() as (twilio, telegram),
        channels_app(
            db, desk.pipeline, desk.clock, tmp_path, twilio=twilio, telegram=telegram
        ) as app,
    ):
        yield Phones(desk, app, telegram)


async def _converse(phones: Phones) -> None:
    """Both women ask for help; the coordinator accepts, relays, notes, asks for the number."""
    for body in SMS_TEXTS[:4]:
        await phones.sms(body)
    for body in TG_TEXTS[:4]:
        await phones.telegram(TG_PERSON, body)
    sent = " ".join(c["text"] for c in phones.fake_telegram.calls_to("sendMessage"))
    first, second = dict.fromkeys(re.findall(r"R-[0-9A-Z]{4,}", sent))
    await phones.telegram(COORDINATOR_CHAT, f"OK {first}")
    await phones.telegram(COORDINATOR_CHAT, f"{first} {COORDINATOR_TEXTS[0]}")
    await phones.sms(SMS_TEXTS[5])  # relayed to the coordinator
    await phones.telegram(COORDINATOR_CHAT, f"SHENIM {first} {COORDINATOR_TEXTS[1]}")
    await phones.telegram(COORDINATOR_CHAT, f"NUMRI {first}")
    await phones.sms(SMS_TEXTS[4])
    await phones.telegram(TG_PERSON, TG_TEXTS[4])
    assert second  # both cases were opened and paged


async def test_nothing_personal_at_rest_or_in_logs(
    phones: Phones, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    _setup_logging(verbose=True)  # debug logging, libraries as `helpline -v` leaves them
    caplog.set_level(logging.DEBUG)
    await _converse(phones)

    # The data is there (a key holder reads it back), so the search below is not vacuous.
    readable = await decrypted_text(db)
    assert found(readable, [SMS_TEXTS[4], COORDINATOR_TEXTS[1], COORDINATOR_NAME]) == sorted(
        [SMS_TEXTS[4], COORDINATOR_TEXTS[1], COORDINATOR_NAME]
    )
    raw = await _raw_bytes(db)
    assert len(raw) > 50_000
    assert found(raw, needles()) == [], "personal data stored in the clear"
    logs = caplog.text + "".join(
        str(r.exc_info) + str(r.args) for r in caplog.records if r.exc_info or r.args
    )
    assert len(caplog.records) > 10  # the conversations were logged...
    assert found(logs, needles()) == [], "personal data in the logs"  # ...without her


async def _raw_bytes(db: Database) -> bytes:
    """The database as it lies on disk (SQLite: the file, its journal) or as pg_dump writes it."""
    url = make_url(db.url)
    await db.dispose()  # SQLite: the WAL is checkpointed into the file
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    dump = await asyncio.create_subprocess_exec(
        pg_dump,
        "-h",
        PG_HOST,
        "-p",
        str(PG_PORT),
        "-U",
        PG_USER,
        "-d",
        url.database or "",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(dump.communicate(), 60)
    assert dump.returncode == 0
    assert b"COPY public.messages" in out
    return out
