"""The real Twilio and Telegram channels in a test web app, pointed at the fakes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.channels.twilio_sms import SMS_PATH, TwilioSmsChannel, link
from bot.channels.twilio_whatsapp import TEMPLATES, TwilioWhatsAppChannel, template_text
from bot.config import Settings, load_settings
from bot.i18n import Catalogs
from bot.outbox import OutboxSender
from tests.auxil import telegram_payloads as tgp
from tests.auxil import twilio_payloads as smsp
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio
from tests.pipeline_harness import build_sender
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

PUBLIC = "https://helpline.example.org"
SECRET = "channels-app-webhook-secret"
# Approved WhatsApp templates in the fake, by (name, language): their ContentSids.
TEMPLATE_SIDS = {
    ("checkin", "sq"): "HX" + "c1" * 16,
    ("checkin", "en"): "HX" + "c2" * 16,
    ("message_waiting", "sq"): "HX" + "a1" * 16,
    ("message_waiting", "en"): "HX" + "a2" * 16,
    ("coordinator_alert", "sq"): "HX" + "b1" * 16,
    ("coordinator_alert", "en"): "HX" + "b2" * 16,
}


def settings_for(
    tmp_path: Path,
    twilio: FakeTwilio | None = None,
    telegram: FakeTelegram | None = None,
    *,
    whatsapp: bool = False,
) -> Settings:
    """Settings as the app loads them, with each given fake's channel turned on."""
    env = {
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),  # https: a deployment brings its keys
        "HELPLINE_SECRET_KEY": SECRET_KEY,
    }
    if twilio is not None:
        env |= {
            "TWILIO_ACCOUNT_SID": smsp.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": smsp.AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": smsp.HELPLINE_NUMBER,
            "HELPLINE_TWILIO_API_URL": twilio.url,
        }
        if whatsapp:
            env |= {
                "TWILIO_WHATSAPP_FROM": smsp.HELPLINE_WHATSAPP,
                "HELPLINE_WHATSAPP_TEMPLATES": ",".join(
                    f"{name}.{lang}={sid}" for (name, lang), sid in TEMPLATE_SIDS.items()
                ),
            }
    if telegram is not None:
        env |= {
            "TELEGRAM_BOT_TOKEN": tgp.TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "HELPLINE_TELEGRAM_API_URL": telegram.url,
        }
    return load_settings(env=env)


class ChannelsApp:
    """A test client for the webhooks, and the sender that delivers through the real channels."""

    def __init__(
        self, client: TestClient, sender: OutboxSender, twilio: FakeTwilio | None = None
    ) -> None:
        self.client, self.sender, self.twilio = client, sender, twilio

    async def deliver(self) -> None:
        """Send everything the outbox holds now."""
        while await self.sender.drain_once():
            pass

    async def sms(self, from_: str, body: str) -> None:
        """A signed inbound SMS webhook, as Twilio posts it; it must be taken (200, TwiML)."""
        form = smsp.inbound_sms(from_, body)
        if self.twilio is not None:
            self.twilio.inbound.add(form["MessageSid"])  # Twilio keeps what people send too
        headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
        async with self.client.post(SMS_PATH, data=form, headers=headers) as resp:
            assert resp.status == 200
            assert "<Response" in await resp.text()  # empty TwiML: replies go by REST

    async def whatsapp(
        self, from_: str, body: str, *, button: str | None = None, num_media: int = 0
    ) -> None:
        """A signed inbound WhatsApp message on the same webhook; it must be taken."""
        form = smsp.inbound_whatsapp(from_, body, button_payload=button, num_media=num_media)
        if self.twilio is not None:
            self.twilio.inbound.add(form["MessageSid"])
            self.twilio.heard_from(form["From"])  # her 24 hours start at Twilio too
        headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
        async with self.client.post(SMS_PATH, data=form, headers=headers) as resp:
            assert resp.status == 200
            assert "<Response" in await resp.text()

    async def update(self, update: dict[str, Any]) -> None:
        """A Telegram update posted to the webhook with the secret; it must be taken."""
        headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
        async with self.client.post(WEBHOOK_PATH, data=json.dumps(update), headers=headers) as r:
            assert r.status == 200


@asynccontextmanager
async def channels_app(
    db: Any,
    pipeline: Any,
    clock: Callable[[], datetime],
    tmp_path: Path,
    *,
    twilio: FakeTwilio | None = None,
    telegram: FakeTelegram | None = None,
    whatsapp: bool = False,
) -> AsyncIterator[ChannelsApp]:
    """Serve the channels of the given fakes in front of `pipeline` (with `whatsapp`, Twilio's
    WhatsApp beside SMS, its templates approved in the fake); stop everything after."""
    settings = settings_for(tmp_path, twilio, telegram, whatsapp=whatsapp)
    channels: dict[str, Any] = {}
    if twilio is not None:
        channels["sms"] = TwilioSmsChannel(
            settings,
            receive=pipeline.receive,
            on_status=pipeline.record_status,
            on_opt_out=pipeline.set_opt_out,
            clock=clock,
        )
        if whatsapp:
            twilio.clock = clock
            for (name, lang), sid in TEMPLATE_SIDS.items():
                twilio.add_template(sid, template_body(name, lang))
            channels["whatsapp"] = TwilioWhatsAppChannel(
                settings,
                receive=pipeline.receive,
                on_status=pipeline.record_status,
                on_opt_out=pipeline.set_opt_out,
                last_inbound=pipeline.last_heard,
                nudges=pipeline,
                clock=clock,
            )
            link([channels["sms"], channels["whatsapp"]])
    if telegram is not None:
        telegram.clock = clock
        channels["telegram"] = TelegramChannel(settings, receive=pipeline.receive, clock=clock)
    app = web.Application()
    for channel in channels.values():
        app.add_routes(channel.routes())
    async with AsyncExitStack() as stack:
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        stack.push_async_callback(client.close)
        for channel in channels.values():
            await channel.start()
            stack.push_async_callback(channel.stop)
        if twilio is not None:  # status callbacks the fake posts reach this app
            twilio.forward(PUBLIC, str(client.make_url("")))
        sender = build_sender(db, channels, clock)
        if getattr(pipeline, "hand_to", None) is not None:
            # Replies in hand go to the sender that delivers them here, as app.py wires it.
            pipeline.hand_to = sender
        yield ChannelsApp(client, sender, twilio)


def template_body(name: str, language: str) -> str:
    """A template's text as the admin submitted it (what Twilio then sends)."""
    catalogs = Catalogs()
    return template_text(TEMPLATES[name], lambda msgid: catalogs.text(language, msgid))


@asynccontextmanager
async def fakes() -> AsyncIterator[tuple[FakeTwilio, FakeTelegram]]:
    """Both fake providers, started on free ports and stopped after."""
    twilio, telegram = FakeTwilio(), FakeTelegram()
    await twilio.start()
    await telegram.start()
    try:
        yield twilio, telegram
    finally:
        await telegram.stop()
        await twilio.stop()
