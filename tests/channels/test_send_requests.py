"""The exact bytes each send puts on the wire, request line, headers (and their order) and
body: pinned as the channels wrote them before the send path was trimmed for speed
(issue 19), so a faster way of building a request cannot change what a provider receives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.http import SERVER_SOFTWARE

from bot.channels.telegram import TelegramChannel
from bot.channels.twilio_sms import TwilioSmsChannel
from bot.channels.twilio_whatsapp import TwilioWhatsAppChannel
from bot.config import load_settings
from bot.messages import Button, Outbound, SendResult
from tests.auxil import telegram_payloads as tgp
from tests.auxil import twilio_payloads as tp
from tests.channels.test_send_answers import (
    PUBLIC,
    _on_opt_out,
    _on_status,
    _receive,
    settings_for,
)
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

SID = "SM" + "b" * 32
CHAT_ID = 6_000_000_001
TEMPLATE = "HX" + "0123456789abcdef" * 2
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TWILIO_PATH = f"/2010-04-01/Accounts/{tp.ACCOUNT_SID}"
BOT_PATH = f"/bot{tgp.TOKEN}"
AUTH = (
    "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpmYWtlLXR3aWxpby1hdXRoLXRva2VuLTAx"
    "MjM0NTY3ODk="
)


@dataclass
class Wire:
    """A raw HTTP/1.1 server: records each request's bytes as received, answers 200 with a
    body that suits its path, keeps the connection open."""

    seen: list[bytes] = field(default_factory=list)
    peers: set[object] = field(default_factory=set)
    url: str = ""
    host: str = ""
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.add(writer.get_extra_info("peername"))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.seen.append(head + body)
                answer = self._answer(head.split(b" ")[1].decode())
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @staticmethod
    def _answer(path: str) -> bytes:
        if path.endswith("/getMe"):
            return json.dumps({"ok": True, "result": tgp.bot_user()}).encode()
        if path.endswith("/sendMessage"):
            chat = {"id": CHAT_ID, "type": "private"}
            return json.dumps(
                {"ok": True, "result": {"message_id": 7, "date": 0, "chat": chat}}
            ).encode()
        if "/bot" in path:
            return b'{"ok": true, "result": true}'
        return json.dumps({"sid": SID, "status": "queued"}).encode()

    def requests(self) -> list[str]:
        """What was received, as text, the port written as PORT."""
        return [r.decode().replace(self.host, "127.0.0.1:PORT") for r in self.seen]


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    """The raw server."""
    server = Wire()
    await server.start()
    yield server
    await server.stop()


def twilio_request(method: str, path: str, body: str = "", *, form: bool = True) -> str:
    """A Twilio REST request as the channel writes it."""
    lines = [
        f"{method} {TWILIO_PATH}{path} HTTP/1.1",
        "Host: 127.0.0.1:PORT",
        f"Authorization: {AUTH}",
        "Accept: application/json",
        "Accept-Charset: utf-8",
        "User-Agent: helpline (aiohttp)",
        *(["Content-Type: application/x-www-form-urlencoded"] if form else []),
        "Accept-Encoding: gzip, deflate",
        f"Content-Length: {len(body.encode())}",
    ]
    return "\r\n".join(lines) + "\r\n\r\n" + body


def bot_request(method: str, body: str) -> str:
    """A Bot API request as the channel (and PTB, on the same session) writes it."""
    lines = [
        f"POST {BOT_PATH}/{method} HTTP/1.1",
        "Host: 127.0.0.1:PORT",
        "Accept: */*",
        "Accept-Encoding: gzip, deflate",
        f"User-Agent: {SERVER_SOFTWARE}",
        f"Content-Length: {len(body.encode())}",
        "Content-Type: application/json",
    ]
    return "\r\n".join(lines) + "\r\n\r\n" + body


CALLBACK = "StatusCallback=https%3A%2F%2Fhelpline.example.org%2Fwebhooks%2Ftwilio%2Fstatus"


async def test_twilio_sms_bytes(tmp_path: Path, wire: Wire) -> None:
    """An SMS reply, a long one with every kind of character, and an FSHI deletion."""
    channel = TwilioSmsChannel(
        settings_for(tmp_path, wire.url),
        receive=_receive,
        on_status=_on_status,
        on_opt_out=_on_opt_out,
    )
    await channel.start()
    try:
        ok = SendResult(ok=True, external_id=SID, segments=1)
        assert await channel.send(Outbound(1, "sms", "tel:+355691234567", "Përshëndetje")) == ok
        odd = "A & B = 100% \"ok\"? 'yes' <no> +/#\n1. Çka?\t€ 😀 " + "x" * 200
        sent = await channel.send(Outbound(2, "sms", "tel:+355691234567", odd))
        assert sent.ok and sent.segments == 4
        meta = {"message_sids": [SID, "not-a-sid"]}
        deleted = await channel.send(
            Outbound(3, "sms", "tel:+355691234567", "", kind="delete", meta=meta)
        )
        assert deleted == SendResult(ok=True, external_id=None, segments=0)
    finally:
        await channel.stop()
    to = "To=%2B355691234567"
    sender = "From=%2B12025550143"
    long_body = (
        "Body=A+%26+B+%3D+100%25+%22ok%22%3F+%27yes%27+%3Cno%3E+%2B%2F%23%0A1.+%C3%87ka%3F%09"
        "%E2%82%AC+%F0%9F%98%80+" + "x" * 200
    )
    assert wire.requests() == [
        twilio_request(
            "POST", "/Messages.json", f"{to}&{CALLBACK}&Body=P%C3%ABrsh%C3%ABndetje&{sender}"
        ),
        twilio_request("POST", "/Messages.json", f"{to}&{CALLBACK}&{long_body}&{sender}"),
        twilio_request("DELETE", f"/Messages/{SID}.json", form=False),
    ]
    assert len(wire.peers) == 1  # one kept-alive connection


async def test_twilio_whatsapp_bytes(tmp_path: Path, wire: Wire) -> None:
    """A WhatsApp reply inside her 24 hours, then a check-in outside them as its template."""
    env = {
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+12025550199",
        "HELPLINE_WHATSAPP_TEMPLATES": f"checkin.sq={TEMPLATE}",
        "HELPLINE_TWILIO_API_URL": wire.url,
    }
    heard: list[datetime | None] = [NOW]

    async def last_inbound(_urn: str) -> datetime | None:
        return heard[0]

    channel = TwilioWhatsAppChannel(
        load_settings(env=env),
        receive=_receive,
        on_status=_on_status,
        on_opt_out=_on_opt_out,
        last_inbound=last_inbound,
        clock=lambda: NOW,
    )
    await channel.start()
    try:
        urn = "whatsapp:+355691234567"
        ok = SendResult(ok=True, external_id=SID, segments=1)
        assert await channel.send(Outbound(1, "whatsapp", urn, "Përshëndetje 😀")) == ok
        heard[0] = None
        template = {"name": "checkin", "lang": "sq", "vars": {"1": "Arta ë"}}
        checkin = Outbound(2, "whatsapp", urn, "Si jeni?", meta={"template": template})
        assert await channel.send(checkin) == ok
    finally:
        await channel.stop()
    to = "To=whatsapp%3A%2B355691234567"
    sender = "From=whatsapp%3A%2B12025550199"
    variables = "ContentVariables=%7B%221%22%3A+%22Arta+%C3%AB%22%7D"
    assert wire.requests() == [
        twilio_request(
            "POST",
            "/Messages.json",
            f"{to}&{CALLBACK}&Body=P%C3%ABrsh%C3%ABndetje+%F0%9F%98%80&{sender}",
        ),
        twilio_request(
            "POST", "/Messages.json", f"{to}&{CALLBACK}&ContentSid={TEMPLATE}&{variables}&{sender}"
        ),
    ]


async def test_telegram_bytes(tmp_path: Path, wire: Wire) -> None:
    """getMe at start (PTB's own call on the session), a reply with a button, a deletion."""
    channel = TelegramChannel(settings_for(tmp_path, wire.url), receive=_receive)
    await channel.start()
    try:
        reply = Outbound(
            1,
            "telegram",
            f"telegram:{CHAT_ID}",
            'A jeni mirë? "Po" / Jo 😀',
            (Button("Po", "yes"), Button("Jo", "no")),
        )
        assert await channel.send(reply) == SendResult(ok=True, external_id="7", segments=1)
        meta = {"message_ids": ["7", 8]}
        deleted = Outbound(2, "telegram", f"telegram:{CHAT_ID}", "", kind="delete", meta=meta)
        assert await channel.send(deleted) == SendResult(ok=True, external_id=None, segments=0)
    finally:
        await channel.stop()
    send = (
        '{"chat_id": 6000000001, "text": "A jeni mir\\u00eb? \\"Po\\" / Jo \\ud83d\\ude00", '
        '"link_preview_options": {"is_disabled": true}, "reply_markup": {"inline_keyboard": '
        '[[{"text": "Po", "callback_data": "yes"}], [{"text": "Jo", "callback_data": "no"}]]}}'
    )
    assert wire.requests() == [
        bot_request("getMe", "{}"),
        bot_request("sendMessage", send),
        bot_request("deleteMessage", '{"chat_id": 6000000001, "message_id": 7}'),
        bot_request("deleteMessage", '{"chat_id": 6000000001, "message_id": 8}'),
    ]
    assert len(wire.peers) == 1
