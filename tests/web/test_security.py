"""Security headers, CSP and cookies on every response; address limits, body limits, deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import load_settings
from bot.web import security
from bot.web.limits import RateLimiter, client_address
from bot.web.security import DEFAULT_CSP, setup_security
from tests.store.fixtures import DATA_KEYS, SECRET_KEY


def _settings(tmp_path: Path, **env: str):
    return load_settings(
        env={
            "HELPLINE_VAR_DIR": str(tmp_path),
            "HELPLINE_PUBLIC_URL": "https://h.example",
            "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),  # https: a deployment brings its keys
            "HELPLINE_SECRET_KEY": SECRET_KEY,
            **env,
        }
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    """A small app with the real security setup: a page, a cookie, a webhook, a slow handler."""
    app = web.Application(client_max_size=1024)
    setup_security(app, _settings(tmp_path, HELPLINE_RATE_PER_IP="5"))
    stuck = asyncio.Event()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<p>hi</p>", content_type="text/html")

    async def login(request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        response.set_cookie("session", "abc")
        return response

    async def hook(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    async def chat(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive_str()  # waits for as long as the person takes
        await ws.send_str("still here")
        await ws.close()
        return ws

    async def forbidden(request: web.Request) -> web.Response:
        return web.Response(status=403)

    async def slow(request: web.Request) -> web.Response:
        await stuck.wait()
        return web.Response(text="never")

    app.router.add_get("/page", page)
    app.router.add_post("/admin/login", login)
    app.router.add_post("/webhooks/echo", hook)
    app.router.add_post("/webhooks/slow", slow)
    app.router.add_post("/webhooks/forbidden", forbidden)
    app.router.add_get("/simulator/ws", chat)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for method, path in (("GET", "/page"), ("GET", "/missing"), ("POST", "/webhooks/echo")):
        async with client.request(method, path, data=b"x") as resp:
            h = resp.headers
            assert h["Content-Security-Policy"] == DEFAULT_CSP, path
            assert h["X-Content-Type-Options"] == "nosniff"
            assert h["X-Frame-Options"] == "DENY"
            assert h["Referrer-Policy"] == "no-referrer"
            assert h["Cache-Control"] == "no-store"
            assert h["Strict-Transport-Security"].startswith("max-age=")
            assert h["Server"] == "helpline"  # no versions for a scanner to match


async def test_cookies_are_secure_httponly_samesite(client: TestClient) -> None:
    async with client.post("/admin/login") as resp:
        [cookie] = resp.headers.getall("Set-Cookie")
    parts = {p.strip().split("=")[0].lower() for p in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= parts
    assert "SameSite=Strict" in cookie


async def test_per_address_limit_answers_429_with_retry_after(client: TestClient) -> None:
    statuses = []
    for _ in range(7):
        async with client.post("/admin/login") as resp:
            statuses.append(resp.status)
            retry = resp.headers.get("Retry-After")
    assert statuses == [200] * 5 + [429] * 2
    assert retry is not None and int(retry) >= 1
    async with client.get("/page") as resp:  # pages are not counted
        assert resp.status == 200


async def test_on_webhooks_only_refused_requests_count(client: TestClient) -> None:
    """A provider's genuine traffic is never slowed; an address sending forgeries is stopped."""
    for _ in range(20):
        async with client.post("/webhooks/echo", data=b"ok") as resp:
            assert resp.status == 200
    statuses = []
    for path in ["/webhooks/forbidden"] * 5 + ["/webhooks/nowhere", "/webhooks/forbidden"]:
        async with client.post(path, data=b"x") as resp:
            statuses.append(resp.status)
    assert statuses == [403] * 5 + [429, 429]


async def test_forgeries_never_shut_out_an_accepted_webhook(client: TestClient) -> None:
    """Issue 14: behind nginx Twilio shares one address with forgers; its signed requests pass."""
    for _ in range(10):
        async with client.post("/webhooks/forbidden", data=b"x") as resp:
            assert resp.status in (403, 429)
    for _ in range(3):  # the handler accepts it (a good signature): never 429
        async with client.post("/webhooks/echo", data=b"ok") as resp:
            assert resp.status == 200
    async with client.post("/webhooks/forbidden", data=b"x") as resp:
        assert resp.status == 429  # the forger is still stopped


async def test_body_over_the_limit_is_refused_unread(client: TestClient) -> None:
    async with client.post("/webhooks/echo", data=b"x" * 2048) as resp:
        assert resp.status == 413


async def test_a_body_that_drips_is_cut_off(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(security, "BODY_TIMEOUT", 0.2)
    never = asyncio.Event()

    async def drip() -> AsyncIterator[bytes]:
        yield b"x"
        await never.wait()  # the rest never comes
        yield b"y"

    async with client.post("/webhooks/echo", data=drip()) as resp:
        assert resp.status == 408


async def test_a_stuck_handler_is_answered_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(security, "HANDLER_TIMEOUT", 0.2)
    async with client.post("/webhooks/slow", data=b"{}") as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"]


async def test_the_simulator_socket_has_no_deadline(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chat stays open as long as it likes: the socket outlives a webhook's deadline."""
    monkeypatch.setattr(security, "HANDLER_TIMEOUT", 0.05)
    async with client.ws_connect("/simulator/ws") as ws:
        # Opened first, so a deadline on it would have fired before this one does.
        async with client.post("/webhooks/slow", data=b"{}") as resp:
            assert resp.status == 503
        await ws.send_str("still there?")
        assert await ws.receive_str() == "still here"


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(60, burst=2, clock=lambda: now[0])  # one a second, bursts of two
    assert limiter.hit("a") is None and limiter.hit("a") is None
    wait = limiter.hit("a")
    assert wait == pytest.approx(1.0)
    assert limiter.hit("b") is None  # keys are separate
    now[0] += 1.0
    assert limiter.hit("a") is None
    assert RateLimiter(0).hit("a") is None  # 0: off


def test_bucket_memory_is_bounded() -> None:
    limiter = RateLimiter(60, max_keys=100)
    for i in range(1000):
        limiter.hit(f"k{i}")
    assert len(limiter._buckets) == 100


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    def request(forwarded: str) -> web.Request:
        transport = mock.Mock()
        transport.get_extra_info.return_value = ("127.0.0.1", 40000)
        headers = {"X-Forwarded-For": forwarded}
        return make_mocked_request("POST", "/", headers=headers, transport=transport)

    assert client_address(request("1.2.3.4")) == "127.0.0.1"  # not a proxy: header ignored
    behind = request("6.6.6.6, 9.9.9.9")  # the client forged 6.6.6.6; the proxy added 9.9.9.9
    assert client_address(behind, trusted_proxies=("127.0.0.1",)) == "9.9.9.9"
    garbage = request("not-an-ip")
    assert client_address(garbage, trusted_proxies=("127.0.0.1",)) == "127.0.0.1"
    # CIDR ranges (a compose network): every proxy in the range is skipped, the client is not.
    chain = request("6.6.6.6, 9.9.9.9, 127.0.0.5")
    assert client_address(chain, trusted_proxies=("127.0.0.0/8",)) == "9.9.9.9"
    assert client_address(chain, trusted_proxies=("10.0.0.0/8",)) == "127.0.0.1"


def test_a_bad_trusted_proxy_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HELPLINE_TRUSTED_PROXIES: 'nginx' is not an address"):
        _settings(tmp_path, HELPLINE_TRUSTED_PROXIES="127.0.0.1, nginx")
    ok = _settings(tmp_path, HELPLINE_TRUSTED_PROXIES="127.0.0.1, 172.16.0.0/12, ::1")
    assert ok.trusted_proxies == ("127.0.0.1", "172.16.0.0/12", "::1")
