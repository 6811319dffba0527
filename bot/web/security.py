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


def make_middleware(
    settings: Settings, limiter: RateLimiter, observe: Observe | None = None
) -> Middleware:
    """On LIMITED_PREFIXES: a per-address limit, body size and read deadline, overall deadline;
    webhooks' times go to `observe` (the /metrics histogram)."""

    def refused(request: web.Request) -> float | None:
        """Count a refused webhook against its address; seconds to wait when over the limit."""
        # Only here is the address looked up: an accepted webhook never needs it.
        return limiter.hit(client_address(request, settings.trusted_proxies))

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The limits of LIMITED_PREFIXES; on webhooks, the timing and the refusals' limit."""
        path = request.path
        if not path.startswith(LIMITED_PREFIXES):
            return await handler(request)
        if not path.startswith(WEBHOOK_PREFIX):
            wait = limiter.hit(client_address(request, settings.trusted_proxies))
            if wait is not None:
                log.warning("rate limit: too many requests from one address to %s", path)
                return too_many(wait)
            return await _guarded(request, handler)
        # Webhooks: the signature decides first, the per-address limit only after it. Behind a
        # proxy every request may come from one address, Twilio's among forgeries: a request
        # the handler accepts (its signature or secret checked first) always passes. Only
        # refusals count, each taking a token when it is answered; one with no token left is
        # answered 429 instead (of two concurrent refusals with one token left, one gets 429).
        # Forgeries cost a body read and an HMAC, no more (the handler stores nothing). Timed
        # here, not by a middleware of its own: one frame less on every webhook request.
        started = time.perf_counter()
        try:
            response = await _guarded(request, handler)
        except web.HTTPException as exc:  # raised, not returned (an unknown path: 404)
            if exc.status in REFUSALS:
                wait = refused(request)
                if wait is not None:
                    return too_many(wait)
            raise
        finally:
            if observe is not None:
                observe(request, time.perf_counter() - started)
        if response.status in REFUSALS:
            wait = refused(request)
            if wait is not None:
                log.warning("rate limit: too many refused requests from one address to webhooks")
                return too_many(wait)
        return response

    async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(DEADLINE_PREFIXES):
            return await handler(request)
        if request.body_exists:
            # What request.read() enforces; aiohttp has no public getter for it.
            max_size = request._client_max_size
            if request.content_length is not None and request.content_length > max_size:
                return web.Response(status=413, text="too large")
            try:
                # Read it all now, under a deadline: handlers then find it in memory. A body
                # already all here (a webhook's usually is) cannot be slow: no deadline to set.
                if request.content.is_eof():
                    await request.read()
                else:
                    async with asyncio.timeout(BODY_TIMEOUT):
                        await request.read()
            except TimeoutError:
                log.warning("request body to %s too slow; cut off", request.path)
                return web.Response(status=408, text="too slow")
        try:
            async with asyncio.timeout(HANDLER_TIMEOUT):
                return await handler(request)
        except TimeoutError:
            # The provider tries again: a message not yet stored is stored then, one already
            # committed (its batch went on without this request, bot/store/group_commit.py) is
            # found a duplicate, so it is processed once either way.
            log.error(
                "a request to %s took over %.0f s: answered 503", request.path, HANDLER_TIMEOUT
            )
            return web.Response(status=503, text="busy", headers={"Retry-After": "5"})

    return guard


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
