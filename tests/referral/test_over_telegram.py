"""End to end over both fakes: a survivor by SMS, her coordinator on Telegram with buttons."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.channels.twilio_sms import SMS_PATH, TwilioSmsChannel
from bot.config import load_settings
from bot.outbox import OutboxSender
from bot.pacing import Pacer
from tests.auxil import telegram_payloads as tgp
from tests.auxil import twilio_payloads as smsp
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio
from tests.referral.harness import Desk

PUBLIC = "https://helpline.example.org"
SECRET = "referral-webhook-secret"
PERSON = "+355691110003"
COORDINATOR_CHAT = 5550007771

# PTB 22 warns inside RetryAfter's own constructor; the channel reads both value types.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


class Phones:
    """The survivor's phone (SMS through fake Twilio) and the coordinator's (fake Telegram)."""

    def __init__(
        self, desk: Desk, client: TestClient, twilio: FakeTwilio, telegram: FakeTelegram
    ) -> None:
        self.desk, self.client, self.twilio, self.telegram = desk, client, twilio, telegram
        self._updates = itertools.count(1)
        self._messages = itertools.count(900)

    async def _delivered(self, before: tuple[int, int]) -> tuple[list[str], list[dict[str, Any]]]:
        while await self.desk.sender.drain_once():
            pass
        sms = [r.form["Body"] for r in self.twilio.created()[before[0] :]]
        assert all(r.form["To"] == PERSON for r in self.twilio.created()[before[0] :])
        tg = self.telegram.calls_to("sendMessage")[before[1] :]
        assert all(c["chat_id"] == COORDINATOR_CHAT for c in tg)
        return sms, tg

    def _before(self) -> tuple[int, int]:
        return len(self.twilio.created()), len(self.telegram.calls_to("sendMessage"))

    async def survivor(self, body: str) -> tuple[list[str], list[dict[str, Any]]]:
        """She texts the helpline; (SMS to her, Telegram messages to the coordinator)."""
        before = self._before()
        form = smsp.inbound_sms(PERSON, body)
        headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
        async with self.client.post(SMS_PATH, data=form, headers=headers) as resp:
            assert resp.status == 200
        return await self._delivered(before)

    async def coordinator(
        self, body: str = "", *, press: tuple[str, int] | None = None, reply_to: int | None = None
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """The coordinator types, replies to one of our messages, or presses a button."""
        before = self._before()
        n = next(self._updates)
        if press is not None:
            data, message_id = press
            update = tgp.callback(
                n, data, query_id=f"q{n}", message_id=message_id, chat_id=COORDINATOR_CHAT
            )
        else:
            message = tgp.message(next(self._messages), COORDINATOR_CHAT, text=body)
            if reply_to is not None:
                message["reply_to_message"] = tgp.message(
                    reply_to, COORDINATOR_CHAT, text="(our message)"
                )
            update = tgp.update(n, message=message)
        headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
        async with self.client.post(WEBHOOK_PATH, data=json.dumps(update), headers=headers) as r:
            assert r.status == 200
        return await self._delivered(before)


@pytest.fixture
async def phones(db, tmp_path: Path) -> AsyncIterator[Phones]:
    twilio, telegram = FakeTwilio(), FakeTelegram()
    await twilio.start()
    await telegram.start()
    settings = load_settings(
        env={
            "HELPLINE_VAR_DIR": str(tmp_path),
            "HELPLINE_PUBLIC_URL": PUBLIC,
            "TWILIO_ACCOUNT_SID": smsp.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": smsp.AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": smsp.HELPLINE_NUMBER,
            "HELPLINE_TWILIO_API_URL": twilio.url,
            "TELEGRAM_BOT_TOKEN": tgp.TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "HELPLINE_TELEGRAM_API_URL": telegram.url,
        }
    )
    desk = await Desk(db).start()
    telegram.clock = desk.clock
    pipeline = desk.pipeline
    sms = TwilioSmsChannel(
        settings,
        receive=pipeline.receive,
        on_status=pipeline.record_status,
        on_opt_out=pipeline.set_opt_out,
        clock=desk.clock,
    )
    tg = TelegramChannel(settings, receive=pipeline.receive, clock=desk.clock)
    desk.sender = OutboxSender(db, {"sms": sms, "telegram": tg}, desk.clock, pacer=Pacer.off())
    app = web.Application()
    app.add_routes(sms.routes())
    app.add_routes(tg.routes())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    await sms.start()
    await tg.start()
    try:
        yield Phones(desk, client, twilio, telegram)
    finally:
        await tg.stop()
        await sms.stop()
        await client.close()
        await telegram.stop()
        await twilio.stop()


async def test_danger_by_sms_accepted_and_worked_from_telegram(phones: Phones, db) -> None:
    await phones.desk.add_coordinator("Arta", "tirane", chat=str(COORDINATOR_CHAT), lang="sq")
    await phones.survivor("Përshëndetje")
    await phones.survivor("Tiranë")
    to_her, to_coordinator = await phones.survivor("jam në rrezik")
    [danger] = to_her
    assert danger.startswith("t.danger")

    # The alert reaches her coordinator's Telegram, with a button to accept; nothing of the
    # survivor's words or number in it.
    [alert] = to_coordinator
    ref = re.search(r"R-\d{4,}", alert["text"]).group(0)
    assert alert["text"].startswith(f"URGJENT {ref}: Tiranë")
    assert PERSON[1:] not in alert["text"] and PERSON[4:] not in alert["text"]
    buttons = alert["reply_markup"]["inline_keyboard"]
    assert buttons == [[{"text": f"OK {ref}", "callback_data": f"OK {ref}"}]]
    alert_id = max(phones.telegram.message_ids(COORDINATOR_CHAT))

    # She presses it: the press is answered, she is told the case is hers, the survivor too.
    to_her, to_coordinator = await phones.coordinator(press=(f"OK {ref}", alert_id))
    assert phones.telegram.answered[-1] == "q1"
    [taken] = to_coordinator
    assert taken["text"].startswith(f"{ref} është i yti.")
    assert to_her == [
        "Një koordinator e ka marrë kërkesën tënde dhe do të të shkruajë këtu së shpejti."
    ]

    # She answers the alert with Telegram's reply: it goes to the survivor, unsigned.
    to_her, to_coordinator = await phones.coordinator("A mund të flasësh tani?", reply_to=alert_id)
    assert to_her == ["Koordinatori: A mund të flasësh tani?"]
    assert [c["text"] for c in to_coordinator] == [f"U dërgua te {ref}."]

    # The survivor's answer reaches the coordinator, not the bot.
    to_her, to_coordinator = await phones.survivor("Po, jam vetëm.")
    assert to_her == [] and [c["text"] for c in to_coordinator] == [
        f"{ref} shkruan: Po, jam vetëm."
    ]

    # And by the command typed out.
    to_her, _ = await phones.coordinator(f"{ref} Do të të telefonojmë nesër në 10.")
    assert to_her == ["Koordinatori: Do të të telefonojmë nesër në 10."]

    to_her, to_coordinator = await phones.coordinator(f"MBYLL {ref} zgjidhur")
    assert to_her == [] and [c["text"] for c in to_coordinator] == [f"{ref} u mbyll: zgjidhur."]
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        kinds = [e.kind for e in await uow.cases.events(case.id)]
    assert case.status == "closed"
    assert kinds.index("alerted") < kinds.index("accepted") < kinds.index("closed")
    assert kinds.count("relayed") >= 2
