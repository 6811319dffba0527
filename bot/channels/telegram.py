"""The Telegram channel: python-telegram-bot reads the Bot API, aiohttp carries it; by webhook or
by long polling."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from telegram import Bot, Update
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBDeprecationWarning
from yarl import URL

from bot.channels import jsonwire
from bot.channels.base import Recall, Throttled, too_many_response
from bot.config import Settings
from bot.messages import Button, Inbound, Outbound, SendResult

log = logging.getLogger(__name__)

NAME = "telegram"
# At FSHI: bots may delete a private chat's messages of the last 48 hours only
# (https://core.telegram.org/bots/api#deletemessage), and they go from her phone.
DELETE_WINDOW = timedelta(hours=48)
RECALL = Recall(ids="chat", meta_key="message_ids", window=DELETE_WINDOW)
URN_PREFIX = "telegram:"
WEBHOOK_PATH = "/webhooks/telegram"
# https://core.telegram.org/bots/api#setwebhook — sent with every webhook call when set.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts as secret_token
MAX_BODY = 64 * 1024  # an Update is a few KB; anything bigger is not Telegram
ALLOWED_UPDATES = ("message", "callback_query")
DEFAULT_API_URL = "https://api.telegram.org"

# https://core.telegram.org/bots/api#sendmessage — 1-4096 characters after entities parsing.
TEXT_LIMIT = 4096
# https://core.telegram.org/bots/api#inlinekeyboardbutton — callback_data is 1-64 bytes.
CALLBACK_DATA_LIMIT = 64
# Descriptions of deleteMessage failures that only mean "too old or already gone"
# (https://core.telegram.org/bots/api#deletemessage: under 48 hours only).
UNDELETABLE = ("message can't be deleted", "message to delete not found")

CONNECT_TIMEOUT = 5.0  # seconds
READ_TIMEOUT = 10.0
WRITE_TIMEOUT = 10.0
POOL_TIMEOUT = 5.0
POOL_SIZE = 64  # connections for sends; the outbox sends many chats side by side
# Every sendMessage: a link in a reply (a service's website) never unfolds into a preview.
NO_PREVIEW = {"is_disabled": True}
POLL_TIMEOUT = 30  # seconds a getUpdates long poll is held open by the server
POLL_RETRY_DELAY = 2.0  # first pause after a failed poll; doubles up to POLL_RETRY_MAX
POLL_RETRY_MAX = 60.0
HANDLE_ATTEMPTS = 5  # a polled update that keeps failing is skipped after this many tries
STOP_GRACE = 10.0  # seconds stop() lets the update being handled finish
DECLINED_MEMORY = 1000  # group chats remembered as declined, so each is answered once

# Neutral on purpose: the group may include the very person the survivor is hiding from.
DECLINE_SQ = "Më falni, ky bot punon vetëm në bisedë private."
DECLINE_EN = "Sorry, this bot only works in private chats."
DECLINE_TEXT = f"{DECLINE_SQ}\n\n{DECLINE_EN}"

# Message attributes that carry something other than words, in the order they are checked.
MEDIA_KINDS = (
    "photo",
    "voice",
    "video_note",
    "video",
    "audio",
    "animation",
    "sticker",
    "document",
    "contact",
    "poll",
    "dice",
)

Receive = Callable[[Inbound], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer the channel gives by itself, without the pipeline (a group chat declined)."""

    chat_id: int
    text: str
    leave: bool = True


class TelegramSetupError(RuntimeError):
    """Registering the webhook failed; the message says why, without the token."""


def _utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def api_base_url(api_url: str | None) -> str:
    """PTB's base_url for a Bot API base URL: PTB appends the token to it, so it ends in /bot."""
    base = (api_url or DEFAULT_API_URL).rstrip("/")
    return base if base.endswith("/bot") else base + "/bot"


def chat_id_of(urn: str) -> int | None:
    """The chat id in a telegram: URN, None if the URN is not one."""
    if not urn.startswith(URN_PREFIX):
        return None
    try:
        return int(urn.removeprefix(URN_PREFIX))
    except ValueError:
        return None


def _start_command(text: str) -> bool:
    """True for /start, /start@our_bot and deep links (/start <payload>)."""
    head = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return head.split("@", 1)[0].lower() == "/start"


def to_inbound(update: Update, now: datetime) -> Inbound | Reply | None:
    """Translate one Update: an Inbound for the pipeline, a Reply for a group, None to ignore."""
    external_id = f"u{update.update_id}"
    query = update.callback_query
    if query is not None:
        chat = query.message.chat if query.message is not None else None
        if chat is not None and chat.type != ChatType.PRIVATE:
            return None  # we never send buttons to groups; nothing to do but answer it
        if not query.data:
            return None  # a game button: not ours
        chat_id = chat.id if chat is not None else query.from_user.id
        meta = {"message_id": str(query.message.message_id)} if query.message is not None else {}
        # The label pressed is not in the update; the data is what the engine matches on.
        return Inbound(
            channel=NAME,
            urn=f"{URN_PREFIX}{chat_id}",
            text=query.data,
            external_id=external_id,
            received_at=now,
            button=query.data,
            meta=meta,
        )
    message = update.message or update.channel_post
    if message is None:
        return None  # edited messages, edited channel posts and anything we did not ask for
    if message.chat.type != ChatType.PRIVATE:
        return Reply(chat_id=message.chat.id, text=DECLINE_TEXT)
    meta = {"message_id": str(message.message_id)}
    if message.reply_to_message is not None:
        # A coordinator answering one of our messages about a case relays to that case's person.
        meta["reply_to"] = str(message.reply_to_message.message_id)
    text = message.text
    location = message.location or (message.venue.location if message.venue else None)
    if text is not None:
        if _start_command(text):
            text = "/start"
    elif location is not None:
        text = ""
        meta["latitude"] = str(location.latitude)
        meta["longitude"] = str(location.longitude)
    else:
        kind = next((k for k in MEDIA_KINDS if getattr(message, k, None)), None)
        if kind is None:
            return None  # service messages (pinned, auto-delete timer changed, ...)
        meta["media"] = kind
        # A caption is words: "më rreh" under a photo must reach the keyword check.
        text = message.caption or ""
    return Inbound(
        channel=NAME,
        urn=f"{URN_PREFIX}{message.chat.id}",
        text=text,
        external_id=external_id,
        received_at=message.date or now,
        meta=meta,
    )


def keyboard(buttons: Sequence[Button]) -> dict[str, Any] | None:
    """An InlineKeyboardMarkup (as JSON), one button per row; none at all if a value cannot be
    callback data."""
    if not buttons:
        return None
    if any(not b.value or len(b.value.encode()) > CALLBACK_DATA_LIMIT for b in buttons):
        # The text lists the numbered options too, so typing the number still works.
        log.warning(
            "telegram: a button value is over %d bytes; sent without buttons", CALLBACK_DATA_LIMIT
        )
        return None
    return {"inline_keyboard": [[{"text": b.label, "callback_data": b.value}] for b in buttons]}


def _utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at a line break or space where there is one."""
    pieces: list[str] = []
    rest = text
    while _utf16_len(rest) > limit:
        size, end = 0, 0
        for i, ch in enumerate(rest):
            size += 2 if ord(ch) > 0xFFFF else 1
            if size > limit:
                break
            end = i + 1
        head = rest[:end]
        # A line break if there is one in the second half, else a space, else cut the word.
        for sep in ("\n", " "):
            cut = head.rfind(sep)
            if cut > end // 2:
                end = cut + 1
                break
        pieces.append(rest[:end].rstrip())
        rest = rest[end:].lstrip("\n ")
    pieces.append(rest)
    return pieces


def _retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds; PTB 22 gives an int or a timedelta depending on a flag."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


_LONG_NUMBERS = re.compile(r"\d{5,}")


def _safe_description(exc: TelegramError) -> str:
    """Telegram's error description, short and without anything that looks like an id."""
    return _LONG_NUMBERS.sub("#", exc.message)[:120]


def error_result(exc: TelegramError) -> SendResult:
    """What a Bot API error means for the outbox."""
    # Order matters: BadRequest and TimedOut are NetworkError subclasses in PTB.
    if isinstance(exc, RetryAfter):
        return SendResult(ok=False, retry=True, retry_after=_retry_after_seconds(exc), error="429")
    if isinstance(exc, Forbidden):
        # Blocked by the user, or the account was deleted: nothing will reach them.
        return SendResult(ok=False, retry=False, error="403", contact_state="blocked")
    if isinstance(exc, InvalidToken):
        # Usually a token being replaced; the outbox's bounded retries give time to fix it.
        return SendResult(ok=False, retry=True, error="invalid_token")
    if isinstance(exc, BadRequest):
        return SendResult(ok=False, retry=False, error="400 " + _safe_description(exc))
    if isinstance(exc, TimedOut):
        return SendResult(ok=False, retry=True, error="timeout")
    if isinstance(exc, NetworkError):  # connection failures and 5xx answers
        return SendResult(ok=False, retry=True, error="network")
    if isinstance(exc, ChatMigrated):
        return SendResult(ok=False, retry=False, error="chat_migrated")
    # An answer we could not read: whether it was sent is unknown; a repeat beats a loss.
    return SendResult(ok=False, retry=True, error="bad_response")


# The type of PTB's "not given" marker for timeouts (its DefaultValue lives in a private module).
_NOT_GIVEN = type(BaseRequest.DEFAULT_NONE)


def _parse_json_quietly(payload: bytes) -> dict[str, Any]:
    """PTB's BaseRequest.parse_json_payload (its documented override point) without its log
    line: that printed a whole answer that is not JSON at ERROR, and such an answer (a proxy's
    page, an echo) can carry the text we sent her. Our line says only that, and its size.

    JSON that is not an object (a proxy's `[]` or `null`) is no Bot API answer either: PTB
    would call its .get() and raise AttributeError, which the outbox logs with a traceback
    instead of recording the answer as the failure it is (a 5xx: retried as "network")."""
    try:
        # json.loads of the text, read from the bytes by orjson where it gives json's value.
        answer = jsonwire.loads_answer(payload)
    except ValueError as exc:
        log.warning("telegram: an answer was not JSON (%d bytes)", len(payload))
        raise TelegramError("Invalid server response") from exc
    if not isinstance(answer, dict):
        log.warning("telegram: an answer was not a JSON object (%d bytes)", len(payload))
        raise TelegramError("Invalid server response")
    return answer


class _Answered(BaseRequest):
    """An answer already read off the wire, for PTB's BaseRequest.post to read as its own."""

    parse_json_payload = staticmethod(_parse_json_quietly)

    def __init__(self, status: int, payload: bytes) -> None:
        self._answer = (status, payload)

    @property
    def read_timeout(self) -> float | None:
        """Nothing is read here."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """The answer given."""
        return self._answer


class AiohttpRequest(BaseRequest):
    """PTB's transport on one aiohttp session: every Bot API call of the channel as a JSON POST.

    PTB's own BaseRequest.post reads each answer (for the channel's direct calls too, through
    `call`), so errors come back as the same TelegramError subclasses (RetryAfter, Forbidden,
    BadRequest, ...) that error_result maps."""

    parse_json_payload = staticmethod(_parse_json_quietly)

    def __init__(self, pool: int = POOL_SIZE, read_timeout: float = READ_TIMEOUT) -> None:
        self.pool = pool
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeout = self._client_timeout(read_timeout, WRITE_TIMEOUT, CONNECT_TIMEOUT)

    @staticmethod
    def _client_timeout(
        read: float | None, write: float | None, connect: float | None
    ) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for PTB's: connect (a pooled connection or a new one), each read,
        and a bound on the whole call when every part has one."""
        parts = (read, write, connect)
        total = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
        return aiohttp.ClientTimeout(
            total=total,
            connect=None if connect is None else connect + POOL_TIMEOUT,
            sock_connect=connect,
            sock_read=read,
        )

    @property
    def read_timeout(self) -> float | None:
        """The read timeout getUpdates adds its long-poll timeout to."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (inside the running loop); calling it again does nothing."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool),
                timeout=self._timeout,
                # No proxy or certificate settings picked up from the environment behind
                # config.py's back.
                trust_env=False,
                # The Bot API sets no cookies we need: no jar to fill and consult per call.
                cookie_jar=aiohttp.DummyCookieJar(),
                # json.dumps's text, its C encoder called directly (json.dumps builds its
                # options in Python at every call).
                json_serialize=jsonwire.dumps,
            )

    async def shutdown(self) -> None:
        """Close the session; calling it again does nothing."""
        if self._session is not None:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One call: its HTTP status and body; network failures raise PTB's errors."""
        if request_data is not None and request_data.contains_files:
            raise ValueError("file uploads are not supported")  # PTB: a NetworkError
        given = (read_timeout, write_timeout, connect_timeout)
        if all(isinstance(t, _NOT_GIVEN) for t in given):
            timeout = self._timeout
        else:  # getUpdates: its long poll added to the read timeout
            read, write, connect = (
                default if isinstance(t, _NOT_GIVEN) else t
                for t, default in zip(
                    given, (self._read_timeout, WRITE_TIMEOUT, CONNECT_TIMEOUT), strict=True
                )
            )
            timeout = self._client_timeout(read, write, connect)
        body = None if request_data is None else request_data.parameters
        return await self.send_json(method, url, body, timeout)

    async def send_json(
        self,
        method: str,
        url: str | URL,
        body: dict[str, Any] | None,
        limits: aiohttp.ClientTimeout | None = None,
    ) -> tuple[int, bytes]:
        """One request with a JSON body: the HTTP status and body; network failures raise
        PTB's TimedOut and NetworkError, as its own transport does."""
        if self._session is None:
            raise RuntimeError("AiohttpRequest used before initialize()")
        try:
            async with self._session.request(
                method, url, json=body, timeout=limits or self._timeout, allow_redirects=False
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # before ClientError: aiohttp's timeouts are both
            raise TimedOut() from exc
        except (aiohttp.ClientError, OSError) as exc:
            # Only the type: aiohttp's messages can carry the URL, and the URL the bot token.
            raise NetworkError(f"aiohttp: {type(exc).__name__}") from exc


class TelegramChannel:
    """Telegram through the Bot API: verified webhooks or long polling in, sendMessage out."""

    name = NAME
    recall = RECALL  # what it can take back at FSHI

    def __init__(
        self,
        settings: Settings,
        *,
        receive: Receive,
        clock: Callable[[], datetime] = _utcnow,
        poll_timeout: int = POLL_TIMEOUT,
        retry_delay: float = POLL_RETRY_DELAY,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.read_timeout = read_timeout
        self.receive = receive
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.retry_delay = retry_delay
        self._bot: Bot | None = None
        self._request: AiohttpRequest | None = None
        # Each Bot API method's URL, parsed once (aiohttp parses a string at every request).
        self._urls: dict[str, tuple[str, URL]] = {}
        self._poll_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._handling = False
        self._offset: int | None = None  # next update_id to fetch when polling
        self._failures: dict[int, int] = {}  # update_id -> failed handling attempts
        self._declined: OrderedDict[int, None] = OrderedDict()
        # The webhook's secret token as compare_digest takes it, encoded once, not per request.
        secret = settings.telegram_webhook_secret
        self._secret = secret.encode() if secret else None

    @property
    def webhook_url(self) -> str:
        """The URL Telegram is told to call."""
        return self.settings.public_url.rstrip("/") + WEBHOOK_PATH

    # ---- lifecycle ---------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The webhook Telegram calls (there in polling mode too; the secret still guards it)."""
        return [web.post(WEBHOOK_PATH, self.handle_webhook)]

    def _make_bot(self) -> Bot:
        """A PTB Bot with explicit timeouts, pointed at the configured Bot API; its calls and
        the channel's own go on one aiohttp session."""
        token = self.settings.telegram_bot_token
        if not token:
            raise RuntimeError("the Telegram channel needs TELEGRAM_BOT_TOKEN")
        base = api_base_url(self.settings.telegram_api_url)
        # getUpdates adds its long-poll timeout to READ_TIMEOUT itself (a pooled connection).
        request = AiohttpRequest(read_timeout=self.read_timeout)
        return Bot(
            token,
            base_url=base,
            base_file_url=base.removesuffix("/bot") + "/file/bot",
            request=request,
            get_updates_request=request,
        )

    async def call(self, method: str, parameters: dict[str, Any]) -> Any:
        """One Bot API method on the hot path, posted as JSON; its result, or PTB's TelegramError.

        Bypasses PTB's Bot methods (their request building, Message.de_json of the answer) and
        its httpx transport: measured with bench/hot_path.py, Bot.send_message cost 1.6-2.1 ms
        of CPU a send. PTB still reads the answer (BaseRequest.post), so errors are its own."""
        if self._bot is None or self._request is None:
            raise RuntimeError("TelegramChannel used before start()")
        known = self._urls.get(method)
        if known is None:
            url = f"{self._bot.base_url}/{method}"
            known = self._urls[method] = (url, URL(url))
        url, parsed = known
        status, payload = await self._request.send_json("POST", parsed, parameters)
        try:
            if 200 <= status <= 299:
                # What BaseRequest.post does with a 2xx answer, without its wrapper's calls.
                return _parse_json_quietly(payload)["result"]
            return await _Answered(status, payload).post(url)
        except (KeyError, TypeError) as exc:  # a 2xx answer without "result"
            raise TelegramError("Invalid server response") from exc

    async def start(self) -> None:
        """Create the bot inside the running loop; in polling mode start the getUpdates loop."""
        mode = self.settings.telegram_mode
        if mode not in ("webhook", "polling"):
            raise ValueError("HELPLINE_TELEGRAM_MODE must be 'webhook' or 'polling'")
        self._bot = self._make_bot()
        self._urls = {}  # of the bot's base URL
        assert isinstance(self._bot.request, AiohttpRequest)
        self._request = self._bot.request
        try:
            await self._bot.initialize()  # getMe: checks the token
        except InvalidToken:
            # PTB's message for this contains the token: never log it.
            log.error("telegram: the Bot API rejected TELEGRAM_BOT_TOKEN")
        except TelegramError as exc:
            # The rest of the helpline must start even when Telegram is unreachable.
            log.warning("telegram: Bot API unreachable at start (%s)", type(exc).__name__)
        if mode == "polling":
            self._stopping.clear()
            self._poll_task = asyncio.create_task(self._poll(), name="telegram-poll")

    async def stop(self) -> None:
        """Stop polling (letting an update being handled finish), confirm the offset, close."""
        self._stopping.set()
        task, self._poll_task = self._poll_task, None
        if task is not None:
            if not self._handling:
                task.cancel()  # waiting on a long poll: nothing is lost by cutting it
            done, _ = await asyncio.wait({task}, timeout=STOP_GRACE)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            elif not task.cancelled() and task.exception() is not None:
                log.error("telegram poll loop failed (%s)", type(task.exception()).__name__)
            await self._confirm_offset()
        if self._bot is not None:
            await self._bot.shutdown()
        self._bot = None
        self._request = None

    async def _confirm_offset(self) -> None:
        """Tell Telegram what was handled, so a restart does not fetch it again."""
        if self._bot is None or self._offset is None:
            return
        try:
            await self._bot.get_updates(offset=self._offset, limit=1, timeout=0)
        except TelegramError as exc:
            # The pipeline drops the repeats by update id anyway.
            log.info("telegram: could not confirm the poll offset (%s)", type(exc).__name__)

    # ---- receiving ---------------------------------------------------------------------------

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """POST /webhooks/telegram: check the secret, translate, hand over, answer 200."""
        secret = self._secret
        given = request.headers.get(SECRET_HEADER)
        if secret is None or given is None or not hmac.compare_digest(given.encode(), secret):
            log.warning("telegram webhook: wrong or missing secret token")
            return web.Response(status=403, text="forbidden")
        body = await _read_limited(request, MAX_BODY)
        if body is None:
            return web.Response(status=400, text="too large")
        try:
            data = jsonwire.loads(body)  # json.loads(body), by orjson where it reads the same
            if not isinstance(data, dict):
                raise ValueError("not an object")
            update = Update.de_json(data, self._bot)
        except Exception:  # PTB raises whatever a malformed field leads it to
            log.warning("telegram webhook: body is not an Update")
            return web.Response(status=400, text="bad request")
        if update is None:
            return web.Response(status=400, text="bad request")
        try:
            await self.handle_update(update)
        except Throttled as exc:
            # Telegram delivers it again later: slowed down, not lost.
            log.warning("telegram update %s: sender over the rate limit", update.update_id)
            return too_many_response(exc.retry_after)
        except Exception as exc:
            # Only the type: database errors can carry parameters (ids, texts). Telegram retries.
            log.error(
                "telegram update %s: handing over failed (%s)", update.update_id, type(exc).__name__
            )
            return web.Response(status=500, text="error")
        return web.Response(status=200)

    async def handle_update(self, update: Update) -> None:
        """Translate and hand over one update (webhook and polling alike); raises if receive did."""
        result = to_inbound(update, self.clock())
        if isinstance(result, Inbound):
            await self.receive(result)
        elif isinstance(result, Reply):
            await self._decline(result)
        if update.callback_query is not None:
            # Stops the spinner on the pressed button; after receive, so a failure is retried.
            await self._answer(update.callback_query.id)

    async def _answer(self, query_id: str) -> None:
        """answerCallbackQuery; a failure only leaves a spinner turning a little longer."""
        if self._bot is None:
            return
        try:
            await self.call("answerCallbackQuery", {"callback_query_id": query_id})
        except TelegramError as exc:
            log.info("telegram: answerCallbackQuery failed (%s)", type(exc).__name__)

    async def _decline(self, reply: Reply) -> None:
        """Say once, in both languages, that we only talk in private; then leave the group."""
        if self._bot is None or reply.chat_id in self._declined:
            return
        self._declined[reply.chat_id] = None
        while len(self._declined) > DECLINED_MEMORY:
            self._declined.popitem(last=False)
        try:
            await self.call("sendMessage", {"chat_id": reply.chat_id, "text": reply.text})
        except TelegramError as exc:
            log.info("telegram: group decline not sent (%s)", type(exc).__name__)
        if reply.leave:
            try:
                await self.call("leaveChat", {"chat_id": reply.chat_id})
            except TelegramError as exc:
                log.info("telegram: could not leave a group (%s)", type(exc).__name__)

    async def _pause(self, seconds: float) -> None:
        """Wait, but return at once when stop() is called."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _poll(self) -> None:
        """Long-poll getUpdates until stopped; each update is handed over once, in order."""
        assert self._bot is not None
        delay = self.retry_delay
        webhook_cleared = False
        while not self._stopping.is_set():
            try:
                if not webhook_cleared:
                    # getUpdates answers 409 while a webhook is set; keep queued updates.
                    await self._bot.delete_webhook(drop_pending_updates=False)
                    webhook_cleared = True
                updates = await self._bot.get_updates(
                    offset=self._offset,
                    timeout=self.poll_timeout,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            except RetryAfter as exc:
                await self._pause(_retry_after_seconds(exc))
                continue
            except Exception as exc:
                # The loop must outlive any one failure, or Telegram goes quiet until a restart.
                if isinstance(exc, Conflict):
                    webhook_cleared = False  # a webhook was set again, or a second poller runs
                log.warning("telegram poll failed (%s); retrying", type(exc).__name__)
                await self._pause(delay)
                delay = min(delay * 2, POLL_RETRY_MAX)
                continue
            delay = self.retry_delay
            self._handling = True
            try:
                for update in updates:
                    if not await self._handle_polled(update) or self._stopping.is_set():
                        break
            finally:
                self._handling = False

    async def _handle_polled(self, update: Update) -> bool:
        """Hand over one polled update and move the offset past it; False to fetch it again."""
        try:
            await self.handle_update(update)
        except Exception as exc:
            tries = self._failures.get(update.update_id, 0) + 1
            log.error(
                "telegram update %s: handing over failed (%s), try %d",
                update.update_id,
                type(exc).__name__,
                tries,
            )
            if tries < HANDLE_ATTEMPTS:
                self._failures[update.update_id] = tries
                await self._pause(self.retry_delay * tries)
                return False
            log.error("telegram update %s: skipped after %d tries", update.update_id, tries)
        self._failures.pop(update.update_id, None)
        self._offset = update.update_id + 1
        return True

    # ---- sending -----------------------------------------------------------------------------

    async def send(self, msg: Outbound) -> SendResult:
        """Send one message (or delete earlier ones); Bot API errors come back in the result."""
        if self._bot is None:
            raise RuntimeError("TelegramChannel.send before start()")
        chat_id = chat_id_of(msg.urn)
        if chat_id is None:
            return SendResult(ok=False, retry=False, error="not a telegram urn")
        if msg.kind == "delete":
            return await self._delete(msg, chat_id)
        pieces = split_text(msg.text)
        sent: list[str] = []
        try:
            for i, piece in enumerate(pieces):
                parameters = {"chat_id": chat_id, "text": piece, "link_preview_options": NO_PREVIEW}
                markup = keyboard(msg.buttons) if i == len(pieces) - 1 else None
                if markup is not None:
                    parameters["reply_markup"] = markup
                message = await self.call("sendMessage", parameters)
                sent.append(str(_message_id(message)))
        except TelegramError as exc:
            result = error_result(exc)
            log.warning("telegram send outbox=%s failed: %s", msg.outbox_id, result.error)
            return result
        # DEBUG: a line per reply cost ~19 µs (1 % of a message's CPU); the outcome is recorded
        # with the message (its ids), failures are still logged as warnings.
        log.debug("telegram send outbox=%s: message %s", msg.outbox_id, ",".join(sent))
        # Long texts go as several messages; all their ids, so FSHI can delete each of them.
        return SendResult(ok=True, external_id=",".join(sent), segments=len(sent))

    async def _delete(self, msg: Outbound, chat_id: int) -> SendResult:
        """deleteMessage for each listed id; ones over 48 hours old or already gone are skipped."""
        assert self._bot is not None
        raw = msg.meta.get(RECALL.meta_key) or []
        ids = [int(i) for i in raw if str(i).isdigit()] if isinstance(raw, list | tuple) else []
        deleted, other_error = 0, None
        for message_id in ids:
            try:
                await self.call("deleteMessage", {"chat_id": chat_id, "message_id": message_id})
                deleted += 1
            except BadRequest as exc:
                if not any(s in exc.message.lower() for s in UNDELETABLE):
                    other_error = "400 " + _safe_description(exc)
            except TelegramError as exc:
                # Retrying the whole list is safe: the ones already gone answer "not found".
                result = error_result(exc)
                log.warning("telegram delete outbox=%s failed: %s", msg.outbox_id, result.error)
                return result
        log.info("telegram delete outbox=%s: %d of %d deleted", msg.outbox_id, deleted, len(ids))
        if other_error is not None:
            return SendResult(ok=False, retry=False, segments=0, error=other_error)
        return SendResult(ok=True, external_id=None, segments=0)

    # ---- webhook registration ----------------------------------------------------------------

    async def set_webhook(self) -> None:
        """Register our webhook URL and secret with Telegram (`helpline telegram set-webhook`)."""
        secret = self.settings.telegram_webhook_secret
        if not secret:
            raise TelegramSetupError(
                "set TELEGRAM_WEBHOOK_SECRET first: without it every update is refused"
            )
        if not SECRET_PATTERN.fullmatch(secret):
            raise TelegramSetupError(
                "TELEGRAM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (1 to 256 of them)"
            )
        bot = self._bot or self._make_bot()
        try:
            if bot is not self._bot:
                await bot.initialize()  # so that shutdown() below closes its connections
            await bot.set_webhook(
                url=self.webhook_url,
                secret_token=secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
        except InvalidToken:
            raise TelegramSetupError("the Bot API rejected TELEGRAM_BOT_TOKEN") from None
        except TelegramError as exc:
            raise TelegramSetupError(f"setWebhook failed: {_safe_description(exc)}") from None
        finally:
            if bot is not self._bot:
                await bot.shutdown()


def _message_id(result: Any) -> int:
    """The message_id of a Message the Bot API answered; TelegramError when there is none."""
    message_id = result.get("message_id") if isinstance(result, dict) else None
    if not isinstance(message_id, int):
        raise TelegramError("Invalid server response")
    return message_id


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None when it is longer than `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        # aiohttp keeps the body once read (the security middleware may have read it under a
        # deadline already) and refuses one over the app's client_max_size.
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None
    return body if len(body) <= limit else None
