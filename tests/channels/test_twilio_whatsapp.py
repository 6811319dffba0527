"""The Twilio WhatsApp channel against the fake Twilio: one signed webhook with SMS, addresses,
quick replies, statuses, the 24-hour rule, templates; the fake's wire format against the OpenAPI."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import CHANNELS, build_app
from bot.channels.twilio_sms import SMS_PATH, STATUS_PATH, TwilioSmsChannel, link
from bot.channels.twilio_whatsapp import (
    OUTSIDE_WINDOW,
    TEMPLATES,
    LocalNudges,
    TwilioWhatsAppChannel,
    template_text,
)
from bot.config import SettingError, Settings, load_settings
from bot.i18n import Catalogs
from bot.messages import Inbound, Outbound, SendResult
from bot.safe_times import TPL_CHECKIN, TPL_COORDINATOR_ALERT, TPL_WAITING, template
from tests.auxil import twilio_payloads as tp
from tests.auxil.fake_twilio import FakeTwilio
from tests.channels.test_twilio_sms import PUBLIC, Recorder
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
PHONE = "+355691234567"
URN = "whatsapp:" + PHONE
CHECKIN_SQ = "HX" + "0c" * 16
ALERT_EN = "HX" + "0a" * 16
WAITING_SQ = "HX" + "0b" * 16
OPENAPI = Path(__file__).resolve().parents[3] / "shared" / "twilio" / "twilio_api_v2010.json"


def settings(tmp_path: Path, api_url: str, *, sms: bool = True, **env: str) -> Settings:
    base = {
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER if sms else "",
        "TWILIO_WHATSAPP_FROM": tp.HELPLINE_WHATSAPP,
        "HELPLINE_WHATSAPP_TEMPLATES": (
            f"{TPL_CHECKIN}.sq={CHECKIN_SQ},{TPL_COORDINATOR_ALERT}.en={ALERT_EN},"
            f"{TPL_WAITING}.sq={WAITING_SQ}"
        ),
        "HELPLINE_TWILIO_API_URL": api_url,
    }
    return load_settings(env={k: v for k, v in {**base, **env}.items() if v})


@dataclass
class WA:
    """SMS and WhatsApp linked on one app (or WhatsApp alone), the fake, what was handed over."""

    whatsapp: TwilioWhatsAppChannel
    client: TestClient
    fake: FakeTwilio
    rec: Recorder
    heard: dict[str, datetime]

    async def post_signed(self, path: str, form: dict[str, str]) -> int:
        headers = tp.signed_headers(PUBLIC + path, form)
        async with self.client.post(path, data=form, headers=headers) as resp:
            return resp.status

    async def send(self, text: str, **kw: Any) -> SendResult:
        return await self.whatsapp.send(
            Outbound(outbox_id=9, channel="whatsapp", urn=URN, text=text, **kw)
        )


MakeWA = Callable[..., Awaitable[WA]]


@pytest.fixture
async def make_wa(tmp_path: Path) -> AsyncIterator[MakeWA]:
    async with AsyncExitStack() as stack:
        fake = FakeTwilio(clock=lambda: NOW)
        await fake.start()
        stack.push_async_callback(fake.stop)
        catalogs = Catalogs()
        for sid, name, lang in (
            (CHECKIN_SQ, TPL_CHECKIN, "sq"),
            (ALERT_EN, TPL_COORDINATOR_ALERT, "en"),
            (WAITING_SQ, TPL_WAITING, "sq"),
        ):
            fake.add_template(sid, template_text(TEMPLATES[name], partial(catalogs.text, lang)))

        async def build(*, sms: bool = True, nudges: Any = None) -> WA:
            config = settings(tmp_path, fake.url, sms=sms)
            rec = Recorder()
            heard: dict[str, datetime] = {}

            async def last_inbound(urn: str) -> datetime | None:
                return heard.get(urn)

            common: dict[str, Any] = dict(
                receive=rec.receive, on_status=rec.on_status, on_opt_out=rec.on_opt_out
            )
            whatsapp = TwilioWhatsAppChannel(
                config, last_inbound=last_inbound, nudges=nudges, clock=lambda: NOW, **common
            )
            channels: list[TwilioSmsChannel] = [whatsapp]
            if sms:
                channels.insert(0, TwilioSmsChannel(config, clock=lambda: NOW, **common))
            link(channels)
            app = web.Application()
            for channel in channels:
                app.add_routes(channel.routes())
            client = TestClient(TestServer(app, host="127.0.0.1"))
            await client.start_server()
            stack.push_async_callback(client.close)
            for channel in channels:
                await channel.start()
                stack.push_async_callback(channel.stop)
            fake.forward(PUBLIC, str(client.make_url("")))
            return WA(whatsapp, client, fake, rec, heard)

        yield build


async def test_a_whatsapp_message_on_the_sms_webhook_is_whatsapps(make_wa: MakeWA) -> None:
    """Same URL, same signature; the whatsapp: prefix makes it WhatsApp's, with its URN; a
    pressed quick reply carries its id; a photo is counted as on SMS."""
    wa = await make_wa()
    form = tp.inbound_whatsapp(PHONE, "Po", button_payload="yes")
    assert await wa.post_signed(SMS_PATH, form) == 200
    [msg] = wa.rec.inbound
    assert msg == Inbound(
        channel="whatsapp",
        urn=URN,
        text="Po",
        external_id=form["MessageSid"],
        received_at=NOW,
        button="yes",
        meta={"num_media": "0"},
    )
    assert await wa.post_signed(SMS_PATH, tp.inbound_whatsapp(PHONE, "", num_media=1)) == 200
    assert (
        wa.rec.inbound[-1].meta == {"num_media": "1", "media": "photo"}
        and wa.rec.inbound[-1].button is None
    )
    # An SMS on the same webhook is still an SMS.
    assert await wa.post_signed(SMS_PATH, tp.inbound_sms(PHONE, "ndihme")) == 200
    assert (wa.rec.inbound[-1].channel, wa.rec.inbound[-1].urn) == ("sms", f"tel:{PHONE}")
    # A forged one is refused as on SMS.
    async with wa.client.post(SMS_PATH, data=tp.inbound_whatsapp(PHONE, "x")) as resp:
        assert resp.status == 403


async def test_with_whatsapp_alone_an_sms_sender_gets_nothing(
    make_wa: MakeWA, caplog: pytest.LogCaptureFixture
) -> None:
    """SMS off: a plain number on the webhook is never answered on WhatsApp (nor stored)."""
    wa = await make_wa(sms=False)
    caplog.set_level(logging.INFO)
    assert await wa.post_signed(SMS_PATH, tp.inbound_sms(PHONE, "ndihme")) == 200
    assert not wa.rec.inbound
    assert PHONE[4:] not in caplog.text and "ndihme" not in caplog.text
    assert await wa.post_signed(SMS_PATH, tp.inbound_whatsapp(PHONE, "ndihme")) == 200
    assert [m.channel for m in wa.rec.inbound] == ["whatsapp"]


async def test_statuses_are_whatsapps_and_63016_asks_to_hold(make_wa: MakeWA) -> None:
    """Delivery and read receipts name the WhatsApp channel; a 63016 failure says: hold."""
    wa = await make_wa()
    wa.heard[URN] = NOW - timedelta(hours=1)
    wa.fake.heard_from(URN, NOW - timedelta(hours=1))
    sent = await wa.send("Përshëndetje")
    assert sent.ok and sent.external_id
    for status in ("sent", "delivered", "read"):
        assert await wa.fake.deliver(sent.external_id, status) == 200
    assert [(u.channel, u.status, u.hold) for u in wa.rec.statuses] == [
        ("whatsapp", "sent", False),
        ("whatsapp", "delivered", False),
        ("whatsapp", "read", False),
    ]
    assert await wa.fake.deliver(sent.external_id, "failed", 63016) == 200
    assert wa.rec.statuses[-1].hold and wa.rec.statuses[-1].error_code == "63016"


async def test_inside_her_24_hours_free_form_outside_a_template_or_nothing(
    make_wa: MakeWA,
) -> None:
    wa = await make_wa()
    # Inside: free-form from our WhatsApp sender, numbered options in the text, never folded.
    wa.heard[URN] = NOW - timedelta(hours=23)
    wa.fake.heard_from(URN, NOW - timedelta(hours=23))
    assert (await wa.send("Çfarë?\n1. Po\n2. Jo")).ok
    form = wa.fake.created()[-1].form
    assert (form["From"], form["To"], form["Body"]) == (
        tp.HELPLINE_WHATSAPP,
        URN,
        "Çfarë?\n1. Po\n2. Jo",
    )
    # Outside, with its template: ContentSid (no Body); the fake sends the approved text.
    wa.heard[URN] = NOW - timedelta(hours=24)
    sent = await wa.send("ignored", meta=template(TPL_CHECKIN, "sq"))
    assert sent.ok
    form = wa.fake.created()[-1].form
    assert form["ContentSid"] == CHECKIN_SQ and "Body" not in form
    assert str(wa.fake.messages[sent.external_id or ""]["body"]).startswith("Përshëndetje")
    # With variables.
    sent = await wa.send("x", meta=template(TPL_COORDINATOR_ALERT, "en", ref="R-7KX9M2PQ"))
    form = wa.fake.created()[-1].form
    assert json.loads(form["ContentVariables"]) == {"1": "R-7KX9M2PQ"}
    assert "OK R-7KX9M2PQ" in str(wa.fake.messages[sent.external_id or ""]["body"])
    # Outside, no template (or none in her language): nothing is sent; it waits for her.
    before = len(wa.fake.created())
    for meta in ({}, template(TPL_CHECKIN, "en")):
        result = await wa.send("Përshëndetje.", meta=meta)
        assert (result.ok, result.hold, result.error) == (False, True, OUTSIDE_WINDOW)
    assert len(wa.fake.created()) == before


async def test_a_waiting_message_is_announced_once_a_day(make_wa: MakeWA) -> None:
    """Outside her window a message without a template of its own is announced by the neutral
    template and held; a second one the same day is held without another announcement."""
    wa = await make_wa()
    for _ in range(2):
        result = await wa.send("Koordinatori: …", meta=template(TPL_WAITING, "sq", nudge=True))
        assert (result.ok, result.hold) == (False, True)
    [announced] = [r.form for r in wa.fake.created()]
    assert announced["ContentSid"] == WAITING_SQ


async def test_two_workers_announce_a_waiting_message_once(make_wa: MakeWA) -> None:
    """Two workers' channels ask one keeper of announcements (the pipeline, in the app): the
    second holds the message without announcing it again; a refused announcement is given back."""
    shared = LocalNudges()
    first, second = await make_wa(nudges=shared), await make_wa(nudges=shared, sms=False)
    for wa in (first, second):
        result = await wa.send("Koordinatori: …", meta=template(TPL_WAITING, "sq", nudge=True))
        assert (result.ok, result.hold) == (False, True)
    assert first.fake is second.fake  # one Twilio behind both workers
    announced = [r.form for r in first.fake.created()]
    assert [form["ContentSid"] for form in announced] == [WAITING_SQ]
    assert await shared.claim_nudge(URN, NOW) is False  # still claimed: it went


async def test_the_fake_speaks_twilios_wire_format(make_wa: MakeWA) -> None:
    """Every field the channel sends is one of the Messages API's (OpenAPI), ContentSid has its
    pattern; the fake refuses what Twilio refuses (mixed channels, unknown template)."""
    wa = await make_wa()
    wa.heard[URN] = NOW
    await wa.send("Përshëndetje")
    wa.heard[URN] = NOW - timedelta(days=2)
    await wa.send("x", meta=template(TPL_COORDINATOR_ALERT, "en", ref="R-7KX9M2PQ"))
    assert OPENAPI.exists(), "../shared/twilio/ must lie beside the clone"
    spec = json.loads(OPENAPI.read_text())
    post = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]
    schema = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    fields = set(schema["properties"])
    requests = wa.fake.created()
    assert {"Body", "ContentSid", "ContentVariables"} <= {k for r in requests for k in r.form}
    for request in requests:
        assert set(request.form) <= fields, set(request.form) - fields
    assert schema["properties"]["ContentSid"]["pattern"] == "^HX[0-9a-fA-F]{32}$"
    assert "read" in spec["components"]["schemas"]["message_enum_status"]["enum"]
    # The channel's own REST call, read by the twilio SDK's error parser.
    channel, url = wa.whatsapp, wa.whatsapp.messages_url
    mixed = await channel.request("POST", url, {"To": URN, "From": tp.HELPLINE_NUMBER, "Body": "x"})
    assert not mixed.ok and "same channel" in str(mixed.error("POST", url))
    unknown = {"To": URN, "From": tp.HELPLINE_WHATSAPP, "ContentSid": "HX" + "ff" * 16}
    answer = await channel.request("POST", url, unknown)
    assert not answer.ok and "ContentSid" in str(answer.error("POST", url))


def test_settings_for_whatsapp(tmp_path: Path) -> None:
    """The sender is written with its prefix; templates are name.language=HX…; bad values say
    what to write; without a sender WhatsApp is off."""
    base = settings(tmp_path, "http://127.0.0.1:1")
    assert base.whatsapp_enabled and base.twilio_whatsapp_from == tp.HELPLINE_WHATSAPP
    assert base.template_sid(TPL_CHECKIN, "sq") == CHECKIN_SQ
    assert base.template_sid(TPL_CHECKIN, "en") is None
    bare = settings(tmp_path, "x", TWILIO_WHATSAPP_FROM="+355691234567")
    assert bare.twilio_whatsapp_from == "whatsapp:+355691234567"
    off = settings(tmp_path, "x", TWILIO_WHATSAPP_FROM="")
    assert not off.whatsapp_enabled and off.sms_enabled
    service = settings(
        tmp_path,
        "x",
        TWILIO_WHATSAPP_FROM="",
        TWILIO_WHATSAPP_MESSAGING_SERVICE_SID="MG" + "1" * 32,
    )
    assert service.whatsapp_enabled
    with pytest.raises(SettingError, match="TWILIO_WHATSAPP_FROM"):
        settings(tmp_path, "x", TWILIO_WHATSAPP_FROM="whatsapp:069123")
    with pytest.raises(SettingError, match=r"name\.language=ContentSid"):
        settings(tmp_path, "x", HELPLINE_WHATSAPP_TEMPLATES="checkin.de=HX" + "0" * 32)
    with pytest.raises(SettingError, match=r"name\.language=ContentSid"):
        settings(tmp_path, "x", HELPLINE_WHATSAPP_TEMPLATES="checkin.sq=SM123")


def test_the_app_serves_one_pair_of_twilio_webhooks_for_both(tmp_path: Path) -> None:
    """SMS and WhatsApp configured: both channels exist, linked, and the webhooks are routed
    once (to the SMS channel, which hands a whatsapp: sender to WhatsApp's)."""
    app = build_app(settings(tmp_path, "http://127.0.0.1:9"))
    channels = app[CHANNELS]
    assert isinstance(channels["whatsapp"], TwilioWhatsAppChannel)
    assert channels["sms"].peers == {"tel": channels["sms"], "whatsapp": channels["whatsapp"]}
    paths = [r.resource.canonical for r in app.router.routes() if r.method == "POST"]
    assert paths.count(SMS_PATH) == 1 and paths.count(STATUS_PATH) == 1
    alone = build_app(settings(tmp_path, "http://127.0.0.1:9", sms=False))
    assert "sms" not in alone[CHANNELS] and alone[CHANNELS]["whatsapp"].serves_routes
