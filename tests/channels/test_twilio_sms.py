"""The Twilio SMS channel against a fake Twilio: the real twilio library, signed webhooks."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator

from bot.channels import sms_encoding
from bot.channels.twilio_sms import (
    CONNECTION_OVERRIDES,
    EMPTY_TWIML,
    SMS_PATH,
    STATUS_PATH,
    TwilioSmsChannel,
    encode_form,
    error_result,
    parse_retry_after,
)
from bot.config import Settings, load_settings
from bot.messages import Button, Inbound, Outbound, SendResult, StatusUpdate
from tests.auxil import twilio_payloads as tp
from tests.auxil.fake_twilio import FakeTwilio
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

# The helpline as Twilio reaches it: behind a proxy, under a path prefix, at another host.
PUBLIC = "https://helpline.example.org/hl"
NOW = datetime(2025, 3, 8, 21, 30, 5, tzinfo=UTC)
PHONE = "+355691234567"
URN = "tel:" + PHONE
STATUS_URL = PUBLIC + STATUS_PATH
MESSAGING_SERVICE = "MG" + "ab" * 16


@dataclass
class Recorder:
    """The callables the app gives the channel, recording what they were handed."""

    inbound: list[Inbound] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    opt_outs: list[tuple[str, bool]] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)  # who is opted out now
    fail_with: Exception | None = None

    async def receive(self, msg: Inbound) -> object:
        """Take an inbound message (or fail, when a test asks)."""
        if self.fail_with is not None:
            raise self.fail_with
        self.inbound.append(msg)
        return None

    async def on_status(self, update: StatusUpdate) -> None:
        """Take a delivery status."""
        self.statuses.append(update)

    async def on_opt_out(self, urn: str, opted_out: bool) -> bool:
        """Take an opt-out or opt-in; True when it changed the person's state."""
        self.opt_outs.append((urn, opted_out))
        changed = (urn in self.opted_out) != opted_out
        if opted_out:
            self.opted_out.add(urn)
        else:
            self.opted_out.discard(urn)
        return changed


@dataclass
class Harness:
    """A running channel in a small aiohttp app, the fake Twilio, and what the app was handed."""

    channel: TwilioSmsChannel
    client: TestClient
    fake: FakeTwilio
    rec: Recorder
    settings: Settings

    async def post(
        self, path: str, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        """POST a form to the app; (status, content type, body)."""
        async with self.client.post(path, data=form, headers=headers or {}) as resp:
            return resp.status, resp.content_type, await resp.text()

    async def post_signed(self, path: str, form: dict[str, str]) -> tuple[int, str, str]:
        """POST a form signed as Twilio signs it: for the public URL."""
        return await self.post(path, form, tp.signed_headers(PUBLIC + path, form))

    def nothing_handed_over(self) -> bool:
        """True when no callable was called."""
        return not (self.rec.inbound or self.rec.statuses or self.rec.opt_outs)


def make_settings(tmp_path: Path, api_url: str, **env: str) -> Settings:
    """Settings as the app loads them, pointed at the fake."""
    base = {
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),  # https: a deployment brings its keys
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
        "HELPLINE_TWILIO_API_URL": api_url,
    }
    return load_settings(env={k: v for k, v in {**base, **env}.items() if v})


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    """The fake Twilio REST API on a free port."""
    server = FakeTwilio()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_harness(tmp_path: Path, fake: FakeTwilio) -> AsyncIterator[MakeHarness]:
    """Build harnesses with extra env; everything is closed at the end of the test."""
    async with AsyncExitStack() as stack:

        async def build(
            send_timeout: float = 10.0, api_url: str | None = None, **env: str
        ) -> Harness:
            settings = make_settings(tmp_path, api_url or fake.url, **env)
            rec = Recorder()
            channel = TwilioSmsChannel(
                settings,
                receive=rec.receive,
                on_status=rec.on_status,
                on_opt_out=rec.on_opt_out,
                clock=lambda: NOW,
                timeout=send_timeout,
            )
            app = web.Application()
            app.add_routes(channel.routes())
            client = TestClient(TestServer(app, host="127.0.0.1"))
            await client.start_server()
            stack.push_async_callback(client.close)
            await channel.start()
            stack.push_async_callback(channel.stop)
            fake.forward(PUBLIC, str(client.make_url("")))
            return Harness(channel, client, fake, rec, settings)

        yield build


@pytest.fixture
async def h(make_harness: MakeHarness) -> Harness:
    """The default harness: From number, folding off."""
    return await make_harness()


def outbound(text: str, urn: str = URN, **kw: object) -> Outbound:
    """An outbound SMS as the outbox hands it over."""
    return Outbound(outbox_id=7, channel="sms", urn=urn, text=text, **kw)  # type: ignore[arg-type]


# ---- inbound webhook ----------------------------------------------------------------------------

INBOUND_CASES = [
    # (id, From as Twilio sends it, Body, NumMedia, OptOutType, urn, meta)
    ("albanian", PHONE, "Jam në rrezik", 0, None, URN, {"num_media": "0"}),
    ("kosovo", "+38344123456", "Përshëndetje", 0, None, "tel:+38344123456", {"num_media": "0"}),
    ("national-form", "069 123 4567", "Ndihmë", 0, None, URN, {"num_media": "0"}),
    ("emoji-and-newline", PHONE, "mirë 😢\nfaleminderit", 0, None, URN, {"num_media": "0"}),
    ("mms-no-text", PHONE, "", 1, None, URN, {"num_media": "1", "media": "photo"}),
    ("mms-with-text", PHONE, "shiko", 2, None, URN, {"num_media": "2", "media": "photo"}),
    ("stop-in-a-sentence", PHONE, "stop him please", 0, None, URN, {"num_media": "0"}),
    ("help", PHONE, "HELP", 0, "HELP", URN, {"num_media": "0", "opt_out_type": "HELP"}),
]


@pytest.mark.parametrize(
    ("from_", "body", "num_media", "opt_out_type", "urn", "meta"),
    [c[1:] for c in INBOUND_CASES],
    ids=[c[0] for c in INBOUND_CASES],
)
async def test_signed_inbound_is_handed_over(
    h: Harness,
    from_: str,
    body: str,
    num_media: int,
    opt_out_type: str | None,
    urn: str,
    meta: dict[str, str],
) -> None:
    """A signed webhook becomes exactly this Inbound, and Twilio gets empty TwiML."""
    form = tp.inbound_sms(from_, body, num_media=num_media, opt_out_type=opt_out_type)
    status, content_type, text = await h.post_signed(SMS_PATH, form)
    assert (status, content_type, text) == (200, "text/xml", EMPTY_TWIML)
    expected = Inbound(
        channel="sms",
        urn=urn,
        text=body,
        external_id=form["MessageSid"],
        received_at=NOW,
        meta=meta,
    )
    assert h.rec.inbound == [expected]
    assert h.rec.opt_outs == []


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [("image/jpeg", "photo"), ("audio/ogg", "audio"), ("video/mp4", "video"), ("", "document")],
)
async def test_media_is_named_as_telegram_names_it(
    h: Harness, content_type: str, kind: str
) -> None:
    """An MMS or WhatsApp photo, voice note or video is the same event as Telegram's: "media"."""
    form = tp.inbound_sms(PHONE, "", num_media=1)
    form["MediaContentType0"] = content_type  # the payloads send image/jpeg
    status, _, _ = await h.post_signed(SMS_PATH, form)
    assert status == 200
    assert [m.meta.get("media") for m in h.rec.inbound] == [kind]


async def test_query_string_is_part_of_the_signed_url(h: Harness) -> None:
    """Twilio signs the URL with its query string; we check against the same."""
    form = tp.inbound_sms(PHONE, "po")
    path = SMS_PATH + "?line=al"
    status, _, _ = await h.post(path, form, tp.signed_headers(PUBLIC + path, form))
    assert status == 200
    assert [m.text for m in h.rec.inbound] == ["po"]


def _tampered(form: dict[str, str], path: str) -> dict[str, str]:
    """Headers signed for the form, then a field changed on the way."""
    headers = tp.signed_headers(PUBLIC + path, form)
    form["AccountSid"] = "AC" + "0" * 32
    return headers


def _other(path: str) -> str:
    """The other webhook's path."""
    return STATUS_PATH if path == SMS_PATH else SMS_PATH


Headers = Callable[[dict[str, str], str, str], dict[str, str]]
REJECTED_CASES: list[tuple[str, Headers]] = [
    # (id, headers for (form, local base URL, path))
    ("missing", lambda form, local, path: {}),
    ("empty", lambda form, local, path: {tp.SIGNATURE_HEADER: ""}),
    ("garbage", lambda form, local, path: {tp.SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"}),
    ("other-token", lambda form, local, path: tp.signed_headers(PUBLIC + path, form, "other")),
    ("url-the-app-sees", lambda form, local, path: tp.signed_headers(local + path, form)),
    ("other-path", lambda form, local, path: tp.signed_headers(PUBLIC + _other(path), form)),
    ("other-host", lambda form, local, path: tp.signed_headers("https://x.example" + path, form)),
    ("no-prefix", lambda form, local, path: tp.signed_headers(PUBLIC[:-3] + path, form)),
    ("tampered", lambda form, local, path: _tampered(form, path)),
]
REJECTED_IDS = [c[0] for c in REJECTED_CASES]
REJECTED = [c[1] for c in REJECTED_CASES]


@pytest.mark.parametrize("headers_for", REJECTED, ids=REJECTED_IDS)
@pytest.mark.parametrize("body", ["Jam në rrezik", "STOP"])
async def test_bad_signature_is_refused(h: Harness, headers_for: Headers, body: str) -> None:
    """Missing, wrong or misplaced signatures get 403 and nothing is handed over."""
    form = tp.inbound_sms(PHONE, body)
    headers = headers_for(form, str(h.client.make_url("")).rstrip("/"), SMS_PATH)
    status, _, _ = await h.post(SMS_PATH, form, headers)
    assert status == 403
    assert h.nothing_handed_over()


async def test_no_auth_token_refuses_everything(make_harness: MakeHarness) -> None:
    """Without an auth token nothing can be verified, so nothing is accepted."""
    h = await make_harness(TWILIO_AUTH_TOKEN="")
    form = tp.inbound_sms(PHONE, "po")
    assert (await h.post_signed(SMS_PATH, form))[0] == 403
    assert h.nothing_handed_over()


@pytest.mark.parametrize("from_", ["", "not-a-number", "+1", "12"])
async def test_unusable_sender_is_refused(h: Harness, from_: str) -> None:
    """A From that is no phone number gets 400 and nothing is handed over."""
    status, _, _ = await h.post_signed(SMS_PATH, tp.inbound_sms(from_, "po"))
    assert status == 400
    assert h.nothing_handed_over()


@pytest.mark.parametrize("from_", [f"whatsapp:{PHONE}", f"WhatsApp:{PHONE}", "messenger:1234"])
async def test_a_whatsapp_sender_is_never_answered_by_sms(
    h: Harness, from_: str, caplog: pytest.LogCaptureFixture
) -> None:
    """WhatsApp on the SMS webhook (its channel off): 200 so Twilio does not retry, nothing
    handed over, so no SMS ever goes to her number; the log names the channel, not the number."""
    status, _, _ = await h.post_signed(SMS_PATH, tp.inbound_sms(from_, "ndihme"))
    assert status == 200
    assert h.nothing_handed_over()
    assert PHONE[4:] not in caplog.text and "ndihme" not in caplog.text


OPT_CASES = [
    # (id, Body, OptOutType, opted_out)
    ("stop", "STOP", None, True),
    ("stop-lower-spaces", "  stop \n", None, True),
    ("stopall", "StopAll", None, True),
    ("unsubscribe", "unsubscribe", None, True),
    ("cancel", "CANCEL", None, True),
    ("end", "End", None, True),
    ("quit", "quit", None, True),
    ("start", "START", None, False),
    ("yes", "yes", None, False),
    ("unstop", "Unstop", None, False),
    ("advanced-stop-keyword", "NDALO", "STOP", True),
    ("advanced-start-keyword", "FILLO", "START", False),
]


@pytest.mark.parametrize(
    ("body", "opt_out_type", "opted_out"),
    [c[1:] for c in OPT_CASES],
    ids=[c[0] for c in OPT_CASES],
)
async def test_opt_out_words_never_reach_a_flow(
    h: Harness, body: str, opt_out_type: str | None, opted_out: bool
) -> None:
    """STOP/START and OptOutType go to on_opt_out only, and we answer nothing of our own."""
    if not opted_out:
        h.rec.opted_out.add(URN)  # an opt-in comes from someone who opted out
    form = tp.inbound_sms(PHONE, body, opt_out_type=opt_out_type)
    assert await h.post_signed(SMS_PATH, form) == (200, "text/xml", EMPTY_TWIML)
    assert h.rec.opt_outs == [(URN, opted_out)]
    assert h.rec.inbound == []
    assert h.fake.requests == []


@pytest.mark.parametrize(("body", "opt_out_type"), [("Yes", None), ("YES", "START")])
async def test_yes_from_someone_never_opted_out_is_an_answer(
    h: Harness, body: str, opt_out_type: str | None
) -> None:
    """English "yes" answers our yes/no questions: unless she had opted out, her flow gets it."""
    form = tp.inbound_sms(PHONE, body, opt_out_type=opt_out_type)
    assert await h.post_signed(SMS_PATH, form) == (200, "text/xml", EMPTY_TWIML)
    assert [m.text.strip().upper() for m in h.rec.inbound] == ["YES"]
    assert h.rec.opted_out == set()


@pytest.mark.parametrize(("body", "opt_out_type"), [("START", None), ("FILLO", "START")])
async def test_start_never_reaches_a_flow_even_when_she_never_opted_out(
    h: Harness, body: str, opt_out_type: str | None
) -> None:
    form = tp.inbound_sms(PHONE, body, opt_out_type=opt_out_type)
    assert await h.post_signed(SMS_PATH, form) == (200, "text/xml", EMPTY_TWIML)
    assert h.rec.inbound == []
    assert h.rec.opt_outs == [(URN, False)]


async def test_failed_hand_over_answers_500_without_personal_data(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """If the app cannot take the message Twilio gets 500; the log names neither number nor text."""
    h.rec.fail_with = RuntimeError(f"insert failed for {PHONE}: Jam në rrezik")
    caplog.set_level(logging.DEBUG)
    form = tp.inbound_sms(PHONE, "Jam në rrezik")
    status, _, _ = await h.post_signed(SMS_PATH, form)
    assert status == 500
    assert form["MessageSid"] in caplog.text
    assert "691234567" not in caplog.text
    assert "rrezik" not in caplog.text


async def test_logs_carry_no_number_or_text(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Receiving, sending and status callbacks log SIDs and codes, never numbers or texts."""
    caplog.set_level(logging.DEBUG)
    await h.post_signed(SMS_PATH, tp.inbound_sms(PHONE, "Jam në rrezik"))
    await h.post_signed(SMS_PATH, tp.inbound_sms(PHONE, "STOP"))
    await h.post(SMS_PATH, tp.inbound_sms(PHONE, "rrezik"), {tp.SIGNATURE_HEADER: "x"})
    result = await h.channel.send(outbound("Një koordinatore do t'ju shkruajë"))
    await h.fake.deliver(result.external_id or "", "undelivered", 30003)
    h.fake.fail_next(21610)
    await h.channel.send(outbound("koordinatore"))
    assert result.external_id in caplog.text
    for secret in ("691234567", "rrezik", "koordinatore", "STOP"):
        assert secret not in caplog.text


# ---- status callbacks ---------------------------------------------------------------------------

STATUS_CASES = [
    # (id, status, error code, what it says about the person)
    ("queued", "queued", None, None),
    ("sent", "sent", None, None),
    ("delivered", "delivered", None, None),
    ("undelivered-unreachable", "undelivered", 30003, None),  # retried later, not final
    ("failed-unknown", "failed", 30005, "unreachable"),
    ("failed-opted-out", "failed", 21610, "opted_out"),
]


@pytest.mark.parametrize(
    ("status", "code", "state"), [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES]
)
async def test_signed_status_callback(
    h: Harness, status: str, code: int | None, state: str | None
) -> None:
    """The fake posts a signed callback to our StatusCallback URL; on_status gets it exactly."""
    result = await h.channel.send(outbound("Faleminderit"))
    assert result.ok and result.external_id
    assert await h.fake.deliver(result.external_id, status, code) == 200
    code_text = None if code is None else str(code)
    expected = StatusUpdate("sms", result.external_id, status, code_text, state)
    assert h.rec.statuses == [expected]
    assert h.rec.inbound == [] and h.rec.opt_outs == []


@pytest.mark.parametrize("headers_for", REJECTED, ids=REJECTED_IDS)
async def test_status_callback_bad_signature_is_refused(h: Harness, headers_for: Headers) -> None:
    """A status callback not signed for our public status URL gets 403 and is ignored."""
    form = tp.status_callback(tp.new_sid(), "delivered", to=PHONE)
    headers = headers_for(form, str(h.client.make_url("")).rstrip("/"), STATUS_PATH)
    status, _, _ = await h.post(STATUS_PATH, form, headers)
    assert status == 403
    assert h.nothing_handed_over()


async def test_status_callback_without_sid_is_refused(h: Harness) -> None:
    """A signed callback that names no message is a bad request."""
    form = {"MessageStatus": "delivered", "AccountSid": tp.ACCOUNT_SID}
    status, _, _ = await h.post_signed(STATUS_PATH, form)
    assert status == 400
    assert h.rec.statuses == []


# ---- sending ------------------------------------------------------------------------------------


async def test_send_makes_exactly_this_request(h: Harness) -> None:
    """One POST to Messages.json with Basic auth, To, From, Body and our StatusCallback."""
    text = "Shkruani 1 për PO, 2 për JO."
    result = await h.channel.send(outbound(text, buttons=(Button("PO", "1"), Button("JO", "2"))))
    [req] = h.fake.requests
    assert req.method == "POST"
    assert req.path == f"/2010-04-01/Accounts/{tp.ACCOUNT_SID}/Messages.json"
    assert req.auth == (tp.ACCOUNT_SID, tp.AUTH_TOKEN)
    assert req.form == {
        "To": PHONE,
        "From": tp.HELPLINE_NUMBER,
        "Body": text,
        "StatusCallback": STATUS_URL,
    }
    assert req.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    [sid] = h.fake.messages
    assert result == SendResult(ok=True, external_id=sid, segments=1)


async def test_delete_removes_each_message_from_twilio(h: Harness) -> None:
    """FSHI: one DELETE per SID; unknown ones (404) are skipped; malformed ones never asked."""
    await h.channel.send(outbound("Tekst"))
    [ours] = h.fake.messages
    hers = tp.new_sid()
    h.fake.inbound.add(hers)
    gone = tp.new_sid()  # deleted before, or never there
    sids = [ours, hers, gone, "../../Calls", 42]
    result = await h.channel.send(outbound("", kind="delete", meta={"message_sids": sids}))
    assert result == SendResult(ok=True, external_id=None, segments=0)
    deletes = [r for r in h.fake.requests if r.method == "DELETE"]
    base = f"/2010-04-01/Accounts/{tp.ACCOUNT_SID}/Messages/"
    assert [r.path for r in deletes] == [f"{base}{s}.json" for s in (ours, hers, gone)]
    assert all(r.auth == (tp.ACCOUNT_SID, tp.AUTH_TOKEN) for r in deletes)
    assert h.fake.deleted == [ours, hers] and h.fake.messages == {}


async def test_delete_while_twilio_is_still_processing_is_retried_later(h: Harness) -> None:
    await h.channel.send(outbound("Tekst"))
    [ours] = h.fake.messages
    h.fake.refuse_deletes(1)
    result = await h.channel.send(outbound("", kind="delete", meta={"message_sids": [ours]}))
    assert result == SendResult(ok=False, retry=True, retry_after=120.0, error="20009")
    assert h.fake.deleted == []


async def test_send_through_a_messaging_service(make_harness: MakeHarness) -> None:
    """Without a From number the Messaging Service picks the sender."""
    h = await make_harness(TWILIO_FROM_NUMBER="", TWILIO_MESSAGING_SERVICE_SID=MESSAGING_SERVICE)
    result = await h.channel.send(outbound("Faleminderit"))
    [req] = h.fake.requests
    assert req.form == {
        "To": PHONE,
        "MessagingServiceSid": MESSAGING_SERVICE,
        "Body": "Faleminderit",
        "StatusCallback": STATUS_URL,
    }
    assert result.ok and result.external_id in h.fake.messages


ERROR_CASES = [
    # (id, fail_next kwargs, expected result)
    (
        "unsubscribed",
        {"code": 21610},
        SendResult(ok=False, retry=False, error="21610", contact_state="opted_out"),
    ),
    ("handset-unreachable", {"code": 30003}, SendResult(ok=False, retry=True, error="30003")),
    (
        "unknown-handset",
        {"code": 30005},
        SendResult(ok=False, retry=False, error="30005", contact_state="unreachable"),
    ),
    (
        "landline",
        {"code": 30006},
        SendResult(ok=False, retry=False, error="30006", contact_state="unreachable"),
    ),
    (
        "not-a-mobile",
        {"code": 21614},
        SendResult(ok=False, retry=False, error="21614", contact_state="unreachable"),
    ),
    ("invalid-to", {"code": 21211}, SendResult(ok=False, retry=False, error="21211")),
    (
        "too-many-requests",
        {"code": 20429, "status": 429, "retry_after": 7},
        SendResult(ok=False, retry=True, retry_after=7.0, error="20429"),
    ),
    (
        "too-many-no-header",
        {"code": 20429, "status": 429},
        SendResult(ok=False, retry=True, error="20429"),
    ),
    (
        "server-error",
        {"code": 20500, "status": 500},
        SendResult(ok=False, retry=True, error="20500"),
    ),
    (
        "unavailable",
        {"code": 20500, "status": 503, "retry_after": 30},
        SendResult(ok=False, retry=True, retry_after=30.0, error="20500"),
    ),
]


@pytest.mark.parametrize(
    ("failure", "expected"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
async def test_send_errors(h: Harness, failure: dict[str, object], expected: SendResult) -> None:
    """Each Twilio error becomes the result the outbox needs; one request, never a library retry."""
    h.fake.fail_next(**failure)  # type: ignore[arg-type]
    assert await h.channel.send(outbound("Faleminderit")) == expected
    assert len(h.fake.created()) == 1
    assert h.fake.messages == {}


async def test_outage_then_recovery(h: Harness) -> None:
    """During an outage every send asks for a retry; after it the same send goes out."""
    h.fake.fail_all_with(500)
    assert (await h.channel.send(outbound("a"))).retry
    assert (await h.channel.send(outbound("a"))).retry
    h.fake.recover()
    assert (await h.channel.send(outbound("a"))).ok
    assert len(h.fake.created()) == 3
    assert len(h.fake.messages) == 1


async def test_fail_next_times(h: Harness) -> None:
    """fail_next(times=2) fails exactly two sends."""
    h.fake.fail_next(30003, times=2)
    results = [await h.channel.send(outbound("a")) for _ in range(3)]
    assert [r.ok for r in results] == [False, False, True]


async def test_wrong_credentials_are_retried(make_harness: MakeHarness) -> None:
    """A 401 (usually a token being rotated) is retried, not dropped."""
    h = await make_harness(TWILIO_AUTH_TOKEN="rotated-token")
    result = await h.channel.send(outbound("a"))
    assert result == SendResult(ok=False, retry=True, error="20003")
    assert h.fake.requests[0].auth == (tp.ACCOUNT_SID, "rotated-token")
    assert h.fake.messages == {}


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_network_error_is_retried(make_harness: MakeHarness) -> None:
    """Nobody listening: a network error, to be retried."""
    h = await make_harness(api_url=f"http://127.0.0.1:{_closed_port()}")
    assert await h.channel.send(outbound("a")) == SendResult(ok=False, retry=True, error="network")


async def test_timeout_is_retried(make_harness: MakeHarness) -> None:
    """Twilio not answering within the explicit timeout: retried, not hung."""
    h = await make_harness(send_timeout=0.2)
    h.fake.hang_next()
    # Only a guard so a broken timeout fails the test instead of hanging the run.
    async with asyncio.timeout(30):
        result = await h.channel.send(outbound("a"))
    assert result == SendResult(ok=False, retry=True, error="timeout")
    assert len(h.fake.created()) == 1


# 148 characters: three UCS-2 parts as written, one GSM-7 part folded.
FOLD_TEXT = (
    "Nëse jeni në rrezik të menjëhershëm, telefononi 112 ose 129. "
    "Një koordinatore do t'ju kontaktojë së shpejti. Çdo gjë që na shkruani mbetet mes nesh."
)
FOLDED = (
    "Nese jeni ne rrezik te menjehershem, telefononi 112 ose 129. "
    "Nje koordinatore do t'ju kontaktoje se shpejti. Çdo gje qe na shkruani mbetet mes nesh."
)


@pytest.mark.parametrize(
    ("fold", "body", "parts"),
    [("", FOLD_TEXT, 3), ("true", FOLDED, 1)],
    ids=["folding-off", "folding-on"],
)
async def test_folding_changes_body_and_segments(
    make_harness: MakeHarness, fold: str, body: str, parts: int
) -> None:
    """With folding on, ë and ç go out as e and c (Ç stays) and the message takes fewer parts."""
    h = await make_harness(HELPLINE_SMS_FOLD_DIACRITICS=fold)
    result = await h.channel.send(outbound(FOLD_TEXT))
    [req] = h.fake.requests
    assert req.form["Body"] == body
    assert result.segments == parts
    assert sms_encoding.encoding(body) == ("GSM-7" if fold else "UCS-2")
    assert h.fake.messages[result.external_id or ""]["num_segments"] == str(parts)


async def test_nfd_text_goes_out_composed(h: Harness) -> None:
    """e + combining diaeresis is sent as ë, so what we count is what the carrier counts."""
    result = await h.channel.send(outbound("Ne\u0308se"))
    assert h.fake.requests[0].form["Body"] == "Nëse"
    assert result.segments == 1


@pytest.mark.parametrize(
    "msg",
    [outbound("a", urn="telegram:123456"), outbound("", urn="telegram:1", kind="delete")],
    ids=["not-a-phone", "delete-not-a-phone"],
)
async def test_unsupported_messages_are_not_sent(h: Harness, msg: Outbound) -> None:
    """Only tel: URNs are ours: refused without a request."""
    assert await h.channel.send(msg) == SendResult(ok=False, retry=False, error="unsupported")
    assert h.fake.requests == []


async def test_send_before_start_is_a_bug(tmp_path: Path, fake: FakeTwilio) -> None:
    """The client is made in start(), inside the loop; sending before is a programming error."""
    rec = Recorder()
    channel = TwilioSmsChannel(
        make_settings(tmp_path, fake.url),
        receive=rec.receive,
        on_status=rec.on_status,
        on_opt_out=rec.on_opt_out,
    )
    with pytest.raises(RuntimeError):
        await channel.send(outbound("a"))
    await channel.start()
    assert (await channel.send(outbound("a"))).ok
    await channel.stop()
    with pytest.raises(RuntimeError):
        await channel.send(outbound("a"))


# ---- pure helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("inf", None),
        ("Sat, 08 Mar 2025 21:31:05 GMT", 60.0),
        ("Sat, 08 Mar 2025 21:29:05 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Retry-After as delta-seconds or as an HTTP date."""
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (21610, 400, SendResult(ok=False, error="21610", contact_state="opted_out")),
        (30003, None, SendResult(ok=False, retry=True, error="30003")),
        (30006, None, SendResult(ok=False, error="30006", contact_state="unreachable")),
        (None, 502, SendResult(ok=False, retry=True, error="502")),
        (30007, None, SendResult(ok=False, error="30007")),
    ],
)
def test_error_result_for_status_callback_codes(
    code: int | None, status: int | None, expected: SendResult
) -> None:
    """The same mapping serves ErrorCode values of status callbacks (no HTTP status there)."""
    assert error_result(code, status) == expected


@pytest.mark.parametrize("fragment", ["", "#" + CONNECTION_OVERRIDES])
async def test_the_documented_url_with_connection_overrides_is_accepted(
    h: Harness, fragment: str
) -> None:
    """Whether Twilio signs the webhook URL with its override fragment or without, it is ours;
    any other fragment is not."""
    form = tp.inbound_sms(PHONE, "po")
    status, _, _ = await h.post(
        SMS_PATH, form, tp.signed_headers(PUBLIC + SMS_PATH + fragment, form)
    )
    assert status == 200
    other = tp.inbound_sms(PHONE, "po")
    headers = tp.signed_headers(PUBLIC + SMS_PATH + "#rc=5&rp=all", other)
    assert (await h.post(SMS_PATH, other, headers))[0] == 403


@pytest.mark.parametrize(
    "signed_url",
    [PUBLIC + SMS_PATH, PUBLIC.replace(".org", ".org:443") + SMS_PATH],
    ids=["as-configured", "with-the-default-port"],
)
async def test_a_signature_of_either_way_of_writing_the_url_is_accepted(
    h: Harness, signed_url: str
) -> None:
    """Twilio's signature of our URL as configured (checked first, one HMAC) or written with
    its default port (the SDK's RequestValidator.validate decides) is ours; a signature of the
    same form at another URL is not."""
    form = tp.inbound_sms(PHONE, "po")
    assert (await h.post(SMS_PATH, form, tp.signed_headers(signed_url, form)))[0] == 200
    other = tp.inbound_sms(PHONE, "po")
    elsewhere = tp.signed_headers("https://attacker.example.org" + SMS_PATH, other)
    assert (await h.post(SMS_PATH, other, elsewhere))[0] == 403
    assert len(h.rec.inbound) == 1


# ---- the prepared signature and form --------------------------------------------------------

ODD_FORMS = [
    ("inbound", list(tp.inbound_sms(PHONE, "Më rreh, ndihmë & 1+1=2").items())),
    ("repeated-names", [("b", "2"), ("a", "z"), ("a", "y"), ("a", "z"), ("A", "x")]),
    ("empty-values", [("Body", ""), ("NumMedia", "0"), ("", "x")]),
    ("non-ascii-names", [("Ë", "é"), ("E", "e"), ("MediaUrl0", "https://x.example/a?b=c&d")]),
    ("none", []),
]


@pytest.mark.parametrize("pairs", [c[1] for c in ODD_FORMS], ids=[c[0] for c in ODD_FORMS])
async def test_prepared_signature_is_the_sdks(h: Harness, pairs: list[tuple[str, str]]) -> None:
    """The webhook's own signature check (an HMAC on a prepared base) accepts exactly what the
    SDK's compute_signature signs for our URL, with or without the override fragment, and
    nothing signed for another URL or with another token."""
    form = MultiDictProxy(MultiDict(pairs))
    path = SMS_PATH + "?x=1"
    sdk = RequestValidator(tp.AUTH_TOKEN)
    for url in (PUBLIC + path, f"{PUBLIC}{path}#{CONNECTION_OVERRIDES}"):
        assert h.channel._signed(path, form, sdk.compute_signature(url, form).encode())
    wrong = [
        sdk.compute_signature(PUBLIC + SMS_PATH + "?x=2", form),
        sdk.compute_signature("https://attacker.example.org/hl" + path, form),
        RequestValidator("0" * 32).compute_signature(PUBLIC + path, form),
        "",
    ]
    for signature in wrong:
        assert not h.channel._signed(path, form, signature.encode())


UNIQUE_FORMS = [c for c in ODD_FORMS if c[0] != "repeated-names"]


@pytest.mark.parametrize("pairs", [c[1] for c in UNIQUE_FORMS], ids=[c[0] for c in UNIQUE_FORMS])
async def test_prepared_signature_of_unique_names_is_the_sdks(
    h: Harness, pairs: list[tuple[str, str]]
) -> None:
    """A form whose names are unique, handed over as a dict (its string built sorted by name
    alone), is accepted exactly when the SDK's signature of the same multidict matches."""
    form = dict(pairs)
    multi = MultiDictProxy(MultiDict(pairs))
    path = SMS_PATH + "?x=1"
    sdk = RequestValidator(tp.AUTH_TOKEN)
    for url in (PUBLIC + path, f"{PUBLIC}{path}#{CONNECTION_OVERRIDES}"):
        assert h.channel._signed(path, form, sdk.compute_signature(url, multi).encode())
    wrong = [
        sdk.compute_signature(PUBLIC + SMS_PATH + "?x=2", multi),
        RequestValidator("0" * 32).compute_signature(PUBLIC + path, multi),
        "",
    ]
    for signature in wrong:
        assert not h.channel._signed(path, form, signature.encode())


async def test_a_repeated_name_hands_over_its_last_value(h: Harness) -> None:
    """A signed form that repeats a name is read as before the one-copy form: the last value."""
    pairs = [*tp.inbound_sms(PHONE, "first").items(), ("Body", "second")]
    signature = RequestValidator(tp.AUTH_TOKEN).compute_signature(
        PUBLIC + SMS_PATH, MultiDict(pairs)
    )
    async with h.client.post(SMS_PATH, data=pairs, headers={"X-Twilio-Signature": signature}) as r:
        assert r.status == 200
    assert [m.text for m in h.rec.inbound] == ["second"]


async def test_a_form_with_repeated_fields_is_verified_as_signed(h: Harness) -> None:
    """Through the webhook: a signed form whose fields repeat is ours; one changed is not."""
    pairs = [*tp.inbound_sms(PHONE, "po").items(), ("MediaUrl0", "b"), ("MediaUrl0", "a")]
    signature = RequestValidator(tp.AUTH_TOKEN).compute_signature(
        PUBLIC + SMS_PATH, MultiDict(pairs)
    )
    headers = {"X-Twilio-Signature": signature}
    async with h.client.post(SMS_PATH, data=pairs, headers=headers) as resp:
        assert resp.status == 200
    changed = [*pairs[:-1], ("MediaUrl0", "c")]
    async with h.client.post(SMS_PATH, data=changed, headers=headers) as resp:
        assert resp.status == 403
    assert len(h.rec.inbound) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"To": PHONE, "Body": "Më rreh & s'kam ku të shkoj = 100% 🙁\n+1"},
        {"StatusCallback": "https://helpline.example.org/hl/webhooks/twilio/status?a=b c"},
        {"ContentSid": "HX" + "0" * 32, "ContentVariables": '{"1": "Ë/ë"}'},
        {"Body": ""},
    ],
)
def test_encode_form_writes_what_aiohttp_wrote(fields: dict[str, str]) -> None:
    """The send's form, encoded by hand, is byte for byte aiohttp's FormData encoding."""
    assert encode_form(fields).encode("ascii") == FormData(fields)()._value


def test_form_quote_is_quote_plus() -> None:
    """The form's quoting table gives urllib's quote_plus for any text: every ASCII character,
    Albanian and other letters, astral ones, past the table's bound, and a lone surrogate
    still refused."""
    import random
    from urllib.parse import quote_plus

    from bot.channels import twilio_sms

    rng = random.Random(19)
    texts = ["".join(map(chr, range(128))), "Faleminderit. A jeni në rrezik tani?\n1. Po\n2. Jo"]
    spans = [(0, 128), (128, 0x800), (0x800, 0xD800), (0xE000, 0x110000)]
    for _ in range(3000):
        texts.append(
            "".join(chr(rng.randrange(*rng.choice(spans))) for _ in range(rng.randrange(30)))
        )
    for text in texts:
        assert twilio_sms.form_quote(text) == quote_plus(text)
    assert len(twilio_sms._FORM_QUOTED) <= twilio_sms.FORM_TABLE_MAX
    with pytest.raises(UnicodeEncodeError):
        twilio_sms.form_quote("a\ud800")


def _random_pairs(rng: random.Random) -> list[tuple[str, str]]:
    """A form as anyone might post it: names and values from a mix of ASCII, separators,
    Albanian letters, emoji and empty strings; names may repeat, with the same or other values."""
    alphabet = "aAbBzZ09 +&=%#?/._-ëËçÇé😀\u0301\t"
    words = ["", "Body", "From", "MediaUrl0", "NumMedia", "ë", "Ç", "a", "A", "a b", "1+1=2"]

    def text() -> str:
        if rng.random() < 0.4:
            return rng.choice(words)
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))

    pairs = [(text(), text()) for _ in range(rng.randint(0, 12))]
    for _ in range(rng.randint(0, 3)):  # repeats: the same name again, its value the same or not
        if pairs:
            name, value = rng.choice(pairs)
            pairs.append((name, value if rng.random() < 0.5 else text()))
    rng.shuffle(pairs)
    return pairs


async def test_prepared_signature_is_the_sdks_on_random_forms(h: Harness) -> None:
    """600 random forms (repeated names, unicode, separators, empty names and values), as the
    multidict and, where the names are unique, as the dict the webhook hands over: the prepared
    check accepts the SDK's compute_signature of our URL and refuses one of a changed form."""
    rng = random.Random(19)
    sdk = RequestValidator(tp.AUTH_TOKEN)
    path = SMS_PATH
    for _ in range(600):
        pairs = _random_pairs(rng)
        multi = MultiDictProxy(MultiDict(pairs))
        forms: list[MultiDictProxy[str] | dict[str, str]] = [multi]
        if len({name for name, _ in pairs}) == len(pairs):
            forms.append(dict(pairs))
        signature = sdk.compute_signature(PUBLIC + path, multi).encode()
        changed = sdk.compute_signature(PUBLIC + path, MultiDict([*pairs, ("x", "y")])).encode()
        for form in forms:
            assert h.channel._signed(path, form, signature), pairs
            assert not h.channel._signed(path, form, changed), pairs
