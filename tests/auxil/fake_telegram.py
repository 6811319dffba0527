"""A stateful fake of the Telegram Bot API on 127.0.0.1, with test controls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from tests.auxil import telegram_payloads as tp

Json = dict[str, Any]

# How the real API reads a token in the path: well formed but unknown → 401, malformed → 404.
TOKEN_SHAPE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{30,}")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
DELETE_WINDOW = timedelta(hours=48)

# Parameters arrive as strings in forms and query strings; the real API reads them by type.
INT_FIELDS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "max_connections", "cache_time"}
)
BOOL_FIELDS = frozenset(
    {"drop_pending_updates", "show_alert", "disable_notification", "protect_content"}
)
JSON_FIELDS = frozenset(
    {"reply_markup", "allowed_updates", "link_preview_options", "entities", "message_ids"}
)

# The real API's descriptions for the errors the fake answers.
NOT_FOUND = "Not Found"
UNAUTHORIZED = "Unauthorized"
BLOCKED = "Forbidden: bot was blocked by the user"
EMPTY_TEXT = "Bad Request: message text is empty"
TOO_LONG = "Bad Request: message is too long"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
CANT_DELETE = "Bad Request: message can't be deleted for everyone"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)


@dataclass
class Call:
    """One request the fake received: the method, its typed parameters, the HTTP status answered."""

    method: str
    params: Json
    status: int


@dataclass
class _Injected:
    """An error the fake answers instead of doing the method."""

    error_code: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class FakeTelegram:
    """The Bot API methods the helpline uses; start() binds a free port on 127.0.0.1."""

    token: str = tp.TOKEN
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    calls: list[Call] = field(default_factory=list)
    messages: dict[int, dict[int, Json]] = field(default_factory=dict)  # chat -> id -> Message
    deleted: dict[int, list[int]] = field(default_factory=dict)  # chat -> ids deleted, in order
    answered: list[str] = field(default_factory=list)  # callback query ids answered
    left: list[int] = field(default_factory=list)  # chats the bot left
    blocked: set[int] = field(default_factory=set)  # chats whose person blocked the bot
    webhook: Json | None = None  # what setWebhook registered
    url: str = ""
    _queue: list[Json] = field(default_factory=list)
    _next_update: int = 1
    _next_message: dict[int, int] = field(default_factory=dict)
    _allowed: list[str] | None = None
    _injected: dict[str, list[_Injected]] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _forward: dict[str, str] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve on a free port; returns the base URL (HELPLINE_TELEGRAM_API_URL)."""
        app = web.Application()
        app.router.add_route("*", "/{bot}/{method}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._session = aiohttp.ClientSession()
        return self.url

    async def stop(self) -> None:
        """Close the server (and the session used to call webhooks)."""
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test controls ---------------------------------------------------------------------

    def queue_update(self, update: Json) -> int:
        """Queue an Update for getUpdates (update_id filled in when missing); returns its id."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update
        self._next_update = max(self._next_update, int(update["update_id"]) + 1)
        self._queue.append(update)
        self._notify()
        return int(update["update_id"])

    def pending(self) -> list[int]:
        """Ids of the updates not yet confirmed by a getUpdates offset."""
        return [u["update_id"] for u in self._queue]

    def inject(
        self,
        method: str,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with this error (429 with retry_after)."""
        self._injected.setdefault(method.lower(), []).append(
            _Injected(error_code, description, retry_after, times)
        )

    def block(self, chat_id: int) -> None:
        """The person blocks the bot: every send to them answers 403 from now on."""
        self.blocked.add(chat_id)

    def seed_message(self, chat_id: int, text: str, date: datetime) -> int:
        """A message the bot sent earlier (at `date`); returns its id."""
        return int(self._store(chat_id, text, None, date)["message_id"])

    def message_ids(self, chat_id: int) -> list[int]:
        """Ids of the bot's messages still in the chat."""
        return sorted(self.messages.get(chat_id, {}))

    def calls_to(self, method: str) -> list[Json]:
        """Parameters of every call of `method`, failed ones included, in order."""
        return [c.params for c in self.calls if c.method.lower() == method.lower()]

    async def wait_for_calls(self, method: str, count: int) -> list[Json]:
        """Wait until `method` was called at least `count` times; returns those calls."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.calls_to(method)) >= count)
        return self.calls_to(method)

    def forward(self, public_prefix: str, local_prefix: str) -> None:
        """Reach URLs under `public_prefix` at `local_prefix`, as a reverse proxy in front would."""
        self._forward[public_prefix.rstrip("/")] = local_prefix.rstrip("/")

    def _target(self, url: str) -> str:
        """Where a URL is really reached, through the configured forwards."""
        for public, local in self._forward.items():
            if url == public or url.startswith(public + "/"):
                return local + url[len(public) :]
        return url

    async def deliver(self, update: Json) -> int:
        """POST an Update to the registered webhook, as Telegram does; returns the HTTP status."""
        if self.webhook is None or self._session is None:
            raise LookupError("no webhook registered (or the fake is not started)")
        headers = {"Content-Type": "application/json"}
        secret = self.webhook.get("secret_token")
        if secret:
            headers[SECRET_HEADER] = str(secret)
        async with self._session.post(
            self._target(str(self.webhook["url"])), data=json.dumps(update), headers=headers
        ) as resp:
            await resp.read()
            return resp.status

    # ---- wire format -----------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake long polls and waiting tests (from sync code too)."""

        async def notify() -> None:
            """Wake everyone waiting on the condition."""
            async with self._changed:
                self._changed.notify_all()

        task = asyncio.get_running_loop().create_task(notify())
        self._tasks.add(task)  # a task nobody references can be collected before it runs
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _ok(result: Any, description: str | None = None) -> web.Response:
        """A successful answer."""
        body: Json = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return web.json_response(body)

    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
        """An error answer in the Bot API's shape."""
        body: Json = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=code)

    @staticmethod
    def _typed(name: str, value: str) -> Any:
        """A form or query value read as the real API reads that parameter."""
        if name in INT_FIELDS:
            try:
                return int(value)
            except ValueError:
                return value  # @channelusername
        if name in BOOL_FIELDS:
            return value.lower() == "true"
        if name in JSON_FIELDS:
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    async def _params(self, request: web.Request) -> Json:
        """Parameters from the query string and a JSON, form or multipart body."""
        params: Json = {k: self._typed(k, v) for k, v in request.query.items()}
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.can_read_body:
            form = await request.post()
            params.update({k: self._typed(k, str(v)) for k, v in form.items()})
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        """Route /bot<token>/<method> as the real API does."""
        prefix, method = request.match_info["bot"], request.match_info["method"]
        params = await self._params(request)
        response = self._check_token(prefix)
        if response is None:
            response = self._take_injected(method)
        if response is None:
            handler = self._methods().get(method.lower())
            response = await handler(params) if handler else self._error(404, NOT_FOUND)
        self.calls.append(Call(method, params, response.status))
        self._notify()
        return response

    def _check_token(self, prefix: str) -> web.Response | None:
        """404 for a malformed token, 401 for a well-formed wrong one, None for ours."""
        token = prefix.removeprefix("bot") if prefix.startswith("bot") else None
        if token is None or not TOKEN_SHAPE.fullmatch(token):
            return self._error(404, NOT_FOUND)
        if token != self.token:
            return self._error(401, UNAUTHORIZED)
        return None

    def _take_injected(self, method: str) -> web.Response | None:
        """The next injected error for this method, if any."""
        queue = self._injected.get(method.lower())
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return self._error(failure.error_code, failure.description, failure.retry_after)

    def _methods(self) -> dict[str, Callable[[Json], Any]]:
        """Bot API method name (lower case: the real API ignores case) → handler."""
        return {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "leavechat": self._leave_chat,
        }

    # ---- methods ---------------------------------------------------------------------------

    async def _get_me(self, params: Json) -> web.Response:
        """getMe."""
        return self._ok(
            {
                **tp.bot_user(),
                "id": int(self.token.split(":", 1)[0]),
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    def _chat(self, chat_id: int) -> Json:
        """A Chat object for an id (negative ids are groups, as in the real API)."""
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Drita"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": "Familja"}

    def _store(self, chat_id: int, text: str, markup: Json | None, date: datetime) -> Json:
        """Create one of the bot's messages in a chat."""
        message_id = self._next_message.get(chat_id, 100)
        self._next_message[chat_id] = message_id + 1
        message: Json = {
            "message_id": message_id,
            "from": {**tp.bot_user(), "id": int(self.token.split(":", 1)[0])},
            "chat": self._chat(chat_id),
            "date": int(date.timestamp()),
            "text": text,
        }
        if markup and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        self.messages.setdefault(chat_id, {})[message_id] = message
        return message

    @staticmethod
    def _markup_error(markup: Any) -> str | None:
        """What the real API says about a bad inline keyboard, None when it is fine."""
        if not isinstance(markup, dict):
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                    return BUTTON_DATA_INVALID
        return None

    async def _send_message(self, params: Json) -> web.Response:
        """sendMessage."""
        chat_id, text = params.get("chat_id"), str(params.get("text") or "")
        if chat_id in (None, ""):
            return self._error(400, CHAT_ID_EMPTY)
        if not text.strip():
            return self._error(400, EMPTY_TEXT)
        if len(text.encode("utf-16-le")) // 2 > TEXT_LIMIT:
            return self._error(400, TOO_LONG)
        if problem := self._markup_error(params.get("reply_markup")):
            return self._error(400, problem)
        if chat_id in self.blocked:
            return self._error(403, BLOCKED)
        return self._ok(self._store(int(chat_id), text, params.get("reply_markup"), self.clock()))

    async def _edit_message_text(self, params: Json) -> web.Response:
        """editMessageText (by chat_id and message_id)."""
        message = self.messages.get(params.get("chat_id"), {}).get(params.get("message_id"))
        if message is None:
            return self._error(400, EDIT_NOT_FOUND)
        markup = params.get("reply_markup")
        if message["text"] == params.get("text") and message.get("reply_markup") == markup:
            return self._error(400, NOT_MODIFIED)
        message["text"] = str(params.get("text") or "")
        message["edit_date"] = int(self.clock().timestamp())
        if markup is not None:
            message["reply_markup"] = markup
        return self._ok(message)

    async def _delete_message(self, params: Json) -> web.Response:
        """deleteMessage: only messages under 48 hours old."""
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        message = self.messages.get(chat_id, {}).get(message_id)
        if message is None:
            return self._error(400, DELETE_NOT_FOUND)
        sent = datetime.fromtimestamp(message["date"], UTC)
        if self.clock() - sent >= DELETE_WINDOW:
            return self._error(400, CANT_DELETE)
        del self.messages[chat_id][message_id]
        self.deleted.setdefault(chat_id, []).append(message_id)
        return self._ok(True)

    async def _answer_callback_query(self, params: Json) -> web.Response:
        """answerCallbackQuery: each query can be answered once."""
        query_id = str(params.get("callback_query_id") or "")
        if not query_id or query_id in self.answered:
            return self._error(400, QUERY_INVALID)
        self.answered.append(query_id)
        return self._ok(True)

    async def _set_webhook(self, params: Json) -> web.Response:
        """setWebhook (an empty url removes it, as in the real API)."""
        if not params.get("url"):
            self.webhook = None
            return self._ok(True, "Webhook was deleted")
        self.webhook = dict(params)
        if "allowed_updates" in params:
            self._allowed = list(params["allowed_updates"]) or None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return self._ok(True, "Webhook was set")

    async def _delete_webhook(self, params: Json) -> web.Response:
        """deleteWebhook."""
        existed, self.webhook = self.webhook is not None, None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return self._ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    async def _get_webhook_info(self, params: Json) -> web.Response:
        """getWebhookInfo."""
        info: Json = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook and self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return self._ok(info)

    async def _leave_chat(self, params: Json) -> web.Response:
        """leaveChat."""
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id > 0:
            return self._error(
                400, "Bad Request: chat member status can't be changed in private chats"
            )
        self.left.append(int(chat_id or 0))
        return self._ok(True)

    def _available(self, offset: int | None) -> list[Json]:
        """Unconfirmed updates from `offset` on, of the kinds asked for."""
        if offset is not None:
            # An offset confirms every update before it: they are gone for good.
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        if self._allowed:
            kinds = set(self._allowed)
            self._queue = [u for u in self._queue if kinds & (set(u) - {"update_id"})]
        return list(self._queue)

    async def _get_updates(self, params: Json) -> web.Response:
        """getUpdates: long poll for up to `timeout` seconds until an update is queued."""
        if self.webhook is not None:
            return self._error(409, WEBHOOK_ACTIVE)
        if "allowed_updates" in params:
            self._allowed = list(params["allowed_updates"]) or None
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if not self._available(offset) and timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with self._changed:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self._available(offset))), timeout
                    )
        return self._ok(self._available(offset)[:limit])
