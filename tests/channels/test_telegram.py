"""The Telegram channel against a fake Bot API: the real python-telegram-bot, real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from telegram import Bot, Update
from telegram.error import BadRequest

from bot.channels.telegram import (
    DECLINE_EN,
    DECLINE_SQ,
    DECLINE_TEXT,
    SECRET_HEADER,
    WEBHOOK_PATH,
    Reply,
    TelegramChannel,
    TelegramSetupError,
    api_base_url,
    split_text,
    to_inbound,
)
from bot.config import Settings, load_settings
from bot.messages import Button, Inbound, Outbound, SendResult
from bot.store.db import Database
from tests.auxil import telegram_payloads as tp
from tests.auxil.fake_telegram import FakeTelegram
from tests.pipeline_harness import Harness as PipelineHarness
from tests.pipeline_harness import build_sender
from tests.store.fixtures import (  # noqa: F401
    DATA_KEYS,
    SECRET_KEY,
    crypto,
    db,
    db_url,
    postgres_url,
    sqlite_template,
)

PUBLIC = "https://helpline.example.org/hl"
SECRET = "s3cr3t-Token_for-the-webhook"
NOW = datetime(2025, 3, 8, 21, 31, 0, tzinfo=UTC)
URN = f"telegram:{tp.CHAT_ID}"
NO_PREVIEW = {"is_disabled": True}

# PTB 22 warns inside RetryAfter's own constructor; the channel reads both value types.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@dataclass
class Recorder:
    """The receive callable the app gives the channel, recording what it was handed."""

    inbound: list[Inbound] = field(default_factory=list)
    fail_times: int = 0  # raise this many times before accepting
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def receive(self, msg: Inbound) -> object:
        """Take an inbound message (or fail, when a test asks)."""
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("database is down")
        async with self.changed:
            self.inbound.append(msg)
            self.changed.notify_all()
        return None

    async def wait_for(self, count: int) -> list[Inbound]:
        """Wait until `count` messages were handed over."""
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.inbound) >= count)
        return list(self.inbound)


def make_settings(tmp_path: Path, api_url: str, **env: str) -> Settings:
    """Settings as the app loads them, pointed at the fake Bot API."""
    base = {
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),  # https: a deployment brings its keys
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "TELEGRAM_BOT_TOKEN": tp.TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "HELPLINE_TELEGRAM_API_URL": api_url,
    }
    return load_settings(env={k: v for k, v in {**base, **env}.items() if v})


@dataclass
class Harness:
    """A running channel in a small aiohttp app, the fake Bot API, and what was handed over."""

    channel: TelegramChannel
    client: TestClient
    fake: FakeTelegram
    rec: Recorder

    async def post(self, body: Any, secret: str | None = SECRET, raw: bool = False) -> int:
        """POST an update to the webhook as Telegram would; returns the HTTP status."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        data = body if raw else json.dumps(body)
        async with self.client.post(WEBHOOK_PATH, data=data, headers=headers) as resp:
            await resp.read()
            return resp.status


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API on a free port."""
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_harness(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[MakeHarness]:
    """Build harnesses with extra env; everything is closed at the end of the test."""
    async with AsyncExitStack() as stack:

        async def build(
            api_url: str | None = None, rec: Recorder | None = None, **env: str
        ) -> Harness:
            """A started channel behind a test server, with these settings."""
            settings = make_settings(tmp_path, api_url or fake.url, **env)
            rec = rec or Recorder()
            channel = TelegramChannel(
                settings, receive=rec.receive, clock=lambda: NOW, retry_delay=0
            )
            app = web.Application()
            app.add_routes(channel.routes())
            client = TestClient(TestServer(app, host="127.0.0.1"))
            await client.start_server()
            stack.push_async_callback(client.close)
            await channel.start()
            stack.push_async_callback(channel.stop)
            fake.forward(PUBLIC, str(client.make_url("")))
            return Harness(channel, client, fake, rec)

        yield build


@pytest.fixture
async def h(make_harness: MakeHarness) -> Harness:
    """The default harness: webhook mode, secret configured."""
    return await make_harness()


def outbound(text: str, urn: str = URN, **kw: Any) -> Outbound:
    """An outbound Telegram message as the outbox hands it over."""
    return Outbound(outbox_id=7, channel="telegram", urn=urn, text=text, **kw)


def sent_calls(fake: FakeTelegram) -> list[dict[str, Any]]:
    """sendMessage parameters, in order."""
    return fake.calls_to("sendMessage")


# ---- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "base_url"),
    [
        (None, "https://api.telegram.org/bot"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/bot"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot"),
        ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/bot"),
        ("https://proxy.example.org/telegram/", "https://proxy.example.org/telegram/bot"),
    ],
)
def test_api_base_url_is_what_ptb_appends_the_token_to(setting: str | None, base_url: str) -> None:
    """PTB builds <base_url><token>/<method>; the setting may be given with or without /bot."""
    assert api_base_url(setting) == base_url
    bot = Bot(tp.TOKEN, base_url=api_base_url(setting))
    assert bot.base_url == base_url + tp.TOKEN


def test_decline_text_is_in_both_languages_and_says_nothing_of_violence() -> None:
    """A group may hold the abuser: the decline must not say what the helpline is for."""
    assert DECLINE_TEXT == f"{DECLINE_SQ}\n\n{DECLINE_EN}"
    for word in ("dhun", "violen", "abuse", "ndihm", "help", "sos", "rrezik", "danger"):
        assert word not in DECLINE_TEXT.lower()


# ---- translation ---------------------------------------------------------------------------------

DATE = tp.DATE
TRANSLATIONS: list[tuple[str, dict[str, Any], Inbound | Reply | None]] = [
    (
        "text",
        tp.text(10, "Jam në rrezik, më rreh"),
        Inbound("telegram", URN, "Jam në rrezik, më rreh", "u10", DATE, meta={"message_id": "41"}),
    ),
    (
        "start",
        tp.start(11),
        Inbound("telegram", URN, "/start", "u11", DATE, meta={"message_id": "1"}),
    ),
    (
        "start-deep-link",
        tp.start(12, payload="qr-poster-tirane"),
        Inbound("telegram", URN, "/start", "u12", DATE, meta={"message_id": "1"}),
    ),
    (
        "start-addressed",
        tp.text(13, "/start@ndihma_test_bot", message_id=2),
        Inbound("telegram", URN, "/start", "u13", DATE, meta={"message_id": "2"}),
    ),
    (
        "not-start",
        tp.text(14, "/startnow", message_id=3),
        Inbound("telegram", URN, "/startnow", "u14", DATE, meta={"message_id": "3"}),
    ),
    (
        "callback",
        tp.callback(15, "yes"),
        Inbound("telegram", URN, "yes", "u15", NOW, button="yes", meta={"message_id": "42"}),
    ),
    (
        "photo",
        tp.photo(16),
        Inbound("telegram", URN, "", "u16", DATE, meta={"message_id": "43", "media": "photo"}),
    ),
    (
        "photo-with-caption",
        tp.photo(17, caption="më rreh"),
        Inbound(
            "telegram", URN, "më rreh", "u17", DATE, meta={"message_id": "43", "media": "photo"}
        ),
    ),
    (
        "voice",
        tp.voice(18),
        Inbound("telegram", URN, "", "u18", DATE, meta={"message_id": "44", "media": "voice"}),
    ),
    (
        "sticker",
        tp.sticker(19),
        Inbound("telegram", URN, "", "u19", DATE, meta={"message_id": "45", "media": "sticker"}),
    ),
    (
        "document",
        tp.document(20),
        Inbound("telegram", URN, "", "u20", DATE, meta={"message_id": "46", "media": "document"}),
    ),
    (
        "video",
        tp.video(21),
        Inbound("telegram", URN, "", "u21", DATE, meta={"message_id": "47", "media": "video"}),
    ),
    (
        "audio",
        tp.audio(22),
        Inbound("telegram", URN, "", "u22", DATE, meta={"message_id": "48", "media": "audio"}),
    ),
    (
        "location",
        tp.location(23),
        Inbound(
            "telegram",
            URN,
            "",
            "u23",
            DATE,
            meta={"message_id": "49", "latitude": "41.327953", "longitude": "19.819025"},
        ),
    ),
    ("group", tp.group_text(24), Reply(tp.GROUP_ID, DECLINE_TEXT)),
    (
        "supergroup",
        tp.group_text(25, "ndihmë", chat_id=tp.SUPERGROUP_ID, kind="supergroup"),
        Reply(tp.SUPERGROUP_ID, DECLINE_TEXT),
    ),
    ("channel-post", tp.channel_post(26), Reply(tp.SUPERGROUP_ID, DECLINE_TEXT)),
    ("edited", tp.edited_text(27, "Jam mirë"), None),
    ("service-message", tp.pinned(28), None),
]


@pytest.mark.parametrize(
    ("payload", "expected"), [c[1:] for c in TRANSLATIONS], ids=[c[0] for c in TRANSLATIONS]
)
def test_to_inbound(payload: dict[str, Any], expected: Inbound | Reply | None) -> None:
    """Each kind of update becomes exactly this Inbound, Reply, or nothing."""
    update = Update.de_json(payload, None)
    assert to_inbound(update, NOW) == expected


def test_callback_without_its_message_uses_the_person() -> None:
    """A press on a message Telegram no longer includes still reaches the person's chat."""
    payload = tp.callback(30, "no")
    del payload["callback_query"]["message"]
    expected = Inbound("telegram", URN, "no", "u30", NOW, button="no", meta={})
    assert to_inbound(Update.de_json(payload, None), NOW) == expected


# ---- webhook -------------------------------------------------------------------------------------

SECRET_CASES = [
    ("right", SECRET, 200, 1),
    ("wrong", "s3cr3t-Token_for-the-webhooK", 403, 0),
    ("prefix", SECRET[:-1], 403, 0),
    ("longer", SECRET + "x", 403, 0),
    ("empty", "", 403, 0),
    ("missing", None, 403, 0),
    ("non-ascii", "sëcret", 403, 0),
]


@pytest.mark.parametrize(
    ("given", "status", "handed"), [c[1:] for c in SECRET_CASES], ids=[c[0] for c in SECRET_CASES]
)
async def test_webhook_secret(h: Harness, given: str | None, status: int, handed: int) -> None:
    """Only the configured secret gets an update through; otherwise 403 and nothing handed over."""
    assert await h.post(tp.text(1, "ndihmë"), secret=given) == status
    assert len(h.rec.inbound) == handed
    assert h.fake.calls_to("sendMessage") == []


async def test_webhook_without_a_configured_secret_refuses_everything(
    make_harness: MakeHarness,
) -> None:
    """No TELEGRAM_WEBHOOK_SECRET: nothing can prove it is Telegram, so every update is 403."""
    h = await make_harness(TELEGRAM_WEBHOOK_SECRET="")
    assert await h.post(tp.text(1, "ndihmë"), secret=None) == 403
    assert await h.post(tp.text(2, "ndihmë"), secret="") == 403
    assert await h.post(tp.text(3, "ndihmë"), secret=SECRET) == 403
    assert h.rec.inbound == []


BAD_BODIES = [
    ("not-json", b"update_id=1"),
    ("json-array", b"[1, 2]"),
    ("json-string", b'"hello"'),
    ("no-update-id", json.dumps({"message": tp.message(text="x")}).encode()),
    ("over-64k", json.dumps(tp.text(1, "a" * (64 * 1024))).encode()),
]


@pytest.mark.parametrize("body", [c[1] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES])
async def test_webhook_bad_body_is_400(h: Harness, body: bytes) -> None:
    """With the right secret, a body that is not an Update of sane size is 400, nothing handed."""
    assert await h.post(body, raw=True) == 400
    assert h.rec.inbound == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [c[1:] for c in TRANSLATIONS if isinstance(c[2], Inbound)],
    ids=[c[0] for c in TRANSLATIONS if isinstance(c[2], Inbound)],
)
async def test_webhook_hands_over_each_kind(
    h: Harness, payload: dict[str, Any], expected: Inbound
) -> None:
    """Through the real webhook: 200 and exactly this Inbound, once."""
    assert await h.post(payload) == 200
    assert h.rec.inbound == [expected]


@pytest.mark.parametrize(
    "payload", [tp.edited_text(5, "x"), tp.pinned(6)], ids=["edited", "pinned"]
)
async def test_webhook_ignores_edits_and_service_messages(
    h: Harness, payload: dict[str, Any]
) -> None:
    """200 so Telegram does not resend, but nothing handed over and nothing sent."""
    assert await h.post(payload) == 200
    assert h.rec.inbound == []
    assert [c.method for c in h.fake.calls if c.method != "getMe"] == []


async def test_group_is_declined_once_and_left(h: Harness) -> None:
    """A group gets one neutral bilingual reply; the bot leaves; the pipeline never sees it."""
    assert await h.post(tp.group_text(1)) == 200
    assert await h.post(tp.group_text(2, "a je aty?")) == 200
    assert h.rec.inbound == []
    assert sent_calls(h.fake) == [{"chat_id": tp.GROUP_ID, "text": DECLINE_TEXT}]
    assert h.fake.calls_to("leaveChat") == [{"chat_id": tp.GROUP_ID}]
    assert h.fake.left == [tp.GROUP_ID]


async def test_callback_is_handed_over_then_answered_once(h: Harness) -> None:
    """The press reaches the pipeline, then answerCallbackQuery stops the button's spinner."""
    payload = tp.callback(1, "no", query_id="777000111222")
    assert await h.post(payload) == 200
    assert [m.button for m in h.rec.inbound] == ["no"]
    assert h.fake.calls_to("answerCallbackQuery") == [{"callback_query_id": "777000111222"}]
    # Telegram resending the same update: the pipeline drops it by id; the answer fails quietly.
    assert await h.post(payload) == 200
    assert h.fake.answered == ["777000111222"]


async def test_failed_receive_is_500_and_the_press_is_not_answered(
    make_harness: MakeHarness,
) -> None:
    """If the pipeline fails, Telegram must resend: 500, and the button is answered on the retry."""
    h = await make_harness(rec=Recorder(fail_times=1))
    payload = tp.callback(1, "yes", query_id="555")
    assert await h.post(payload) == 500
    assert h.fake.answered == []
    assert await h.post(payload) == 200
    assert [m.external_id for m in h.rec.inbound] == ["u1"]
    assert h.fake.answered == ["555"]


# ---- sending -------------------------------------------------------------------------------------


async def test_send_with_buttons_is_this_exact_request(h: Harness) -> None:
    """One inline button per row, callback data = value, no link previews, no parse mode."""
    buttons = (Button("Po", "yes"), Button("Jo", "no"), Button("Nuk e di", "unknown"))
    result = await h.channel.send(
        outbound("A jeni në rrezik?\n1. Po\n2. Jo\n3. Nuk e di", buttons=buttons)
    )
    assert result == SendResult(ok=True, external_id="100", segments=1)
    assert sent_calls(h.fake) == [
        {
            "chat_id": tp.CHAT_ID,
            "text": "A jeni në rrezik?\n1. Po\n2. Jo\n3. Nuk e di",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "Po", "callback_data": "yes"}],
                    [{"text": "Jo", "callback_data": "no"}],
                    [{"text": "Nuk e di", "callback_data": "unknown"}],
                ]
            },
            "link_preview_options": NO_PREVIEW,
        }
    ]
    assert h.fake.message_ids(tp.CHAT_ID) == [100]


async def test_send_plain_text(h: Harness) -> None:
    """No buttons: no reply_markup at all; message ids count up per chat."""
    first = await h.channel.send(outbound("Faleminderit."))
    second = await h.channel.send(outbound("<b>192</b> *ndihmë*"))
    assert (first.external_id, second.external_id) == ("100", "101")
    assert sent_calls(h.fake) == [
        {"chat_id": tp.CHAT_ID, "text": "Faleminderit.", "link_preview_options": NO_PREVIEW},
        {"chat_id": tp.CHAT_ID, "text": "<b>192</b> *ndihmë*", "link_preview_options": NO_PREVIEW},
    ]


async def test_button_value_over_64_bytes_goes_without_buttons(h: Harness) -> None:
    """Telegram would refuse the whole message; the numbered text still lets them answer."""
    buttons = (Button("Po", "yes"), Button("Gjatë", "ë" * 33))  # 66 bytes in UTF-8
    result = await h.channel.send(outbound("Zgjidhni:\n1. Po\n2. Gjatë", buttons=buttons))
    assert result.ok
    assert "reply_markup" not in sent_calls(h.fake)[0]


async def test_long_text_is_split_with_buttons_on_the_last_part(h: Harness) -> None:
    """Over 4096 characters: several messages, cut at line breaks, all ids reported."""
    line = "Qendra e Shërbimeve – tel. 0800 1010, e hapur 24 orë.\n"
    text = line * 100  # 5,400 characters
    result = await h.channel.send(outbound(text, buttons=(Button("OK", "ok"),)))
    calls = sent_calls(h.fake)
    assert result == SendResult(ok=True, external_id="100,101", segments=2)
    assert [("reply_markup" in c) for c in calls] == [False, True]
    assert "\n".join(c["text"] for c in calls) == text
    assert all(len(c["text"]) <= 4096 for c in calls)


@pytest.mark.parametrize(
    ("text", "limit", "pieces"),
    [
        ("short", 10, ["short"]),
        ("aaaa bbbb cccc", 10, ["aaaa bbbb", "cccc"]),
        ("aaaa\nbbbb cccc", 10, ["aaaa\nbbbb", "cccc"]),
        ("abcdefghijklmnop", 10, ["abcdefghij", "klmnop"]),
        ("😢" * 6, 10, ["😢" * 5, "😢"]),  # emoji count twice, as UTF-16 does
    ],
)
def test_split_text(text: str, limit: int, pieces: list[str]) -> None:
    """Pieces fit Telegram's limit and are cut where a reader would cut."""
    assert split_text(text, limit) == pieces


ERROR_CASES = [
    # (id, error_code, description, retry_after, expected result)
    (
        "429",
        429,
        "Too Many Requests: retry after 3",
        3,
        SendResult(False, None, 1, True, 3.0, "429"),
    ),
    (
        "blocked",
        403,
        "Forbidden: bot was blocked by the user",
        None,
        SendResult(False, None, 1, False, None, "403", "blocked"),
    ),
    (
        "deactivated",
        403,
        "Forbidden: user is deactivated",
        None,
        SendResult(False, None, 1, False, None, "403", "blocked"),
    ),
    (
        "chat-not-found",
        400,
        "Bad Request: chat not found",
        None,
        SendResult(False, None, 1, False, None, "400 Chat not found"),
    ),
    (
        "bad-request-with-id",
        400,
        "Bad Request: chat 5550001112 is unknown",
        None,
        SendResult(False, None, 1, False, None, "400 Chat # is unknown"),
    ),
    ("500", 500, "Internal Server Error", None, SendResult(False, None, 1, True, None, "network")),
    ("502", 502, "Bad Gateway", None, SendResult(False, None, 1, True, None, "network")),
]


@pytest.mark.parametrize(
    ("code", "description", "retry_after", "expected"),
    [c[1:] for c in ERROR_CASES],
    ids=[c[0] for c in ERROR_CASES],
)
async def test_send_errors(
    h: Harness, code: int, description: str, retry_after: int | None, expected: SendResult
) -> None:
    """Each Bot API error means exactly this to the outbox; the next send works again."""
    h.fake.inject("sendMessage", code, description, retry_after=retry_after)
    assert await h.channel.send(outbound("Përshëndetje")) == expected
    assert (await h.channel.send(outbound("Përshëndetje"))).ok
    assert len(sent_calls(h.fake)) == 2


async def test_blocked_person_stays_blocked(h: Harness) -> None:
    """A person who blocked the bot: 403 on every send, never retried."""
    h.fake.block(tp.CHAT_ID)
    result = await h.channel.send(outbound("A jeni mirë?"))
    assert (result.ok, result.retry, result.contact_state) == (False, False, "blocked")


@pytest.mark.parametrize(
    ("token", "status"),
    [(tp.TOKEN.replace("AAH", "BBH"), 401), ("12345:short", 404)],
    ids=["well-formed-wrong", "malformed"],
)
async def test_wrong_token_is_retryable_and_never_logged(
    make_harness: MakeHarness, token: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """401/404 from the API: the start survives, sends come back as retryable, token not logged."""
    caplog.set_level(logging.DEBUG, logger="bot.channels.telegram")
    h = await make_harness(TELEGRAM_BOT_TOKEN=token)
    result = await h.channel.send(outbound("x"))
    assert result == SendResult(ok=False, retry=True, error="invalid_token")
    assert [(c.method, c.status) for c in h.fake.calls] == [
        ("getMe", status),
        ("sendMessage", status),
    ]
    assert token not in caplog.text
    assert "rejected TELEGRAM_BOT_TOKEN" in caplog.text


async def test_unreachable_api_is_retried(make_harness: MakeHarness) -> None:
    """Nothing listening: the helpline still starts, and sends are retried later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    h = await make_harness(api_url=dead)
    result = await h.channel.send(outbound("x"))
    assert (result.ok, result.retry, result.error) == (False, True, "network")


async def test_not_a_telegram_urn(h: Harness) -> None:
    """A URN of another channel is refused without a request."""
    result = await h.channel.send(outbound("x", urn="tel:+355691234567"))
    assert (result.ok, result.retry) == (False, False)
    assert sent_calls(h.fake) == []


# ---- deleting ------------------------------------------------------------------------------------


async def test_delete_removes_our_recent_messages(h: Harness) -> None:
    """FSHI: deleteMessage for each id; over 48 hours old or already gone is skipped quietly."""
    h.fake.clock = lambda: NOW
    old = h.fake.seed_message(tp.CHAT_ID, "mesazh i vjetër", NOW - timedelta(hours=49))
    recent = h.fake.seed_message(tp.CHAT_ID, "mesazh i ri", NOW - timedelta(hours=47))
    sent = await h.channel.send(outbound("Po"))
    gone = 9999
    ids = [old, recent, int(sent.external_id or 0), gone]
    result = await h.channel.send(outbound("", kind="delete", meta={"message_ids": ids}))
    assert result == SendResult(ok=True, external_id=None, segments=0)
    assert h.fake.calls_to("deleteMessage") == [
        {"chat_id": tp.CHAT_ID, "message_id": i} for i in ids
    ]
    assert h.fake.deleted == {tp.CHAT_ID: [recent, int(sent.external_id or 0)]}
    assert h.fake.message_ids(tp.CHAT_ID) == [old]


async def test_delete_accepts_string_ids_and_nothing(h: Harness) -> None:
    """Ids as the outbox stored them (strings); an empty list is done at once."""
    h.fake.clock = lambda: NOW
    mid = h.fake.seed_message(tp.CHAT_ID, "x", NOW)
    assert (await h.channel.send(outbound("", kind="delete", meta={"message_ids": [str(mid)]}))).ok
    assert (await h.channel.send(outbound("", kind="delete", meta={}))).ok
    assert h.fake.deleted == {tp.CHAT_ID: [mid]}


async def test_delete_interrupted_by_429_is_retried_whole(h: Harness) -> None:
    """429 halfway: retry later; the repeat skips what is already gone."""
    h.fake.clock = lambda: NOW
    ids = [h.fake.seed_message(tp.CHAT_ID, f"m{i}", NOW) for i in range(3)]
    msg = outbound("", kind="delete", meta={"message_ids": ids})
    h.fake.inject("deleteMessage", 429, "Too Many Requests: retry after 5", retry_after=5)
    # The injected error answers the first call; the rest wait for the retry.
    assert await h.channel.send(msg) == SendResult(False, None, 1, True, 5.0, "429")
    assert (await h.channel.send(msg)).ok
    assert h.fake.deleted == {tp.CHAT_ID: ids}


# ---- polling -------------------------------------------------------------------------------------


async def test_polling_hands_over_each_update_once(
    make_harness: MakeHarness, fake: FakeTelegram
) -> None:
    """Queued before and after start: each update once, in order; the offset confirms them."""
    for i, body in enumerate(["një", "dy", "tre"], start=1):
        fake.queue_update(tp.text(i, body, message_id=i))
    h = await make_harness(HELPLINE_TELEGRAM_MODE="polling")
    await h.rec.wait_for(3)
    fake.queue_update(tp.callback(4, "yes", query_id="q4"))
    fake.queue_update(tp.text(5, "pesë", message_id=5))
    got = await h.rec.wait_for(5)
    await fake.wait_for_calls("answerCallbackQuery", 1)
    await h.channel.stop()
    assert [(m.external_id, m.text) for m in got] == [
        ("u1", "një"),
        ("u2", "dy"),
        ("u3", "tre"),
        ("u4", "yes"),
        ("u5", "pesë"),
    ]
    assert fake.answered == ["q4"]
    offsets = [c["offset"] for c in fake.calls_to("getUpdates") if "offset" in c]
    assert offsets == sorted(offsets) and offsets[-1] == 6
    assert all(
        c["allowed_updates"] == ["message", "callback_query"]
        for c in fake.calls_to("getUpdates")[:-1]
    )
    assert fake.pending() == []


async def test_polling_restart_does_not_fetch_handled_updates(
    make_harness: MakeHarness, fake: FakeTelegram
) -> None:
    """After stop, a new poller starts past what the old one handled."""
    fake.queue_update(tp.text(1, "një"))
    first = await make_harness(HELPLINE_TELEGRAM_MODE="polling")
    await first.rec.wait_for(1)
    await first.channel.stop()
    fake.queue_update(tp.text(2, "dy"))
    second = await make_harness(HELPLINE_TELEGRAM_MODE="polling")
    got = await second.rec.wait_for(1)
    await second.channel.stop()
    assert [m.external_id for m in got] == ["u2"]
    assert [m.external_id for m in first.rec.inbound] == ["u1"]


async def test_polling_removes_a_webhook_first(
    make_harness: MakeHarness, fake: FakeTelegram
) -> None:
    """getUpdates is refused (409) while a webhook is set: polling deletes it, keeps updates."""
    fake.webhook = {"url": "https://old.example.org/webhooks/telegram"}
    fake.queue_update(tp.text(1, "ndihmë"))
    h = await make_harness(HELPLINE_TELEGRAM_MODE="polling")
    await h.rec.wait_for(1)
    assert fake.calls_to("deleteWebhook")[0] == {"drop_pending_updates": False}
    assert fake.webhook is None


async def test_polling_retries_an_update_whose_handover_failed(
    make_harness: MakeHarness, fake: FakeTelegram
) -> None:
    """The pipeline failing once: the update is fetched again and handed over, not skipped."""
    fake.queue_update(tp.text(1, "një"))
    fake.queue_update(tp.text(2, "dy"))
    h = await make_harness(HELPLINE_TELEGRAM_MODE="polling", rec=Recorder(fail_times=1))
    got = await h.rec.wait_for(2)
    assert [m.external_id for m in got] == ["u1", "u2"]


async def test_polling_survives_a_conflict(make_harness: MakeHarness, fake: FakeTelegram) -> None:
    """A second poller (409) is waited out, then updates flow again."""
    fake.inject("getUpdates", 409, "Conflict: terminated by other getUpdates request", times=2)
    fake.queue_update(tp.text(1, "një"))
    h = await make_harness(HELPLINE_TELEGRAM_MODE="polling")
    assert [m.external_id for m in await h.rec.wait_for(1)] == ["u1"]
    # A 409 may mean someone set a webhook again: it is deleted once more.
    assert len(fake.calls_to("deleteWebhook")) == 3


async def test_unknown_mode_is_refused(tmp_path: Path, fake: FakeTelegram) -> None:
    """A typo in HELPLINE_TELEGRAM_MODE stops the start with a clear message."""
    settings = make_settings(tmp_path, fake.url, HELPLINE_TELEGRAM_MODE="poll")
    channel = TelegramChannel(settings, receive=Recorder().receive)
    with pytest.raises(ValueError, match="HELPLINE_TELEGRAM_MODE"):
        await channel.start()


# ---- webhook registration ------------------------------------------------------------------------


async def test_set_webhook_request_and_delivery(h: Harness) -> None:
    """setWebhook carries our URL, secret and update kinds; Telegram's deliveries then get in."""
    await h.channel.set_webhook()
    assert h.fake.calls_to("setWebhook") == [
        {
            "url": PUBLIC + "/webhooks/telegram",
            "secret_token": SECRET,
            "allowed_updates": ["message", "callback_query"],
        }
    ]
    assert await h.fake.deliver(tp.text(1, "ndihmë")) == 200
    assert [m.text for m in h.rec.inbound] == ["ndihmë"]


async def test_set_webhook_before_start(tmp_path: Path, fake: FakeTelegram) -> None:
    """`helpline telegram set-webhook` needs no running channel; it closes what it opened."""
    channel = TelegramChannel(make_settings(tmp_path, fake.url), receive=Recorder().receive)
    await channel.set_webhook()
    assert fake.webhook is not None and fake.webhook["secret_token"] == SECRET


@pytest.mark.parametrize(
    ("secret", "message"),
    [("", "TELEGRAM_WEBHOOK_SECRET first"), ("has spaces!", "only A-Z")],
    ids=["missing", "bad-characters"],
)
async def test_set_webhook_refuses_a_bad_secret(
    tmp_path: Path, fake: FakeTelegram, secret: str, message: str
) -> None:
    """Without a usable secret every update would be refused: say so, send nothing."""
    settings = make_settings(tmp_path, fake.url, TELEGRAM_WEBHOOK_SECRET=secret)
    channel = TelegramChannel(settings, receive=Recorder().receive)
    with pytest.raises(TelegramSetupError, match=message):
        await channel.set_webhook()
    assert fake.calls == []


async def test_set_webhook_errors_never_show_the_token(tmp_path: Path, fake: FakeTelegram) -> None:
    """A rejected token or URL is reported in words, without the token."""
    wrong = tp.TOKEN.replace("AAH", "ZZH")
    channel = TelegramChannel(
        make_settings(tmp_path, fake.url, TELEGRAM_BOT_TOKEN=wrong), receive=Recorder().receive
    )
    with pytest.raises(TelegramSetupError) as info:
        await channel.set_webhook()
    assert wrong not in str(info.value) and info.value.__cause__ is None
    channel = TelegramChannel(make_settings(tmp_path, fake.url), receive=Recorder().receive)
    fake.inject(
        "setWebhook", 400, "Bad Request: bad webhook: HTTPS url must be provided for webhook"
    )
    with pytest.raises(TelegramSetupError, match="https url must be provided"):
        await channel.set_webhook()


# ---- privacy -------------------------------------------------------------------------------------


async def test_nothing_personal_is_logged(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Chat ids, texts, names and the token stay out of the channel's log, errors included."""
    caplog.set_level(logging.DEBUG, logger="bot.channels.telegram")
    await h.post(tp.text(1, "më rreh burri"))
    await h.post(tp.group_text(2, "sekret"))
    await h.channel.send(outbound("Numri 129"))
    h.fake.inject("sendMessage", 400, f"Bad Request: chat {tp.CHAT_ID} not found")
    await h.channel.send(outbound("Numri 129"))
    h.fake.block(tp.CHAT_ID)
    await h.channel.send(outbound("Numri 129"))
    h.rec.fail_times = 1
    await h.post(tp.text(3, "më rreh burri"))
    assert caplog.records, "the channel should log what happened, without personal data"
    for secret in (str(tp.CHAT_ID), str(tp.GROUP_ID), "rreh", "Numri", "Drita", "sekret", tp.TOKEN):
        assert secret not in caplog.text


# ---- the fake itself -----------------------------------------------------------------------------


async def test_fake_edit_message_text_behaves_like_the_api(fake: FakeTelegram) -> None:
    """editMessageText through the real PTB Bot: edits, refuses a no-op and an unknown message."""
    async with Bot(tp.TOKEN, base_url=api_base_url(fake.url)) as bot:
        sent = await bot.send_message(tp.CHAT_ID, "Pyetja 1")
        edited = await bot.edit_message_text("Pyetja 1 (përgjigjur)", tp.CHAT_ID, sent.message_id)
        assert edited.text == "Pyetja 1 (përgjigjur)"
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("Pyetja 1 (përgjigjur)", tp.CHAT_ID, sent.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", tp.CHAT_ID, 4242)
        me = await bot.get_me()
        assert me.id == tp.BOT_ID and me.is_bot


# ---- a whole conversation: webhook → pipeline → database → outbox → Bot API --------------------


async def test_a_conversation_over_telegram(
    db: Database, fake: FakeTelegram, tmp_path: Path
) -> None:
    """The real pipeline and outbox on SQLite and PostgreSQL behind the channel, fake Telegram."""
    convo = await PipelineHarness(db).start()
    clock = convo.clock
    fake.clock = clock
    channel = TelegramChannel(
        make_settings(tmp_path, fake.url), receive=convo.pipeline.receive, clock=clock
    )
    sender = build_sender(db, {"telegram": channel}, clock)
    convo.pipeline.hand_to = sender  # the sender that delivers, as app.py wires it
    app = web.Application()
    app.add_routes(channel.routes())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await channel.start()
        try:
            h = Harness(channel, client, fake, Recorder())

            async def step(update: dict[str, Any]) -> list[dict[str, Any]]:
                """Deliver one update, send what the outbox holds; the sendMessage calls made."""
                before = len(sent_calls(fake))
                assert await h.post(update) == 200
                while await sender.drain_once():
                    pass
                return sent_calls(fake)[before:]

            def keyboard_of(call: dict[str, Any]) -> list[tuple[str, str]]:
                """(label, callback data) of each inline button row."""
                rows = call["reply_markup"]["inline_keyboard"]
                return [(row[0]["text"], row[0]["callback_data"]) for row in rows]

            [hello] = await step(tp.start(1))
            assert hello["chat_id"] == tp.CHAT_ID
            assert hello["text"].startswith("Përshëndetje! Hello!")
            assert keyboard_of(hello) == [("Shqip", "sq"), ("English", "en")]

            press = tp.callback(2, "sq", query_id="q2", message_id=100)
            [safe] = await step(press)
            assert fake.answered == ["q2"]
            assert "Është e sigurt të shkruani tani?" in safe["text"]
            assert keyboard_of(safe) == [("Po", "yes"), ("Jo", "no")]
            assert await step(press) == []  # Telegram resending an update: processed once

            [media] = await step(tp.photo(3))
            assert media["text"].startswith("Lexojmë vetëm tekst.")

            fake.block(tp.CHAT_ID)
            assert len(await step(tp.text(4, "po", message_id=60))) == 1  # tried once, 403
            async with db.uow() as uow:
                contact = await uow.contacts.find_by_urn(URN)
            assert contact is not None and contact.opted_out

            # They unblock and write again: flood control is honoured, then the reply goes out.
            fake.blocked.clear()
            fake.inject("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
            assert len(await step(tp.text(5, "po", message_id=61))) == 1  # the 429
            assert not await sender.drain_once()  # not due before retry_after
            clock.advance(timedelta(seconds=3))
            while await sender.drain_once():
                pass
            answer = sent_calls(fake)[-1]
            assert fake.calls[-1].status == 200 and answer["chat_id"] == tp.CHAT_ID
            async with db.uow() as uow:
                contact = await uow.contacts.find_by_urn(URN)
            assert contact is not None and not contact.opted_out
        finally:
            await channel.stop()


@pytest.mark.parametrize(
    "status",
    [200, 204, 299, 400, 403, 429, 500],
)
@pytest.mark.parametrize(
    "payload",
    [
        b'{"ok": true, "result": {"message_id": 7}}',
        b'{"ok": true, "result": true}',
        b'{"ok": true}',
        b'{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}',
        b'{"ok": false, "description": "Too Many Requests", "parameters": {"retry_after": 3}}',
        b"[1, 2]",
        b"null",
        b"<html>a proxy's page</html>",
        b"",
    ],
)
async def test_call_reads_an_answer_as_ptb_does(h: Harness, status: int, payload: bytes) -> None:
    """`call` reads a 2xx answer itself (PTB's request wrapper costs a send ~100 bytecodes):
    what it returns or raises is what PTB's BaseRequest.post gave for every answer."""
    from telegram.error import TelegramError

    from bot.channels import telegram as tg

    def outcome(result: Any = None, error: BaseException | None = None) -> Any:
        if error is None:
            return ("result", result)
        return (type(error), str(error))

    async def post_as_before() -> Any:
        try:
            result = await tg._Answered(status, payload).post("https://api.example/bot1:x/m")
        except (KeyError, TypeError):  # call() wrapped these before as now
            return outcome(error=TelegramError("Invalid server response"))
        except Exception as exc:  # PTB's AttributeError for a list or null error answer too
            return outcome(error=exc)
        return outcome(result)

    async def answered(*_args: Any) -> tuple[int, bytes]:
        return status, payload

    assert h.channel._request is not None
    h.channel._request.send_json = answered  # type: ignore[method-assign]
    try:
        now = outcome(await h.channel.call("sendMessage", {"chat_id": 1, "text": "x"}))
    except Exception as exc:
        now = outcome(error=exc)
    assert now == await post_as_before()
