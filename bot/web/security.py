"""Web hardening for every response: security headers, a CSP, safe cookies, limits and timeouts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.config import Settings
from bot.web.limits import RateLimiter, client_address, too_many

log = logging.getLogger(__name__)

# Paths whose requests count against the per-address limit: what the internet can call
# without a session (webhooks, sign-in, the simulator's socket).
LIMITED_PREFIXES = ("/webhooks/", "/admin/login", "/simulator/ws")
# Paths whose requests get the body and handler deadlines (not the simulator's socket, which
# stays open for the whole chat).
DEADLINE_PREFIXES = ("/webhooks/", "/admin/login")
WEBHOOK_PREFIX = "/webhooks/"
REFUSALS = frozenset({400, 401, 403, 404, 405, 408, 413})  # what counts against an address there
BODY_TIMEOUT = 10.0  # seconds to receive a request body; a slow drip is cut off (408)
HANDLER_TIMEOUT = 30.0  # seconds a limited request may take in all (Twilio gives up at 15)

# For pages that set none of their own (the simulator sets a stricter one): only our own
# scripts, styles and connections, no framing, no plugins, forms only to ourselves.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # No version for scanners to match against known holes.
    "Server": "helpline",
}
HSTS = "max-age=31536000"
STATIC_MARK = "/static/"  # static files may be cached; pages and API answers may not

IP_LIMITER = web.AppKey("ip_limiter", RateLimiter)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Observe = Callable[[web.Request, float], None]  # a webhook request and its seconds
# How often the handlers' deadlines are looked at (at most; HANDLER_TIMEOUT when shorter): a
# deadline is met within this much more than HANDLER_TIMEOUT.
DEADLINE_TICK = 1.0


class Deadlines:
    """HANDLER_TIMEOUT for every request on DEADLINE_PREFIXES, by one timer for all of them.

    asyncio.timeout() arms and cancels a timer of the loop's per request: 34,000 instructions
    a request (callgrind), 0.6 % of a webhook's. Here a request is an entry in a dict, looked at
    every DEADLINE_TICK by one timer; one past its deadline is cancelled as asyncio.timeout
    cancels it (the same count of cancellations left on the task), up to a tick late.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # Running tasks and their deadlines (the loop's clock), in the order they came: with
        # one HANDLER_TIMEOUT that is the deadlines' order, so a tick stops at the first not due.
        self._running: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def enter(self, task: asyncio.Task[object]) -> None:
        """Start the deadline of the request `task` serves."""
        loop = self._loop
        self._running[task] = loop.time() + HANDLER_TIMEOUT
        if self._timer is None:
            self._timer = loop.call_later(min(DEADLINE_TICK, HANDLER_TIMEOUT), self._tick)

    def leave(self, task: asyncio.Task[object]) -> bool:
        """End the request's deadline; whether it had passed (the task was cancelled for it)."""
        if self._running.pop(task, None) is not None:
            return False
        self._expired.discard(task)
        return True

    def _tick(self) -> None:
        now = self._loop.time()
        due = []
        for task, deadline in self._running.items():
            if deadline > now:
                break
            due.append(task)
        for task in due:
            del self._running[task]
            self._expired.add(task)
            task.cancel()
        self._timer = None
        if self._running:
            self._timer = self._loop.call_later(min(DEADLINE_TICK, HANDLER_TIMEOUT), self._tick)


def make_middleware(
    settings: Settings, limiter: RateLimiter, observe: Observe | None = None
) -> Middleware:
    """On LIMITED_PREFIXES: a per-address limit, body size and read deadline, overall deadline;
    webhooks' times go to `observe` (the /metrics histogram)."""
    deadlines: Deadlines | None = None  # made in the running loop, by the first request

    def refused(request: web.Request) -> float | None:
        """Count a refused webhook against its address; seconds to wait when over the limit."""
        # Only here is the address looked up: an accepted webhook never needs it.
        return limiter.hit(client_address(request, settings.trusted_proxies))

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The limits of LIMITED_PREFIXES; on webhooks, the timing and the refusals' limit."""
        nonlocal deadlines
        path = request.path
        webhook = path.startswith(WEBHOOK_PREFIX)
        if not webhook:
            if not path.startswith(LIMITED_PREFIXES):
                return await handler(request)
            wait = limiter.hit(client_address(request, settings.trusted_proxies))
            if wait is not None:
                log.warning("rate limit: too many requests from one address to %s", path)
                return too_many(wait)
            if not path.startswith(DEADLINE_PREFIXES):
                return await handler(request)
        # Webhooks: the signature decides first, the per-address limit only after it. Behind a
        # proxy every request may come from one address, Twilio's among forgeries: a request
        # the handler accepts (its signature or secret checked first) always passes. Only
        # refusals count, each taking a token when it is answered; one with no token left is
        # answered 429 instead (of two concurrent refusals with one token left, one gets 429).
        # Forgeries cost a body read and an HMAC, no more (the handler stores nothing). Timed,
        # read and run under its deadline here, in this one frame: no middleware or coroutine
        # of their own on every webhook request.
        started = time.perf_counter()
        try:
            response: web.StreamResponse | None = None
            if request.body_exists:
                # What request.read() enforces; aiohttp has no public getter for it.
                length = request.content_length
                if length is not None and length > request._client_max_size:
                    response = web.Response(status=413, text="too large")
                else:
                    try:
                        # Read it all now, under a deadline: handlers then find it in memory.
                        # A body all here already (a webhook's usually is) cannot be slow.
                        if request.content.is_eof():
                            await request.read()
                        else:
                            async with asyncio.timeout(BODY_TIMEOUT):
                                await request.read()
                    except TimeoutError:
                        log.warning("request body to %s too slow; cut off", path)
                        response = web.Response(status=408, text="too slow")
            if response is None:
                task = asyncio.current_task()
                assert task is not None  # aiohttp serves every request in a task of its own
                if deadlines is None:
                    deadlines = Deadlines(task.get_loop())
                cancelling = task.cancelling()
                deadlines.enter(task)
                try:
                    response = await handler(request)
                except asyncio.CancelledError:
                    # As asyncio.timeout: ours alone (no other cancellation pending) is a 503.
                    if not (deadlines.leave(task) and task.uncancel() <= cancelling):
                        raise
                    response = _busy(request)
                except TimeoutError:  # as before, when the handler raises it itself
                    if deadlines.leave(task):
                        task.uncancel()
                    response = _busy(request)
                except BaseException:
                    if deadlines.leave(task):
                        task.uncancel()
                    raise
                else:
                    if deadlines.leave(task):
                        task.uncancel()  # it finished all the same, as asyncio.timeout lets it
        except web.HTTPException as exc:  # raised, not returned (an unknown path: 404)
            if webhook and exc.status in REFUSALS:
                wait = refused(request)
                if wait is not None:
                    return too_many(wait)
            raise
        finally:
            if webhook and observe is not None:
                observe(request, time.perf_counter() - started)
        assert response is not None  # the handler's, or the body's or the deadline's answer
        if webhook and response.status in REFUSALS:
            wait = refused(request)
            if wait is not None:
                log.warning("rate limit: too many refused requests from one address to webhooks")
                return too_many(wait)
        return response

    return guard


def _busy(request: web.Request) -> web.Response:
    """503 for a request past HANDLER_TIMEOUT (or whose handler timed out itself)."""
    # The provider tries again: a message not yet stored is stored then, one already committed
    # (its batch went on without this request, bot/store/group_commit.py) is found a duplicate,
    # so it is processed once either way.
    log.error("a request to %s took over %.0f s: answered 503", request.path, HANDLER_TIMEOUT)
    return web.Response(status=503, text="busy", headers={"Retry-After": "5"})


def harden_cookie(line: str, *, secure: bool) -> str:
    """A Set-Cookie line with HttpOnly, SameSite (Strict unless set) and, over TLS, Secure.

    Scripts never read our cookies, other sites never send them, and they travel only over
    TLS when the helpline is served over TLS (a local http:// run would lose them).
    """
    attributes = {part.strip().split("=", 1)[0].lower() for part in line.split(";")[1:]}
    if "httponly" not in attributes:
        line += "; HttpOnly"
    if "samesite" not in attributes:
        line += "; SameSite=Strict"
    if secure and "secure" not in attributes:
        line += "; Secure"
    return line


def make_header_hook(
    settings: Settings,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """Add the security headers and harden cookies on every response, errors included."""
    https = settings.public_url.startswith("https://")

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.update(HEADERS)  # ours win: aiohttp sets Server itself, handlers add others
        headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
        if STATIC_MARK not in request.path:
            headers.setdefault("Cache-Control", "no-store")
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        # aiohttp has already written Set-Cookie lines from response.cookies: harden the lines.
        cookies = headers.getall("Set-Cookie", [])
        if cookies:
            del headers["Set-Cookie"]
            for line in cookies:
                headers.add("Set-Cookie", harden_cookie(line, secure=https))

    return on_prepare


def setup_security(
    app: web.Application, settings: Settings, *, observe: Observe | None = None
) -> RateLimiter:
    """Install the guard middleware (timing webhooks for `observe`) and the header hook;
    returns the per-address limiter."""
    limiter = RateLimiter(settings.rate_per_ip)
    app[IP_LIMITER] = limiter
    app.middlewares.append(make_middleware(settings, limiter, observe))
    app.on_response_prepare.append(make_header_hook(settings))
    return limiter
