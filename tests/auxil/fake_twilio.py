"""A stateful fake of Twilio's REST API (v2010 Messages) on 127.0.0.1, with test controls."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
from aiohttp import web

from bot.channels import sms_encoding
from tests.auxil import twilio_payloads
from tests.auxil.twilio_payloads import ACCOUNT_SID, API_VERSION, AUTH_TOKEN

# Twilio's own messages for the errors the fake answers; codes from twilio.com/docs/errors.
ERROR_TEXTS = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    21655: "The ContentSid is Invalid",
    21656: "The ContentVariables Parameter is invalid",
    21910: "Invalid From and To pair. From and To should be of the same channel",
    63016: "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
}
MAX_BODY = 1600
WHATSAPP = "whatsapp:"
# WhatsApp: free-form only within 24 hours of the person's last message; else 63016, reported
# by the status callback after the message was accepted (as Twilio does).
WHATSAPP_WINDOW = timedelta(hours=24)
ERR_OUTSIDE_WINDOW = 63016
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")  # the OpenAPI's pattern for ContentSid


@dataclass
class ReceivedRequest:
    """One request the fake received, parsed."""

    method: str
    path: str
    form: dict[str, str]
    auth: tuple[str, str] | None  # (username, password) from HTTP Basic auth
    headers: dict[str, str]


@dataclass
class _Failure:
    """An error the fake answers instead of creating a message."""

    code: int
    status: int
    retry_after: float | None = None


@dataclass
class FakeTwilio:
    """Twilio's Messages API as the helpline uses it; start() binds a free port on 127.0.0.1."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    requests: list[ReceivedRequest] = field(default_factory=list)
    messages: dict[str, dict[str, object]] = field(default_factory=dict)
    callbacks: list[tuple[str, int]] = field(default_factory=list)  # (url, status) of callbacks
    inbound: set[str] = field(default_factory=set)  # SIDs of messages people sent us
    deleted: list[str] = field(default_factory=list)  # SIDs deleted through the API
    _not_ready: int = 0
    _queued: list[_Failure] = field(default_factory=list)
    _always: _Failure | None = None
    _forward: dict[str, str] = field(default_factory=dict)
    _fail_for: dict[str, _Failure] = field(default_factory=dict)
    _hang: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    url: str = ""
    # Cancel a request's handler when its sender hangs up (a SIGKILLed sender, held requests).
    handler_cancellation: bool = False
    # WhatsApp: approved Content templates (ContentSid -> body with {{1}}…), when each address
    # last wrote (opens its 24 hours), the clock that window is read with, and the callbacks
    # the fake posts by itself (63016).
    templates: dict[str, str] = field(default_factory=dict)
    heard: dict[str, datetime] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _tasks: list[asyncio.Task[int]] = field(default_factory=list)
    # Every message created, in order, kept after a deletion (what reached each phone).
    log: list[dict[str, object]] = field(default_factory=list)

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve on a free port of 127.0.0.1; returns the base URL to give the twilio client."""
        app = web.Application()
        base = f"/{API_VERSION}/Accounts/{{account}}/Messages"
        app.router.add_post(base + ".json", self._create)
        app.router.add_get(base + "/{sid}.json", self._fetch)
        app.router.add_delete(base + "/{sid}.json", self._delete)
        self._runner = web.AppRunner(app, handler_cancellation=self.handler_cancellation)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._session = aiohttp.ClientSession()
        return self.url

    async def stop(self) -> None:
        """Close the callback session and the server."""
        self.release()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test controls ---------------------------------------------------------------------

    def fail_next(
        self, code: int, status: int = 400, times: int = 1, retry_after: float | None = None
    ) -> None:
        """Answer the next `times` message creations with this Twilio error."""
        self._queued.extend(_Failure(code, status, retry_after) for _ in range(times))

    def fail_all_with(self, status: int = 500, retry_after: float | None = None) -> None:
        """Answer every message creation with this HTTP status until recover()."""
        self._always = _Failure(20429 if status == 429 else 20500, status, retry_after)

    def fail_to(self, address: str, code: int, status: int = 400) -> None:
        """Answer every message creation to this address with this Twilio error."""
        self._fail_for[address] = _Failure(code, status)

    def hang_next(self, times: int = 1) -> None:
        """Leave the next `times` message creations unanswered until release() (timeouts)."""
        self._hang += times

    def release(self) -> None:
        """Let hanging requests go on (they answer as if nothing had happened)."""
        self._released.set()

    def refuse_deletes(self, times: int = 1) -> None:
        """Answer the next `times` deletions with 20009 (Twilio still processing the message)."""
        self._not_ready += times

    def heard_from(self, address: str, at: datetime | None = None) -> None:
        """A WhatsApp user wrote to us (at `at`, default the fake's clock): 24 hours open."""
        self.heard[address] = at or self.clock()

    def add_template(self, sid: str, body: str) -> None:
        """An approved Content template (its body with {{1}}… variables)."""
        self.templates[sid] = body

    async def settled(self) -> None:
        """Wait until every callback the fake posts by itself (63016) has been answered."""
        while self._tasks:
            tasks, self._tasks = self._tasks, []
            await asyncio.gather(*tasks)

    def recover(self) -> None:
        """Stop failing."""
        self._always = None
        self._queued.clear()

    def forward(self, public_prefix: str, local_prefix: str) -> None:
        """Reach URLs under `public_prefix` at `local_prefix`, as a reverse proxy in front would."""
        self._forward[public_prefix.rstrip("/")] = local_prefix.rstrip("/")

    async def deliver(
        self, sid: str, status: str = "delivered", error_code: int | None = None
    ) -> int:
        """POST a signed status callback for a message to its StatusCallback; returns the status."""
        message = self.messages[sid]
        message["status"] = status
        message["error_code"] = error_code
        callback = str(message.get("_status_callback") or "")
        if not callback:
            raise LookupError("message has no StatusCallback")
        form = twilio_payloads.status_callback(
            sid,
            status,
            to=str(message["to"]),
            from_=str(message["from"] or ""),
            account_sid=self.account_sid,
            error_code=None if error_code is None else str(error_code),
        )
        headers = twilio_payloads.signed_headers(callback, form, self.auth_token)
        assert self._session is not None, "start() the fake first"
        async with self._session.post(self._target(callback), data=form, headers=headers) as resp:
            await resp.read()
            self.callbacks.append((callback, resp.status))
        await self._notify()
        return resp.status

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds; it is checked after every request and every message."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def created(self) -> list[ReceivedRequest]:
        """The message-creation requests received, failed ones included."""
        return [r for r in self.requests if r.method == "POST"]

    # ---- wire format -----------------------------------------------------------------------

    def _target(self, url: str) -> str:
        """Where a URL is really reached, through the configured forwards."""
        for public, local in self._forward.items():
            if url == public or url.startswith(public + "/"):
                return local + url[len(public) :]
        return url

    def _auth(self, request: web.Request) -> tuple[str, str] | None:
        """(username, password) from the Basic Authorization header, if well formed."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user, password

    def _error(self, code: int, status: int, retry_after: float | None = None) -> web.Response:
        """A JSON error body in Twilio's (legacy, v2010) format."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        return web.json_response(
            {
                "code": code,
                "message": ERROR_TEXTS.get(code, "Error"),
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status=status,
            headers=headers,
        )

    async def _record(self, request: web.Request) -> ReceivedRequest:
        """Parse and remember a request."""
        form = {k: str(v) for k, v in (await request.post()).items()}
        received = ReceivedRequest(
            method=request.method,
            path=request.path,
            form=form,
            auth=self._auth(request),
            headers=dict(request.headers),
        )
        self.requests.append(received)
        await self._notify()
        return received

    def _authorised(self, received: ReceivedRequest, account: str) -> web.Response | None:
        """The error to answer when the credentials or the account in the path are wrong."""
        if received.auth != (self.account_sid, self.auth_token):
            return self._error(20003, 401)
        if account != self.account_sid:
            return self._error(20404, 404)
        return None

    async def _create(self, request: web.Request) -> web.Response:
        """POST .../Messages.json: validate as Twilio does, then queue the message."""
        received = await self._record(request)
        refused = self._authorised(received, request.match_info["account"])
        if refused is not None:
            return refused
        if self._hang:
            self._hang -= 1
            await self._released.wait()
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499)  # the sender went away: nothing was created
        form = received.form
        if not form.get("To"):
            return self._error(21604, 400)
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._error(21603, 400)
        whatsapp = form["To"].startswith(WHATSAPP)
        if form.get("From") and form["From"].startswith(WHATSAPP) != whatsapp:
            return self._error(21910, 400)
        body = form.get("Body", "")
        if form.get("ContentSid"):
            content = form["ContentSid"]
            if not CONTENT_SID.fullmatch(content) or content not in self.templates:
                return self._error(21655, 400)
            try:
                variables = json.loads(form.get("ContentVariables") or "{}")
            except ValueError:
                return self._error(21656, 400)
            if not isinstance(variables, dict):
                return self._error(21656, 400)
            body = re.sub(
                r"\{\{(\d+)\}\}",
                lambda m: str(variables.get(m.group(1), m.group(0))),
                self.templates[content],
            )
        elif not body and not form.get("MediaUrl"):
            return self._error(21602, 400)
        if len(body) > MAX_BODY:
            return self._error(21617, 400)
        failure = self._fail_for.get(form["To"]) or (
            self._queued.pop(0) if self._queued else self._always
        )
        if failure is not None:
            return self._error(failure.code, failure.status, failure.retry_after)
        message = self._new_message(form, body)
        self.messages[str(message["sid"])] = message
        self.log.append(message)
        if whatsapp and not form.get("ContentSid") and not self._window_open(form["To"]):
            # Accepted, then failed: the status callback says why (as Twilio does).
            message["_outside_window"] = True
            if message.get("_status_callback"):
                sid = str(message["sid"])
                self._tasks.append(
                    asyncio.create_task(self.deliver(sid, "failed", ERR_OUTSIDE_WINDOW))
                )
        await self._notify()
        return web.json_response(self._public(message), status=201)

    def _window_open(self, address: str) -> bool:
        """True while a free-form WhatsApp message may go to this address."""
        last = self.heard.get(address)
        return last is not None and self.clock() - last < WHATSAPP_WINDOW

    def whatsapp_sent(self, to: str | None = None) -> list[dict[str, object]]:
        """WhatsApp messages created (to one address), oldest first, those refused included."""
        return [
            m
            for m in self.messages.values()
            if str(m["to"]).startswith(WHATSAPP) and (to is None or m["to"] == to)
        ]

    async def _delete(self, request: web.Request) -> web.Response:
        """DELETE .../Messages/{sid}.json: 204, 404 (20404) if unknown, 20009 when asked."""
        received = await self._record(request)
        refused = self._authorised(received, request.match_info["account"])
        if refused is not None:
            return refused
        if self._not_ready:
            self._not_ready -= 1
            return self._error(20009, 409)
        sid = request.match_info["sid"]
        if self.messages.pop(sid, None) is None:
            if sid not in self.inbound:
                return self._error(20404, 404)
            self.inbound.discard(sid)
        self.deleted.append(sid)
        return web.Response(status=204)

    async def _fetch(self, request: web.Request) -> web.Response:
        """GET .../Messages/{sid}.json: the message as it stands now."""
        received = await self._record(request)
        refused = self._authorised(received, request.match_info["account"])
        if refused is not None:
            return refused
        message = self.messages.get(request.match_info["sid"])
        if message is None:
            return self._error(20404, 404)
        return web.json_response(self._public(message))

    def _new_message(self, form: dict[str, str], body: str) -> dict[str, object]:
        """A Message resource as Twilio returns it on creation."""
        sid = twilio_payloads.new_sid("SM")
        now = format_datetime(datetime.now(UTC), usegmt=False)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        with_service = bool(form.get("MessagingServiceSid"))
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From") or None,
            "messaging_service_sid": form.get("MessagingServiceSid") or None,
            "num_media": "0",
            "num_segments": str(max(1, sms_encoding.segments(body))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # With a Messaging Service and no From, Twilio picks the sender later.
            "status": "accepted" if with_service and not form.get("From") else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": form["To"],
            "uri": f"{uri}.json",
            "_status_callback": form.get("StatusCallback"),
            "_content_sid": form.get("ContentSid"),
        }

    @staticmethod
    def _public(message: dict[str, object]) -> dict[str, object]:
        """The resource without the fake's private fields."""
        return {k: v for k, v in message.items() if not k.startswith("_")}
