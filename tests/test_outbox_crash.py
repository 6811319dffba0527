"""The sender killed mid-send (SIGKILL while Twilio has the request): the reply still goes, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from sqlalchemy import create_engine

from bot.channels.twilio_sms import SMS_PATH
from tests.auxil import twilio_payloads as tp
from tests.auxil.fake_twilio import FakeTwilio
from tests.auxil.server_process import ServerProcess, helpline
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

PUBLIC = "https://helpline.example.org"
PERSON = "+355691110077"
WAIT = 60.0  # a bound on each wait, so a broken sender fails the test instead of hanging it


async def test_a_sender_killed_mid_send_resumes_and_sends_once(tmp_path: Path) -> None:
    fake = FakeTwilio()
    await fake.start()
    database = tmp_path / "helpline.db"
    env = {
        "HELPLINE_DATABASE_URL": f"sqlite:///{database}",
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
        "HELPLINE_OUTBOX_LEASE": "PT1S",  # the restarted sender may take the row back at once
        "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
        "HELPLINE_TWILIO_API_URL": fake.url,
    }
    helpline("db", "upgrade", env=env)
    server = await ServerProcess(env).start()
    try:
        fake.hang_next()  # Twilio takes the request and says nothing...
        form = tp.inbound_sms(PERSON, "pershendetje")
        async with aiohttp.ClientSession() as http:
            headers = tp.signed_headers(PUBLIC + SMS_PATH, form)
            async with http.post(server.url + SMS_PATH, data=form, headers=headers) as resp:
                assert resp.status == 200
        async with asyncio.timeout(WAIT):
            await fake.wait_until(lambda: len(fake.created()) == 1)
        await server.kill()  # ...and the helpline dies while it waits for the answer.
        assert fake.messages == {}

        server = await ServerProcess(env, port=server.port).start()
        async with asyncio.timeout(WAIT):
            await fake.wait_until(lambda: len(fake.messages) == 1)
        [message] = fake.messages.values()
        assert message["to"] == PERSON and "Përshëndetje" in str(message["body"])
        assert len(fake.created()) == 2  # the request that hung, then the one that went
    finally:
        await server.stop()
        fake.release()  # the hung request now finds its sender gone: still nothing created
        await fake.stop()
    assert len(fake.messages) == 1
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT status, attempts, external_id FROM outbox")).all()
    engine.dispose()
    # Sent once; the lease that ran out with the dead sender counts as an attempt.
    assert [(r.status, r.attempts, r.external_id) for r in rows] == [("sent", 1, message["sid"])]
