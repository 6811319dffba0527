"""The Twilio SMS channel: signed webhooks in, REST sends out on one aiohttp session."""

from __future__ import annotations

import base64
import hmac
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, cast
from urllib.parse import quote_plus

import aiohttp
from aiohttp import web
from multidict import MultiMapping
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.base.version import Version
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from yarl import URL

from bot.channels import jsonwire, sms_encoding
from bot.channels.base import Recall, Throttled, too_many_response
from bot.config import Settings
from bot.messages import Inbound, Outbound, SendResult, StatusUpdate, Urn

log = logging.getLogger(__name__)

NAME = "sms"
SMS_PATH = "/webhooks/twilio/sms"
# Twilio's webhook connection overrides, appended to the inbound-message URL as a fragment
# (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides). By default Twilio
# tries again only when it cannot connect (one retry); with these it also retries a 5xx answer
# and a read timeout, 3 times within its 15 s budget. A repeat carries the same MessageSid.
CONNECTION_OVERRIDES = "rc=3&rp=ct,rt,5xx"
STATUS_PATH = "/webhooks/twilio/status"
SIGNATURE_HEADER = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# MediaContentType0 ("image/jpeg", "audio/ogg"...) as the kinds Telegram names them.
_MEDIA_KINDS = {"image": "photo", "audio": "audio", "video": "video"}
SEND_TIMEOUT = 10.0  # seconds for one REST call, connect to last byte
CONNECT_TIMEOUT = 5.0  # seconds to open a connection (within SEND_TIMEOUT)
POOL_SIZE = 64  # connections kept to Twilio; the outbox sends many people's replies side by side
DEFAULT_API_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"  # https://www.twilio.com/docs/messaging/api/message-resource
USER_AGENT = "helpline (aiohttp)"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}

# Twilio's default opt-out handling; it answers these itself and blocks further sends.
# https://help.twilio.com/articles/223134027-Twilio-support-for-opt-out-keywords-SMS-STOP-filtering-
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
# "Yes" is also how people answer our yes/no questions in English: from someone who never opted
# out it is an answer, not an opt-in, and goes to her conversation.
ANSWER_OPT_IN_WORDS = frozenset({"YES"})
# Sent with Advanced Opt-Out: https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out
OPT_OUT_TYPE_FIELD = "OptOutType"

# https://www.twilio.com/docs/errors/21610 — the recipient replied STOP.
ERR_UNSUBSCRIBED = 21610
# https://www.twilio.com/docs/errors/21614 — 'To' is not a mobile number (a landline).
ERR_NOT_MOBILE = 21614
# https://www.twilio.com/docs/errors/30003 — handset off or out of coverage; may work later.
ERR_UNREACHABLE_HANDSET = 30003
# https://www.twilio.com/docs/errors/30005 — the number does not exist.
ERR_UNKNOWN_HANDSET = 30005
# https://www.twilio.com/docs/errors/30006 — landline or unreachable carrier.
ERR_LANDLINE = 30006
# https://www.twilio.com/docs/errors/20003 — bad credentials; usually a token being rotated.
ERR_AUTHENTICATION = 20003
# https://www.twilio.com/docs/errors/20429 — too many requests.
ERR_TOO_MANY_REQUESTS = 20429

# https://www.twilio.com/docs/api/errors/20009: a message still being processed cannot be
# deleted yet; Twilio asks to wait a minute or more and try again.
ERR_NOT_COMPLETE = 20009
DELETE_RETRY_AFTER = 120.0
# At FSHI: an SMS on her phone cannot be taken back (she is told to delete the thread), but
# Twilio's logs keep every body: they are deleted there, a little later, since Twilio refuses
# to delete a message it is still processing (ERR_NOT_COMPLETE).
DELETE_DELAY = timedelta(minutes=2)
RECALL = Recall(ids="provider", meta_key="message_sids", delay=DELETE_DELAY)
# Message SIDs: SM (SMS) or MM (MMS) and 32 hex digits.
SID_PATTERN = re.compile(r"(SM|MM)[0-9a-f]{32}")

UNREACHABLE_CODES = frozenset({ERR_UNKNOWN_HANDSET, ERR_LANDLINE, ERR_NOT_MOBILE})
RETRY_CODES = frozenset({ERR_UNREACHABLE_HANDSET})

Receive = Callable[[Inbound], Awaitable[object]]
OnStatus = Callable[[StatusUpdate], Awaitable[None]]
# Takes (urn, opted_out); answers whether that changed the person's state.
OnOptOut = Callable[[str, bool], Awaitable[bool]]


class Answer(NamedTuple):
    """One REST answer as read off the wire (a named tuple: made in a C call, where a frozen
    dataclass's __init__ sets each field through object.__setattr__)."""

    status: int
    body: bytes
    retry_after: float | None  # from a Retry-After header, in seconds

    @property
    def ok(self) -> bool:
        """A 2xx answer (what the twilio SDK counts as success)."""
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        """The body as text: Twilio answers UTF-8 JSON; anything else (a proxy's page) is only
        read for its status."""
        return self.body.decode("utf-8", "replace")

    def error(self, method: str, url: str) -> TwilioRestException | TwilioServiceException:
        """The twilio SDK's own exception for this error answer: its parser reads both Twilio's
        legacy JSON ({code, message}) and RFC 9457 bodies, so the codes mean what they meant."""
        what = "Unable to delete record" if method == "DELETE" else "Unable to create record"
        return Version.exception(method, url, TwilioResponse(self.status, self.text), what)

    def json(self) -> dict[str, object]:
        """The JSON object of a 2xx answer ({} when empty, as the SDK reads it); ValueError if
        it is not one."""
        if not self.body:
            return {}
        # json.loads of the text, read from the bytes by orjson where it gives json's value.
        payload = jsonwire.loads_answer(self.body)
        if not isinstance(payload, dict):
            raise ValueError("not a JSON object")
        return payload


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# How many characters beyond ASCII _FormQuoted keeps: a reply uses a few dozen (ë, ç, quotes,
# Cyrillic in a coordinator's relay); the bound keeps a text of rare ones from growing it.
FORM_TABLE_MAX = 4096


class _FormQuoted(dict[int, str]):
    """quote_plus of one character, by code point, for str.translate (filled as met)."""

    def __missing__(self, code: int) -> str:
        # A lone surrogate raises UnicodeEncodeError here, as quote_plus of the whole text did.
        quoted = quote_plus(chr(code))
        if len(self) < FORM_TABLE_MAX:
            self[code] = quoted
        return quoted


_FORM_QUOTED = _FormQuoted({code: quote_plus(chr(code)) for code in range(128)})


def form_quote(text: str) -> str:
    """urllib's quote_plus(text), the same string: UTF-8 is written a character at a time, so
    each character's quoting is looked up once in C (quote_plus quotes byte by byte in a
    Python comprehension: ~1,000 bytecodes of every SMS sent)."""
    return text.translate(_FORM_QUOTED)


def encode_form(fields: Mapping[str, str]) -> str:
    """Form fields as application/x-www-form-urlencoded (UTF-8), as aiohttp's FormData writes
    them."""
    return "&".join(f"{form_quote(k)}={form_quote(v)}" for k, v in fields.items())


def error_result(
    code: int | None, http_status: int | None, retry_after: float | None = None
) -> SendResult:
    """What a Twilio error code (from a REST answer or a status callback) means for the outbox."""
    error = str(code if code is not None else http_status)
    if code == ERR_UNSUBSCRIBED:
        return SendResult(ok=False, retry=False, error=error, contact_state="opted_out")
    if code in UNREACHABLE_CODES:
        return SendResult(ok=False, retry=False, error=error, contact_state="unreachable")
    if code in RETRY_CODES or code == ERR_AUTHENTICATION:
        return SendResult(ok=False, retry=True, retry_after=retry_after, error=error)
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return SendResult(ok=False, retry=True, retry_after=retry_after, error=error)
    return SendResult(ok=False, retry=False, error=error)


# Twilio writes other channels' senders with a scheme (whatsapp:+355…, messenger:…): they are
# not SMS senders, and this channel never answers them (WhatsApp's own channel may: `link`).
OTHER_CHANNELS = frozenset({"whatsapp", "messenger", "rcs", "google", "apple"})
TEL = "tel"  # an SMS sender: a bare number (Twilio writes no scheme for SMS)


def address_scheme(address: str) -> str:
    """The channel a Twilio address belongs to: "whatsapp" for whatsapp:+355…, "tel" for a
    plain number, or the other scheme it names (messenger, rcs…)."""
    scheme, colon, _ = address.partition(":")
    scheme = scheme.strip().lower()
    if not colon or scheme == TEL:
        return TEL
    return scheme


def opt_out_change(form: Mapping[str, str]) -> bool | None:
    """True for an opt-out, False for an opt-in, None for an ordinary message."""
    kind = form.get(OPT_OUT_TYPE_FIELD, "").strip().upper()
    if kind == "STOP":
        return True
    if kind == "START":
        return False
    if kind:  # HELP: Twilio answers it, and the person still reaches the helpline below
        return None
    word = form.get("Body", "").strip().upper()
    if word in OPT_OUT_WORDS:
        return True
    if word in OPT_IN_WORDS:
        return False
    return None


def _utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class TwilioSmsChannel:
    """SMS through Twilio: verifies and translates webhooks, sends replies by REST.

    Twilio's other channels (WhatsApp) reach the same signed webhooks; `link` lets the one
    channel that serves them hand each message to the channel its address belongs to."""

    name = NAME
    recall = RECALL  # what it can take back at FSHI
    scheme = TEL  # the URN scheme of the people it reaches: tel:+355…
    address_prefix = ""  # how Twilio writes their addresses: a bare +355…
    opt_out_words = True  # Twilio's STOP/START handling applies (SMS only)

    def __init__(
        self,
        settings: Settings,
        *,
        receive: Receive,
        on_status: OnStatus,
        on_opt_out: OnOptOut,
        clock: Callable[[], datetime] = _utcnow,
        timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.receive = receive
        self.on_status = on_status
        self.on_opt_out = on_opt_out
        self.clock = clock
        self.timeout = timeout
        token = settings.twilio_auth_token
        self._validator = RequestValidator(token) if token else None
        # The expected signature's HMAC with the key and our public URL already fed in: each
        # webhook only adds its path and fields (RequestValidator redoes all of it per call).
        self._signed_base = (
            hmac.new(token.encode(), settings.public_url.encode(), "sha1") if token else None
        )
        self._session: aiohttp.ClientSession | None = None
        base = (settings.twilio_api_url or DEFAULT_API_URL).rstrip("/")
        self._account_url = f"{base}/{API_VERSION}/Accounts/{settings.twilio_account_sid}"
        self._messages_url = f"{self._account_url}/Messages.json"
        # Parsed once: aiohttp parses a URL given as a string at every request.
        self._messages_yurl = URL(self._messages_url)
        # The fields every send carries, encoded once (aiohttp's FormData cost about a third of
        # send()'s own CPU): where the status callbacks go, who the message comes from.
        self._callback_form = encode_form({"StatusCallback": settings.public_url + STATUS_PATH})
        self._sender_form = encode_form(self.sender())
        self._urn_prefix = f"{self.scheme}:"  # how this channel's URNs begin: tel:, whatsapp:
        # The channels sharing the webhooks, by address scheme; the first linked serves them.
        self.peers: dict[str, TwilioSmsChannel] = {self.scheme: self}
        self.serves_routes = True

    # ---- lifecycle ---------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The two webhooks Twilio calls (none when a linked channel serves them)."""
        if not self.serves_routes:
            return []
        return [web.post(SMS_PATH, self.handle_sms), web.post(STATUS_PATH, self.handle_status)]

    async def start(self) -> None:
        """Open the REST session (it must be born inside the running loop).

        Sends bypass the twilio SDK's request building (Client, messages.create_async and its
        AsyncTwilioHttpClient): measured with bench/hot_path.py it cost 0.8-1.1 ms of CPU a send
        against about a third of that for this one form POST on a kept-alive session. The SDK
        still checks webhook signatures (RequestValidator) and reads error answers
        (Answer.error), so the codes the outbox acts on are read as before."""
        pair = f"{self.settings.twilio_account_sid}:{self.settings.twilio_auth_token}".encode()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL_SIZE),
            # The whole call as before (connect to last byte); opening a connection, less.
            timeout=aiohttp.ClientTimeout(
                total=self.timeout, sock_connect=min(CONNECT_TIMEOUT, self.timeout)
            ),
            headers={
                # Our own header: aiohttp deprecates passing a BasicAuth object per request.
                "Authorization": "Basic " + base64.b64encode(pair).decode("ascii"),
                "Accept": "application/json",
                "Accept-Charset": "utf-8",
                "User-Agent": USER_AGENT,
            },
            # No proxy settings from the environment behind config.py's back. (No retry wrapper
            # either, as before: the outbox decides about repeating a POST and records each.)
            trust_env=False,
            # Twilio's REST API sets no cookies we need: no jar to fill and consult per call.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def stop(self) -> None:
        """Close the REST session."""
        if self._session is not None:
            await self._session.close()
        self._session = None

    # ---- webhooks ----------------------------------------------------------------------------

    async def _verified_form(self, request: web.Request) -> Mapping[str, str] | None:
        """The form body if X-Twilio-Signature matches it at our public URL, else None."""
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature or self._validator is None:
            return None
        form = await request.post()
        # One copy of the form (a repeated name keeps its first value here); whether names
        # repeat is then one comparison. Twilio's own forms never repeat a name.
        fields = dict(form)
        unique = len(fields) == len(form)
        # Twilio signs the URL it called: the public one, never what we see behind a proxy.
        # Its signature of the URL as configured first (_signed): one HMAC on a prepared base
        # where validate() always computes two (with and without a port) and parses the URL
        # three times. validate() still decides for any other way of writing it.
        if not self._signed(request.raw_path, fields if unique else form, signature.encode()):
            url = self.settings.public_url + request.raw_path
            # The documented webhook URL ends in CONNECTION_OVERRIDES (a fragment, never sent
            # to us); whether Twilio signs the URL with it or without it, both are ours.
            urls = (url, f"{url}#{CONNECTION_OVERRIDES}")
            # The multidict: the SDK reads every value of a repeated name.
            if not any(self._validator.validate(u, form, signature) for u in urls):
                return None
        if unique and request.content_type == FORM_TYPE["Content-Type"]:
            # A urlencoded form holds text only (a multipart one may hold files).
            return cast(dict[str, str], fields)
        # A repeated name keeps its last value, as before; file parts are left out.
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def _signed(self, path: str, form: MultiMapping[Any] | dict[str, Any], given: bytes) -> bool:
        """Whether `given` is Twilio's signature of our public URL plus `path` and the form, as
        RequestValidator.compute_signature writes it (fields sorted, each name then each of its
        distinct values, sorted); False leaves the decision to the SDK below. A dict is a form
        whose names are known to be unique."""
        if self._signed_base is None:
            return False
        # Each pair joined by str.join in C ("".join((name, value)) is name + value): no
        # Python loop over the fields (a list comprehension was 175 of the webhook's bytecodes).
        try:
            if isinstance(form, dict):
                # One value a name: sorted by name is the SDK's order (values never compared).
                joined = "".join(map("".join, sorted(form.items())))
            else:
                # Pairs sorted by name then value, repeats once: the SDK's order, in one pass.
                joined = "".join(map("".join, sorted(set(form.items()))))
        except TypeError:
            return False  # a file part (unhashable, or not text): the SDK's way, as before
        # The documented URL ends in CONNECTION_OVERRIDES; signed with it or without, both ours.
        for signed_path in (path, f"{path}#{CONNECTION_OVERRIDES}"):
            mac = self._signed_base.copy()
            mac.update((signed_path + joined).encode())
            if hmac.compare_digest(base64.b64encode(mac.digest()), given):
                return True
        return False

    async def handle_sms(self, request: web.Request) -> web.Response:
        """POST /webhooks/twilio/sms: verify, translate, hand over, answer empty TwiML."""
        form = await self._verified_form(request)
        if form is None:
            log.warning("twilio sms webhook: bad or missing signature")
            return web.Response(status=403, text="forbidden")
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        scheme = address_scheme(form.get("From", ""))
        peer = self.peers.get(scheme)
        if peer is None:
            # WhatsApp (or another Twilio channel) that is off, or SMS when only WhatsApp is on:
            # never answered on another channel (her SMS inbox is where an abuser looks). 200,
            # so Twilio does not retry; nothing is stored; the log names no number.
            log.warning("twilio webhook %s: a %s sender; that channel is off", sid, scheme)
            return web.Response(text=EMPTY_TWIML, content_type="text/xml")
        return await peer.take(form, sid)

    async def take(self, form: Mapping[str, str], sid: str) -> web.Response:
        """A verified inbound message from one of this channel's senders: hand it over."""
        sender = Urn.phone(form.get("From", "").removeprefix(self.address_prefix), self.scheme)
        if not sid or sender is None:
            log.warning("twilio %s webhook %s: no MessageSid or unusable From", self.name, sid)
            return web.Response(status=400, text="bad request")
        urn = str(sender)
        change = opt_out_change(form) if self.opt_out_words else None
        try:
            if change is not None:
                # Twilio has answered and blocks or unblocks sends; no flow sees these words...
                log.info("twilio sms %s: opt-%s", sid, "out" if change else "in")
                changed = await self.on_opt_out(urn, change)
                word = form.get("Body", "").strip().upper()
                if not change and not changed and word in ANSWER_OPT_IN_WORDS:
                    # ...except a "yes" from someone who was never opted out: her answer.
                    await self.receive(self._inbound(form, sid, urn))
            else:
                await self.receive(self._inbound(form, sid, urn))
        except Throttled as exc:
            log.warning("twilio %s %s: sender over the rate limit; refused", self.name, sid)
            return too_many_response(exc.retry_after)
        except Exception as exc:
            # Only the type: messages of database errors can carry parameters (numbers, texts).
            log.error("twilio %s %s: handing over failed (%s)", self.name, sid, type(exc).__name__)
            return web.Response(status=500, text="error")
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    def _inbound(self, form: Mapping[str, str], sid: str, urn: str) -> Inbound:
        """The neutral envelope for an ordinary incoming SMS (or MMS)."""
        meta = {"num_media": form.get("NumMedia", "0") or "0"}
        if meta["num_media"] != "0":  # MMS or WhatsApp media: named as Telegram names it
            kind = form.get("MediaContentType0", "").partition("/")[0]
            meta["media"] = _MEDIA_KINDS.get(kind, "document")
        opt_type = form.get(OPT_OUT_TYPE_FIELD, "").strip().upper()
        if opt_type:
            meta["opt_out_type"] = opt_type
        return Inbound(
            channel=self.name,
            urn=urn,
            text=form.get("Body", ""),
            external_id=sid,
            received_at=self.clock(),
            button=self._button(form),
            meta=meta,
        )

    def _button(self, form: Mapping[str, str]) -> str | None:
        """The value of a pressed button, where the channel has buttons (SMS has none)."""
        return None

    async def handle_status(self, request: web.Request) -> web.Response:
        """POST /webhooks/twilio/status: verify, report the delivery status, answer 200."""
        form = await self._verified_form(request)
        if form is None:
            log.warning("twilio status callback: bad or missing signature")
            return web.Response(status=403, text="forbidden")
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        status = form.get("MessageStatus") or form.get("SmsStatus") or ""
        if not sid or not status:
            return web.Response(status=400, text="bad request")
        # The message's channel, by the address it went to (a WhatsApp one: whatsapp:+…).
        peer = self.peers.get(address_scheme(form.get("To", ""))) or self
        code = form.get("ErrorCode") or None
        # 30003/30005/30006 usually arrive here, long after the send was accepted.
        meant = peer.error(int(code), None) if code and code.isdigit() else None
        update = StatusUpdate(
            peer.name,
            sid,
            status,
            code,
            meant.contact_state if meant else None,
            hold=meant is not None and meant.hold and status in ("failed", "undelivered"),
        )
        try:
            await peer.on_status(update)
        except Exception as exc:
            log.error("twilio status %s: handing over failed (%s)", sid, type(exc).__name__)
            return web.Response(status=500, text="error")
        return web.Response(status=200)

    # ---- sending -----------------------------------------------------------------------------

    def error(
        self, code: int | None, http_status: int | None, retry_after: float | None = None
    ) -> SendResult:
        """What a Twilio error means for the outbox, on this channel."""
        return error_result(code, http_status, retry_after)

    def sender(self) -> dict[str, str]:
        """Who the message comes from (form fields): the number, or the Messaging Service."""
        if self.settings.twilio_from_number:
            return {"From": self.settings.twilio_from_number}
        return {"MessagingServiceSid": self.settings.twilio_messaging_service_sid or ""}

    async def content(self, msg: Outbound) -> dict[str, str] | SendResult:
        """What the message says, as Messages.json form fields (or why it cannot go now)."""
        return {"Body": self.body_for(msg.text)}

    def segments(self, sent: Mapping[str, str]) -> int:
        """What a sent message cost, in SMS parts."""
        return sms_encoding.segments(sent.get("Body", ""))

    def body_for(self, text: str) -> str:
        """The text as it goes out: NFC, and folded to GSM-7 letters when the setting is on."""
        if self.settings.sms_fold_diacritics:
            return sms_encoding.fold_albanian(text)
        return sms_encoding.normalize(text)

    @property
    def messages_url(self) -> str:
        """The Messages resource of our account (at the configured API base URL)."""
        return self._messages_url

    async def request(
        self, method: str, url: str | URL, form: Mapping[str, str] | bytes | None = None
    ) -> Answer:
        """One REST call on the shared session (a form as fields or already encoded); network
        failures and timeouts raise."""
        if self._session is None:
            raise RuntimeError(f"{type(self).__name__} used before start()")
        headers = None
        if isinstance(form, bytes):
            headers = FORM_TYPE
        elif form is not None:
            form, headers = encode_form(form).encode("ascii"), FORM_TYPE
        # allow_redirects=False as the SDK: a redirected POST would be re-sent elsewhere.
        async with self._session.request(
            method, url, data=form, headers=headers, allow_redirects=False
        ) as response:
            body = await response.read()
            return Answer(
                response.status, body, parse_retry_after(response.headers.get("Retry-After"))
            )

    async def send(self, msg: Outbound) -> SendResult:
        """Send one SMS; provider and network failures come back in the result, never raised."""
        if self._session is None:
            raise RuntimeError(f"{type(self).__name__}.send before start()")
        urn_prefix = self._urn_prefix
        if not msg.urn.startswith(urn_prefix):
            return SendResult(ok=False, retry=False, error="unsupported")  # not one of ours
        if msg.kind == "delete":
            return await self._delete(msg)
        content = await self.content(msg)
        if isinstance(content, SendResult):
            return content
        # The fields the twilio SDK sent for these arguments, under Twilio's own names, in its
        # order: To, StatusCallback, the content, the sender (never empty but the content).
        to = form_quote(self.address_prefix + msg.urn.removeprefix(urn_prefix))
        fields = encode_form(content)
        if fields:
            form = f"To={to}&{self._callback_form}&{fields}&{self._sender_form}"
        else:
            form = f"To={to}&{self._callback_form}&{self._sender_form}"
        url = self._messages_url
        try:
            answer = await self.request("POST", self._messages_yurl, form.encode("ascii"))
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            log.warning("twilio send outbox=%s: network (%s)", msg.outbox_id, type(exc).__name__)
            error = "timeout" if isinstance(exc, TimeoutError) else "network"
            return SendResult(ok=False, retry=True, error=error)
        if not answer.ok:
            refused = answer.error("POST", url)
            code = refused.code if isinstance(refused.code, int) else None
            log.warning(
                "twilio send outbox=%s failed: http %s code %s", msg.outbox_id, refused.status, code
            )
            return self.error(code, refused.status, answer.retry_after)
        try:
            sid = answer.json().get("sid")
        except ValueError as exc:
            # Accepted or not, we cannot tell; a repeat is better than a lost message here.
            log.warning("twilio send outbox=%s: bad answer (%s)", msg.outbox_id, type(exc).__name__)
            return SendResult(ok=False, retry=True, error="bad_response")
        external_id = sid if isinstance(sid, str) else None
        # DEBUG: a line per reply cost ~19 µs (1 % of a message's CPU); the outcome is recorded
        # with the message (its provider id), failures are still logged as warnings.
        log.debug("twilio send outbox=%s: %s", msg.outbox_id, external_id)
        return SendResult(ok=True, external_id=external_id, segments=self.segments(content))

    async def _delete(self, msg: Outbound) -> SendResult:
        """Delete messages from Twilio's logs (FSHI); an SMS on the phone cannot be taken back."""
        raw = msg.meta.get(RECALL.meta_key)
        if not isinstance(raw, list):
            raw = []
        sids = [s for s in raw if isinstance(s, str) and SID_PATTERN.fullmatch(s)]
        deleted = 0
        for sid in sids:
            url = f"{self._account_url}/Messages/{sid}.json"
            try:
                answer = await self.request("DELETE", url)
            except (aiohttp.ClientError, OSError) as exc:
                log.warning(
                    "twilio delete outbox=%s: network (%s)", msg.outbox_id, type(exc).__name__
                )
                return SendResult(ok=False, retry=True, error="network")
            if answer.ok:
                deleted += 1
                continue
            if answer.status == 404:
                continue  # gone already (a retry of this list, or never stored)
            refused = answer.error("DELETE", url)
            code = refused.code if isinstance(refused.code, int) else None
            log.warning(
                "twilio delete outbox=%s: http %s code %s", msg.outbox_id, refused.status, code
            )
            if code == ERR_NOT_COMPLETE:
                # Retrying the whole list is safe: the ones already gone answer 404.
                return SendResult(
                    ok=False, retry=True, retry_after=DELETE_RETRY_AFTER, error=str(code)
                )
            return self.error(code, refused.status)
        log.info("twilio delete outbox=%s: %d of %d deleted", msg.outbox_id, deleted, len(sids))
        return SendResult(ok=True, external_id=None, segments=0)


def link(channels: list[TwilioSmsChannel]) -> None:
    """Let Twilio channels (SMS, WhatsApp) share the webhooks: the first serves them and hands
    each message to the channel its address belongs to; a scheme none of them has is off."""
    peers = {c.scheme: c for c in channels}
    for i, channel in enumerate(channels):
        channel.peers = peers
        channel.serves_routes = i == 0
