"""End to end over the fake Twilio: signed webhooks in, REST requests out, a case worked by SMS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.twilio_sms import SMS_PATH, TwilioSmsChannel
from bot.config import load_settings
from bot.outbox import OutboxSender
from bot.pacing import Pacer
from tests.auxil import twilio_payloads as tp
from tests.auxil.fake_twilio import FakeTwilio
from tests.referral.harness import Desk

PUBLIC = "https://helpline.example.org"
PERSON = "+355691110001"
COORDINATOR = "+355692220001"


class Phones:
    """The helpline behind Twilio: people text it by webhook and read what the fake was sent."""

    def __init__(self, desk: Desk, client: TestClient, fake: FakeTwilio) -> None:
        self.desk, self.client, self.fake = desk, client, fake

    async def text(self, from_: str, body: str) -> dict[str, list[str]]:
        """A signed webhook from `from_`; then what Twilio was asked to send, by recipient."""
        before = len(self.fake.created())
        form = tp.inbound_sms(from_, body)
        headers = tp.signed_headers(PUBLIC + SMS_PATH, form)
        async with self.client.post(SMS_PATH, data=form, headers=headers) as resp:
            assert resp.status == 200
        while await self.desk.sender.drain_once():
            pass
        sent: dict[str, list[str]] = {}
        for request in self.fake.created()[before:]:
            assert request.form["From"] == tp.HELPLINE_NUMBER
            sent.setdefault(request.form["To"], []).append(request.form["Body"])
        return sent


@pytest.fixture
async def phones(db, tmp_path: Path) -> AsyncIterator[Phones]:
    fake = FakeTwilio()
    await fake.start()
    settings = load_settings(
        env={
            "HELPLINE_VAR_DIR": str(tmp_path),
            "HELPLINE_PUBLIC_URL": PUBLIC,
            "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
            "HELPLINE_TWILIO_API_URL": fake.url,
        }
    )
    desk = await Desk(db).start()
    channel = TwilioSmsChannel(
        settings,
        receive=desk.pipeline.receive,
        on_status=desk.pipeline.record_status,
        on_opt_out=desk.pipeline.set_opt_out,
    )
    desk.sender = OutboxSender(db, {"sms": channel}, desk.clock, pacer=Pacer.off())
    app = web.Application()
    app.add_routes(channel.routes())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    await channel.start()
    try:
        yield Phones(desk, client, fake)
    finally:
        await channel.stop()
        await client.close()
        await fake.stop()


async def test_a_case_from_danger_to_closed_by_sms(phones: Phones, db):
    await phones.desk.add_coordinator("Arta", "tirane", phone=COORDINATOR)
    await phones.text(PERSON, "Përshëndetje")
    await phones.text(PERSON, "Tiranë")
    sent = await phones.text(PERSON, "jam në rrezik")
    [to_person] = sent[PERSON]
    assert to_person.startswith("t.danger")
    [alert] = sent[COORDINATOR]
    ref = re.search(r"R-\d{4,}", alert).group(0)
    assert alert.startswith(f"URGJENT {ref}: Tiranë")
    assert PERSON[4:] not in alert and "rrezik" in alert  # risk words, never her words or number

    sent = await phones.text(COORDINATOR, f"OK {ref}")
    assert sent[COORDINATOR][0].startswith(f"{ref} është i yti.")
    assert sent[PERSON] == [
        "Një koordinator e ka marrë kërkesën tënde dhe do të të shkruajë këtu së shpejti."
    ]
    sent = await phones.text(COORDINATOR, f"{ref} A mund të flasësh tani?")
    assert sent == {
        PERSON: ["Koordinatori: A mund të flasësh tani?"],
        COORDINATOR: [f"U dërgua te {ref}."],
    }
    sent = await phones.text(PERSON, "Po, jam vetëm.")
    assert sent == {COORDINATOR: [f"{ref} shkruan: Po, jam vetëm."]}
    sent = await phones.text(COORDINATOR, f"MBYLL {ref} zgjidhur")
    assert sent == {COORDINATOR: [f"{ref} u mbyll: zgjidhur."]}
    async with db.uow() as uow:
        assert (await uow.cases.get_by_reference(ref)).status == "closed"
