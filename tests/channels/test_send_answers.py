"""The direct send paths (Twilio's form POST, the Bot API's JSON) against raw provider answers:
every kind of answer, the fakes' and the odd ones (RFC 9457 bodies, a proxy's HTML, garbage),
becomes the outcome the outbox acts on, over one kept-alive connection."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from bot.channels.telegram import TelegramChannel
from bot.channels.twilio_sms import STATUS_PATH, TwilioSmsChannel
from bot.config import load_settings
from bot.messages import Button, Inbound, Outbound, SendResult, StatusUpdate
from tests.auxil import telegram_payloads as tgp
from tests.auxil import twilio_payloads as tp
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

PUBLIC = "https://helpline.example.org"
PERSON = "+355691234567"
CHAT_ID = 6_000_000_001
SID = "SM" + "a" * 32
PROBLEM = "https://www.twilio.com/docs/errors/"  # RFC 9457 "type" of Twilio's newer APIs
PROXY_HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class Answer:
    """What the raw server says to one request."""

    status: int
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    hang: bool = False  # say nothing until the test ends


@dataclass
class Seen:
    """One request the raw server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]


@dataclass
class RawServer:
    """Answers each request with the next queued Answer for its last path part (else a
    success), and records what it was sent and over which connection."""

    queued: dict[str, list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def answer(self, name: str, *answers: Answer) -> None:
        """Queue answers for requests whose path ends in `name` (Messages.json, sendMessage)."""
        self.queued.setdefault(name, []).extend(answers)

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Let hanging requests go and close."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.path.rsplit("/", 1)[-1]
        peer = request.transport.get_extra_info("peername") if request.transport else None
        seen = Seen(request.method, request.path, dict(request.headers), await request.read(), peer)
        self.seen.append(seen)
        queue = self.queued.get(name)
        answer = queue.pop(0) if queue else self._success(name)
        if answer.hang:
            await self._release.wait()
        if isinstance(answer.body, bytes):  # as is, whatever it claims to be
            headers = {**answer.headers, "Content-Type": answer.content_type}
            return web.Response(status=answer.status, body=answer.body, headers=headers)
        return web.Response(
            status=answer.status,
            text=answer.body,
            headers=answer.headers,
            content_type=answer.content_type,
        )

    @staticmethod
    def _success(name: str) -> Answer:
        """What each provider answers when all is well."""
        if name == "getMe":
            return Answer(200, json.dumps({"ok": True, "result": tgp.bot_user()}))
        if name == "sendMessage":
            message = {"message_id": 100, "date": 0, "chat": {"id": CHAT_ID, "type": "private"}}
            return Answer(200, json.dumps({"ok": True, "result": message}))
        return Answer(201, json.dumps({"sid": SID, "status": "queued"}))


@pytest.fixture
async def raw() -> AsyncIterator[RawServer]:
    """The raw server on a free port."""
    server = RawServer()
    await server.start()
    yield server
    await server.stop()


def settings_for(tmp_path: Path, url: str) -> Any:
    """Both channels configured, their API base URLs at the raw server."""
    return load_settings(
        env={
            "HELPLINE_VAR_DIR": str(tmp_path),
            "HELPLINE_PUBLIC_URL": PUBLIC,
            "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
            "HELPLINE_SECRET_KEY": SECRET_KEY,
            "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
            "HELPLINE_TWILIO_API_URL": url,
            "TELEGRAM_BOT_TOKEN": tgp.TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": "s3cret",
            "HELPLINE_TELEGRAM_API_URL": url,
        }
    )


async def _receive(_inbound: Inbound) -> None:
    return None


async def _on_status(_update: StatusUpdate) -> None:
    return None


async def _on_opt_out(_urn: str, _opted_out: bool) -> bool:
    return False


@pytest.fixture
async def sms(tmp_path: Path, raw: RawServer) -> AsyncIterator[TwilioSmsChannel]:
    """A started SMS channel sending to the raw server, with a short timeout."""
    channel = TwilioSmsChannel(
        settings_for(tmp_path, raw.url),
        receive=_receive,
        on_status=_on_status,
        on_opt_out=_on_opt_out,
        timeout=0.5,
    )
    await channel.start()
    yield channel
    await channel.stop()


@pytest.fixture
async def telegram(tmp_path: Path, raw: RawServer) -> AsyncIterator[TelegramChannel]:
    """A started Telegram channel (webhook mode) calling the raw server, short read timeout."""
    channel = TelegramChannel(settings_for(tmp_path, raw.url), receive=_receive, read_timeout=0.5)
    await channel.start()
    yield channel
    await channel.stop()


def sms_to(person: str = PERSON, outbox_id: int = 1) -> Outbound:
    """An SMS reply."""
    return Outbound(outbox_id, "sms", f"tel:{person}", "Përshëndetje")


def telegram_to(chat_id: int = CHAT_ID, outbox_id: int = 1) -> Outbound:
    """A Telegram reply with buttons."""
    return Outbound(
        outbox_id, "telegram", f"telegram:{chat_id}", "A jeni mirë?", (Button("Po", "yes"),)
    )


def problem(code: int, status: int, title: str) -> str:
    """An RFC 9457 error body as Twilio's newer APIs write them."""
    return json.dumps({"type": f"{PROBLEM}{code}", "title": title, "status": status, "code": code})


def legacy(code: int, status: int, message: str) -> str:
    """A v2010 error body."""
    return json.dumps({"code": code, "message": message, "status": status})


TWILIO_ANSWERS = [
    # (id, answer, expected outcome)
    (
        "rfc9457-429-retry-after",
        Answer(429, problem(20429, 429, "Too Many Requests"), {"Retry-After": "9"}),
        SendResult(ok=False, retry=True, retry_after=9.0, error="20429"),
    ),
    (
        "rfc9457-opted-out",
        Answer(400, problem(21610, 400, "Unsubscribed recipient")),
        SendResult(ok=False, retry=False, error="21610", contact_state="opted_out"),
    ),
    (
        "legacy-landline",
        Answer(400, legacy(21614, 400, "'To' number is not a valid mobile number")),
        SendResult(ok=False, retry=False, error="21614", contact_state="unreachable"),
    ),
    (
        "legacy-authentication",
        Answer(401, legacy(20003, 401, "Authenticate")),
        SendResult(ok=False, retry=True, error="20003"),
    ),
    (
        "retry-after-as-a-date-in-the-past",
        Answer(
            503,
            legacy(20500, 503, "Service Unavailable"),
            {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
        ),
        SendResult(ok=False, retry=True, retry_after=0.0, error="20500"),
    ),
    (
        "a-proxy-html-502",
        Answer(502, PROXY_HTML, content_type="text/html"),
        SendResult(ok=False, retry=True, error="502"),
    ),
    (
        "empty-503",
        Answer(503, ""),
        SendResult(ok=False, retry=True, error="503"),
    ),
    (
        "unknown-400-is-final",
        Answer(400, legacy(21211, 400, "The 'To' number is not a valid phone number.")),
        SendResult(ok=False, retry=False, error="21211"),
    ),
    (
        "redirect-is-not-followed",
        Answer(307, "", {"Location": "http://127.0.0.1:9/elsewhere"}),
        SendResult(ok=False, retry=False, error="307"),
    ),
    (
        "not-utf8-503",
        Answer(503, b"\xff\xfe not UTF-8", content_type="text/html; charset=utf-8"),
        SendResult(ok=False, retry=True, error="503"),
    ),
    (
        "created-but-unreadable",
        Answer(201, "<xml/>", content_type="text/xml"),
        SendResult(ok=False, retry=True, error="bad_response"),
    ),
    (
        "created-but-not-an-object",
        Answer(201, "[]"),
        SendResult(ok=False, retry=True, error="bad_response"),
    ),
]


@pytest.mark.parametrize(
    ("answer", "expected"), [a[1:] for a in TWILIO_ANSWERS], ids=[a[0] for a in TWILIO_ANSWERS]
)
async def test_twilio_answers_become_outcomes(
    sms: TwilioSmsChannel, raw: RawServer, answer: Answer, expected: SendResult
) -> None:
    raw.answer("Messages.json", answer)
    assert await sms.send(sms_to()) == expected
    assert len(raw.seen) == 1  # sent once: never repeated by the HTTP layer, nor redirected


async def test_twilio_request_is_what_the_sdk_sent(sms: TwilioSmsChannel, raw: RawServer) -> None:
    """The same form fields, Basic auth and headers as twilio's messages.create_async."""
    assert await sms.send(sms_to()) == SendResult(ok=True, external_id=SID, segments=1)
    [seen] = raw.seen
    assert (seen.method, seen.path) == (
        "POST",
        f"/2010-04-01/Accounts/{tp.ACCOUNT_SID}/Messages.json",
    )
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.headers["Accept"] == "application/json"
    pair = base64.b64encode(f"{tp.ACCOUNT_SID}:{tp.AUTH_TOKEN}".encode()).decode()
    assert seen.headers["Authorization"] == f"Basic {pair}"
    assert dict(parse_qsl(seen.body.decode(), strict_parsing=True)) == {
        "To": PERSON,
        "StatusCallback": PUBLIC + STATUS_PATH,
        "Body": "Përshëndetje",
        "From": tp.HELPLINE_NUMBER,
    }


async def test_twilio_timeout_is_retried(sms: TwilioSmsChannel, raw: RawServer) -> None:
    """Twilio holding the request past the channel's timeout: retried later, not hung."""
    raw.answer("Messages.json", Answer(201, "", hang=True))
    async with asyncio.timeout(30):  # only a guard so a broken timeout fails instead of hanging
        result = await sms.send(sms_to())
    assert result == SendResult(ok=False, retry=True, error="timeout")


async def test_twilio_sends_share_one_connection(sms: TwilioSmsChannel, raw: RawServer) -> None:
    """One session, kept alive: successive sends (and errors between them) reuse a connection."""
    raw.answer("Messages.json", Answer(429, problem(20429, 429, "Too Many Requests")))
    for i in range(4):
        await sms.send(sms_to(outbox_id=i))
    assert len(raw.seen) == 4 and len({s.peer for s in raw.seen}) == 1


async def test_twilio_stop_closes_the_session(tmp_path: Path, raw: RawServer) -> None:
    """After stop() nothing is sent: the session is closed, a send is a bug."""
    channel = TwilioSmsChannel(
        settings_for(tmp_path, raw.url),
        receive=_receive,
        on_status=_on_status,
        on_opt_out=_on_opt_out,
    )
    await channel.start()
    session = channel._session
    await channel.stop()
    assert session is not None and session.closed
    with pytest.raises(RuntimeError):
        await channel.send(sms_to())


TELEGRAM_ANSWERS = [
    # (id, answer, expected outcome)
    (
        "429-retry-after",
        Answer(
            429,
            json.dumps(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 7",
                    "parameters": {"retry_after": 7},
                }
            ),
        ),
        SendResult(ok=False, retry=True, retry_after=7.0, error="429"),
    ),
    (
        "403-blocked",
        Answer(
            403,
            json.dumps(
                {"ok": False, "error_code": 403, "description": "Forbidden: user is deactivated"}
            ),
        ),
        SendResult(ok=False, retry=False, error="403", contact_state="blocked"),
    ),
    (
        "400-chat-migrated",
        Answer(
            400,
            json.dumps(
                {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: group chat was upgraded to a supergroup chat",
                    "parameters": {"migrate_to_chat_id": -1001234567890},
                }
            ),
        ),
        SendResult(ok=False, retry=False, error="chat_migrated"),
    ),
    (
        "400-bad-request-without-ids",
        Answer(
            400,
            json.dumps(
                {"ok": False, "error_code": 400, "description": f"Bad Request: chat {CHAT_ID}"}
            ),
        ),
        SendResult(ok=False, retry=False, error="400 Chat #"),
    ),
    (
        "401-token",
        Answer(401, json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"})),
        SendResult(ok=False, retry=True, error="invalid_token"),
    ),
    (
        "a-proxy-html-502",
        Answer(502, PROXY_HTML, content_type="text/html"),
        SendResult(ok=False, retry=True, error="network"),
    ),
    (
        "a-proxy-json-list-502",
        Answer(502, "[]"),
        SendResult(ok=False, retry=True, error="network"),
    ),
    (
        "a-proxy-json-null-503",
        Answer(503, "null"),
        SendResult(ok=False, retry=True, error="network"),
    ),
    (
        "ok-but-unreadable",
        Answer(200, "<html/>", content_type="text/html"),
        SendResult(ok=False, retry=True, error="bad_response"),
    ),
    (
        "ok-without-result",
        Answer(200, json.dumps({"ok": True})),
        SendResult(ok=False, retry=True, error="bad_response"),
    ),
    (
        "ok-but-a-list",
        Answer(200, "[]"),
        SendResult(ok=False, retry=True, error="bad_response"),
    ),
    (
        "ok-without-a-message",
        Answer(200, json.dumps({"ok": True, "result": True})),
        SendResult(ok=False, retry=True, error="bad_response"),
    ),
]


# PTB 22 warns about its own RetryAfter when it builds one (its message reads retry_after);
# bot/channels/telegram.py reads the value either way (as test_telegram.py notes).
@pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
@pytest.mark.parametrize(
    ("answer", "expected"),
    [a[1:] for a in TELEGRAM_ANSWERS],
    ids=[a[0] for a in TELEGRAM_ANSWERS],
)
async def test_telegram_answers_become_outcomes(
    telegram: TelegramChannel, raw: RawServer, answer: Answer, expected: SendResult
) -> None:
    raw.answer("sendMessage", answer)
    assert await telegram.send(telegram_to()) == expected
    assert [s.path.rsplit("/", 1)[-1] for s in raw.seen] == ["getMe", "sendMessage"]


async def test_telegram_request_is_json(telegram: TelegramChannel, raw: RawServer) -> None:
    """sendMessage as one JSON body with what PTB's Bot.send_message sent."""
    assert await telegram.send(telegram_to()) == SendResult(ok=True, external_id="100")
    seen = raw.seen[-1]
    assert seen.path == f"/bot{tgp.TOKEN}/sendMessage"
    assert seen.headers["Content-Type"].startswith("application/json")
    assert json.loads(seen.body) == {
        "chat_id": CHAT_ID,
        "text": "A jeni mirë?",
        "link_preview_options": {"is_disabled": True},
        "reply_markup": {"inline_keyboard": [[{"text": "Po", "callback_data": "yes"}]]},
    }


async def test_telegram_timeout_is_retried(telegram: TelegramChannel, raw: RawServer) -> None:
    """The Bot API holding sendMessage past the read timeout: retried later, not hung."""
    raw.answer("sendMessage", Answer(200, "", hang=True))
    async with asyncio.timeout(30):  # only a guard so a broken timeout fails instead of hanging
        result = await telegram.send(telegram_to())
    assert result == SendResult(ok=False, retry=True, error="timeout")


async def test_telegram_calls_share_one_connection(
    telegram: TelegramChannel, raw: RawServer
) -> None:
    """PTB's getMe and the channel's own calls go on one session, over one connection."""
    raw.answer("sendMessage", Answer(403, json.dumps({"ok": False, "error_code": 403})))
    for i in range(4):
        await telegram.send(telegram_to(outbox_id=i))
    assert len(raw.seen) == 5 and len({s.peer for s in raw.seen}) == 1


async def test_telegram_stop_closes_the_one_session(tmp_path: Path, raw: RawServer) -> None:
    """PTB's calls and the channel's share one session; stop() closes it, even when getMe failed."""
    raw.answer("getMe", Answer(502, PROXY_HTML, content_type="text/html"))
    channel = TelegramChannel(settings_for(tmp_path, raw.url), receive=_receive)
    await channel.start()
    request = channel._request
    assert request is not None and channel._bot is not None and channel._bot.request is request
    session = request._session
    assert await channel.send(telegram_to()) == SendResult(ok=True, external_id="100")
    await channel.stop()
    assert session is not None and session.closed
    with pytest.raises(RuntimeError):
        await channel.send(telegram_to())


async def test_telegram_answer_that_is_not_json_is_never_logged(
    telegram: TelegramChannel, raw: RawServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 200 whose body is not JSON (here an echo of her words) is retried, and no log line of
    ours or PTB's carries the body: PTB's own parser printed it whole at ERROR."""
    caplog.set_level(logging.DEBUG)
    raw.answer("sendMessage", Answer(200, "<p>jam ne rrezik</p>", content_type="text/html"))
    result = await telegram.send(telegram_to())
    assert result == SendResult(ok=False, retry=True, error="bad_response")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "rrezik" not in logged
    assert "not JSON" in logged


async def test_telegram_network_errors_never_show_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens: retried later, and none of our log lines carries the token or the chat."""
    channel = TelegramChannel(settings_for(tmp_path, "http://127.0.0.1:9"), receive=_receive)
    caplog.set_level(logging.DEBUG)
    await channel.start()
    try:
        result = await channel.send(telegram_to())
    finally:
        await channel.stop()
    assert result == SendResult(ok=False, retry=True, error="network")
    # Our own lines (PTB's DEBUG lines print its URLs, token included: __main__ quiets them).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert ours and tgp.TOKEN.split(":")[1] not in ours and str(CHAT_ID) not in ours


async def test_a_reply_sent_writes_no_log_line_at_info(
    sms: TwilioSmsChannel,
    telegram: TelegramChannel,
    raw: RawServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Performance: a line a reply (~19 µs each) is at DEBUG; the outcome is in the store."""
    caplog.set_level(logging.INFO, logger="bot")
    assert (await sms.send(sms_to())).ok
    assert (await telegram.send(telegram_to())).ok
    assert [r for r in caplog.records if r.name.startswith("bot.channels")] == []
    caplog.set_level(logging.DEBUG, logger="bot")
    assert (await sms.send(sms_to())).ok and (await telegram.send(telegram_to())).ok
    sent = [r.getMessage() for r in caplog.records if r.name.startswith("bot.channels")]
    assert sent == ["twilio send outbox=1: " + SID, "telegram send outbox=1: message 100"]
