"""Per-sender limit (HELPLINE_RATE_PER_SENDER): beyond it the webhooks answer 429, store nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import CHANNELS, HUB, PIPELINE, build_channels
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.channels.twilio_sms import SMS_PATH
from bot.hub import Hub
from bot.messages import Inbound
from tests.auxil import telegram_payloads as tgp
from tests.auxil import twilio_payloads as smsp
from tests.auxil.channels_app import PUBLIC, SECRET, settings_for
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


class CountingPipeline:
    """Stands in for the pipeline: counts what reached it."""

    def __init__(self) -> None:
        self.received: list[Inbound] = []

    async def receive(self, inbound: Inbound) -> Any:
        self.received.append(inbound)
        return None


async def test_a_flooding_sender_is_refused_on_both_channels(tmp_path: Path) -> None:
    twilio, telegram = FakeTwilio(), FakeTelegram()
    await twilio.start()
    await telegram.start()
    settings = settings_for(tmp_path, twilio, telegram).with_(rate_per_sender=3)
    app = web.Application()
    app[HUB] = Hub()
    pipeline = CountingPipeline()
    app[PIPELINE] = pipeline  # type: ignore[assignment]
    app[CHANNELS] = build_channels(app, settings)
    for channel in app[CHANNELS].values():
        await channel.start()
    statuses: dict[str, list[int]] = {"sms": [], "telegram": [], "other": []}
    try:
        async with TestClient(TestServer(app)) as client:
            for _ in range(5):
                form = smsp.inbound_sms("+355691110099", "ndihmë")
                headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
                async with client.post(SMS_PATH, data=form, headers=headers) as resp:
                    statuses["sms"].append(resp.status)
                    retry = resp.headers.get("Retry-After")
            for n in range(5):
                update = tgp.text(n + 1, "ndihmë", chat_id=7770009999)
                headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
                async with client.post(WEBHOOK_PATH, data=json.dumps(update), headers=headers) as r:
                    statuses["telegram"].append(r.status)
            form = smsp.inbound_sms("+355691110098", "ndihmë")  # somebody else: not limited
            headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
            async with client.post(SMS_PATH, data=form, headers=headers) as resp:
                statuses["other"].append(resp.status)
    finally:
        for channel in app[CHANNELS].values():
            await channel.stop()
        await telegram.stop()
        await twilio.stop()
    assert statuses == {
        "sms": [200] * 3 + [429] * 2,
        "telegram": [200] * 3 + [429] * 2,
        "other": [200],
    }
    assert retry is not None and int(retry) >= 1
    assert len(pipeline.received) == 7  # the refused ones never reached the pipeline
