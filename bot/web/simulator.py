"""/simulator: a web chat that talks to the helpline as a survivor would, via the same pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from bot.hub import Hub, Subscription
from bot.messages import Inbound

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
URN_PATTERN = re.compile(r"sim:[A-Za-z0-9_-]{22,64}")
MAX_TEXT = 4000  # characters, as for any channel's inbound text
MAX_BUTTON = 128  # option values are short identifiers
# 4000 characters escaped as \uXXXX take 24 kB; a bigger frame is not a chat message.
MAX_FRAME_BYTES = 64 * 1024
RATE_COUNT, RATE_WINDOW = 20, 10.0  # messages per connection per seconds
HEARTBEAT = 30.0  # seconds between pings, so dead connections free their subscriptions

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Receive = Callable[[Inbound], Awaitable[object]]
DemoPhone = Callable[[], Awaitable[dict[str, str] | None]]
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("simulator_sockets")


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """What the person typed, or the option they tapped (`button` is its value)."""

    text: str
    button: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a client frame was refused; sent back as an error frame."""

    code: str  # bad_json | bad_message | empty | too_long | rate_limited | failed
    error: str  # English, for developers; the page shows its own words for each code

    def frame(self) -> dict[str, str]:
        """The error frame the page receives."""
        return {"type": "error", "code": self.code, "error": self.error}


RATE_LIMITED = Rejected("rate_limited", f"more than {RATE_COUNT} messages in {RATE_WINDOW:g} s")
FAILED = Rejected("failed", "the helpline could not take this message; try again")


def new_urn() -> str:
    """A fresh simulator address, always made by the server."""
    return "sim:" + secrets.token_urlsafe(18)


def valid_urn(urn: str) -> bool:
    """True for an address of the form new_urn makes (and nothing outside `sim:`)."""
    return URN_PATTERN.fullmatch(urn) is not None


def parse_client_frame(data: str) -> ClientMessage | Rejected:
    """A client's JSON frame ({"text"} or {"button", "label"}) as a message, or why not."""
    if len(data) > MAX_FRAME_BYTES:
        return Rejected("too_long", f"message over {MAX_TEXT} characters")
    try:
        frame = json.loads(data)
    except ValueError:
        return Rejected("bad_json", "frames must be JSON objects")
    if not isinstance(frame, dict):
        return Rejected("bad_json", "frames must be JSON objects")
    if "button" in frame:
        button, label = frame.get("button"), frame.get("label", frame.get("button"))
        if not isinstance(button, str) or not button or len(button) > MAX_BUTTON:
            return Rejected("bad_message", "button must be a short non-empty string")
        if not isinstance(label, str):
            return Rejected("bad_message", "label must be a string")
        text = label
    else:
        button, said = None, frame.get("text")
        if not isinstance(said, str):
            return Rejected("bad_message", 'expected {"text": "..."} or {"button": "..."}')
        text = said
        if not text.strip():
            return Rejected("empty", "the message is empty")
    if len(text) > MAX_TEXT:
        return Rejected("too_long", f"message over {MAX_TEXT} characters")
    return ClientMessage(text=text, button=button)


class RateLimit:
    """At most `count` messages in any `window` seconds (a sliding window)."""

    def __init__(
        self,
        count: int = RATE_COUNT,
        window: float = RATE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.count, self.window, self.clock = count, window, clock
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        """Count one message; False (and not counted) when it is over the limit."""
        now = self.clock()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) >= self.count:
            return False
        self._times.append(now)
        return True


def _utcnow() -> datetime:
    """The real clock, in UTC."""
    return datetime.now(UTC)


def same_origin(request: web.Request) -> bool:
    """A browser's WebSocket must come from this site's own page (no cross-site hijacking)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: nothing a third-party page could ride on
    return urlsplit(origin).netloc.lower() == request.host.lower()


async def page(request: web.Request) -> web.FileResponse:
    """The chat page."""
    return web.FileResponse(STATIC / "simulator.html", headers=PAGE_HEADERS)


class _Connection:
    """One browser tab: its URN, its subscription, one writer at a time."""

    def __init__(self, ws: web.WebSocketResponse, urn: str, subscription: Subscription) -> None:
        self.ws = ws
        self.urn = urn
        self.subscription = subscription
        self._send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        """Write one frame; the hub forwarder and the reader never interleave."""
        async with self._send_lock:
            await self.ws.send_str(json.dumps(frame, ensure_ascii=False, default=str))

    async def forward(self) -> None:
        """Copy hub frames (replies, engine events) to the browser until either side closes."""
        async for frame in self.subscription:
            if self.ws.closed:
                return
            try:
                await self.send(frame)
            except ConnectionError:
                return


def make_ws_handler(
    hub: Hub,
    receive: Receive,
    *,
    sockets: weakref.WeakSet[web.WebSocketResponse] | None = None,
    rate: tuple[int, float] = (RATE_COUNT, RATE_WINDOW),
    monotonic: Callable[[], float] = time.monotonic,
    utcnow: Callable[[], datetime] = _utcnow,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The WebSocket endpoint, bound to the hub and to the pipeline's `receive`."""

    async def ws_handler(request: web.Request) -> web.StreamResponse:
        """One tab's conversation: hello, then its messages in and the hub's frames out."""
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-origin WebSocket refused")
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        if sockets is not None:
            sockets.add(ws)
        asked = request.query.get("urn", "")
        # A reconnecting tab keeps its conversation; anything else gets a fresh address.
        urn = asked if valid_urn(asked) else new_urn()
        limit = RateLimit(*rate, clock=monotonic)
        # Subscribe before hello, so no reply published after the hello can be missed.
        async with hub.subscribe(urn) as subscription:
            conn = _Connection(ws, urn, subscription)
            forwarder = asyncio.create_task(conn.forward(), name="simulator-forward")
            try:
                await conn.send({"type": "hello", "urn": urn, "max_text": MAX_TEXT})
                async for msg in ws:
                    if msg.type != WSMsgType.TEXT:
                        await conn.send(Rejected("bad_json", "send JSON text frames").frame())
                        continue
                    await _handle(conn, msg.data, limit, receive, utcnow)
            except ConnectionError:
                pass  # the tab went away while we answered; nothing to tell it
            finally:
                forwarder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forwarder
        return ws

    return ws_handler


async def _handle(
    conn: _Connection,
    data: str,
    limit: RateLimit,
    receive: Receive,
    utcnow: Callable[[], datetime],
) -> None:
    """One client frame: rate limit, check, hand to the pipeline; problems get an error frame."""
    if not limit.allow():
        await conn.send(RATE_LIMITED.frame())
        return
    parsed = parse_client_frame(data)
    if isinstance(parsed, Rejected):
        await conn.send(parsed.frame())
        return
    inbound = Inbound(
        channel="simulator",
        urn=conn.urn,
        text=parsed.text,
        external_id=str(uuid.uuid4()),
        received_at=utcnow(),
        button=parsed.button,
    )
    try:
        await receive(inbound)
    except Exception as exc:
        # The exception's message may quote the text or SQL parameters: log only its type.
        log.error("simulator message failed: %s", type(exc).__name__)
        await conn.send(FAILED.frame())


async def close_sockets(app: web.Application) -> None:
    """Close every open simulator socket (1001, going away); the pages reconnect by themselves."""
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def make_phone_handler(
    demo_phone: DemoPhone | None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /simulator/coordinator: the demo coordinator's phone address and name, or 404."""

    async def phone(request: web.Request) -> web.Response:
        """Which demo coordinator the page's coordinator phone is."""
        found = await demo_phone() if demo_phone is not None else None
        if found is None:
            return web.json_response({"error": "no demo coordinator"}, status=404)
        return web.json_response(found, headers={"Cache-Control": "no-store"})

    return phone


def setup_simulator(
    app: web.Application,
    *,
    hub: Hub,
    receive: Receive,
    demo_phone: DemoPhone | None = None,
    rate: tuple[int, float] = (RATE_COUNT, RATE_WINDOW),
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Add /simulator (page), /simulator/ws (WebSocket) and /simulator/static/ to the app."""
    app[SOCKETS] = weakref.WeakSet()
    handler = make_ws_handler(hub, receive, sockets=app[SOCKETS], rate=rate, monotonic=monotonic)
    app.router.add_get("/simulator", page)
    app.router.add_get("/simulator/coordinator", make_phone_handler(demo_phone))
    app.router.add_get("/simulator/ws", handler)
    app.router.add_static("/simulator/static", STATIC)
    # Open sockets would hold shutdown up until its timeout; close them first.
    app.on_shutdown.append(close_sockets)
