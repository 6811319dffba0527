"""The simulator's routes and WebSocket protocol, in a small app whose `receive` echoes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.simulator import SimulatorChannel
from bot.hub import Hub, Subscription
from bot.messages import Button, Inbound, Outbound
from bot.web.simulator import (
    MAX_TEXT,
    ClientMessage,
    RateLimit,
    Rejected,
    new_urn,
    parse_client_frame,
    setup_simulator,
    valid_urn,
)

URN = "sim:" + "A" * 24


class WatchedHub(Hub):
    """A hub that lets a test wait until a subscription has been removed."""

    def __init__(self) -> None:
        super().__init__()
        self.removed = asyncio.Event()

    def _remove(self, sub: Subscription) -> None:
        """Unsubscribe, then tell the waiting test."""
        super()._remove(sub)
        self.removed.set()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Echo:
    """Stands in for the pipeline: records what arrives and answers through the real channel."""

    def __init__(self, hub: Hub) -> None:
        self.channel = SimulatorChannel(hub)
        self.hub = hub
        self.received: list[Inbound] = []
        self.fail = False

    async def __call__(self, inbound: Inbound) -> None:
        if self.fail:
            raise RuntimeError(f"db error with {inbound.text}")  # must never reach the log
        self.received.append(inbound)
        self.hub.publish_event(inbound.urn, {"type": "case_opened", "reference": "R-4821"})
        await self.channel.send(
            Outbound(
                outbox_id=len(self.received),
                channel="simulator",
                urn=inbound.urn,
                text=f"echo: {inbound.text}",
                buttons=(Button("Po", "yes"),),
            )
        )


@pytest.fixture
def hub() -> WatchedHub:
    """A hub whose unsubscriptions can be awaited."""
    return WatchedHub()


@pytest.fixture
def echo(hub: WatchedHub) -> Echo:
    """The echoing stand-in for the pipeline."""
    return Echo(hub)


@pytest.fixture
def clock() -> FakeClock:
    """The rate limiter's clock, moved by hand."""
    return FakeClock()


@pytest.fixture
async def client(hub: WatchedHub, echo: Echo, clock: FakeClock) -> AsyncIterator[TestClient]:
    """A client of a small app with only the simulator routes (5 messages per 10 s)."""
    app = web.Application()
    setup_simulator(app, hub=hub, receive=echo, rate=(5, 10.0), monotonic=clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def hello(ws) -> str:
    """Read the hello frame and return the URN it gives."""
    frame = await ws.receive_json()
    assert frame["type"] == "hello"
    assert frame["max_text"] == MAX_TEXT
    return frame["urn"]


# -- the page --------------------------------------------------------------------------------


async def test_the_page_is_served_with_a_strict_policy_and_both_banners(client):
    response = await client.get("/simulator")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    assert "nothing here reaches a real coordinator" in html
    assert "asgjë këtu nuk arrin te një koordinator i vërtetë" in html
    assert '<html lang="sq">' in html
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("name", ["simulator.js", "simulator.css"])
async def test_static_files_are_served_locally(client, name):
    response = await client.get(f"/simulator/static/{name}")
    assert response.status == 200
    body = await response.text()
    assert "http://" not in body and "https://" not in body  # no CDN: there is no internet


# -- the WebSocket ---------------------------------------------------------------------------


async def test_hello_gives_a_fresh_server_made_urn(client):
    async with client.ws_connect("/simulator/ws") as one, client.ws_connect("/simulator/ws") as two:
        first, second = await hello(one), await hello(two)
    assert valid_urn(first) and valid_urn(second)
    assert first != second


async def test_a_reconnecting_tab_keeps_a_well_formed_sim_urn(client):
    async with client.ws_connect("/simulator/ws", params={"urn": URN}) as ws:
        assert await hello(ws) == URN


@pytest.mark.parametrize(
    "asked",
    [
        "tel:+355691234567",
        "telegram:123456789",
        "sim:short",
        "sim:" + "a" * 23 + "/",
        "sim:" + "a" * 65,
    ],
)
async def test_a_urn_outside_the_sim_format_is_replaced(client, asked):
    async with client.ws_connect("/simulator/ws", params={"urn": asked}) as ws:
        urn = await hello(ws)
    assert urn != asked and valid_urn(urn)


async def test_a_message_becomes_an_inbound_and_the_reply_comes_back(client, echo):
    async with client.ws_connect("/simulator/ws") as ws:
        urn = await hello(ws)
        before = datetime.now(UTC)
        await ws.send_json({"text": "pershendetje"})
        assert await ws.receive_json() == {
            "type": "event",
            "event": "case_opened",
            "reference": "R-4821",
        }
        assert await ws.receive_json() == {
            "type": "message",
            "text": "echo: pershendetje",
            "buttons": [{"label": "Po", "value": "yes"}],
        }
    [inbound] = echo.received
    assert inbound.channel == "simulator"
    assert inbound.urn == urn
    assert inbound.text == "pershendetje"
    assert inbound.button is None
    assert uuid.UUID(inbound.external_id)
    assert inbound.received_at.tzinfo is not None
    assert inbound.received_at.utcoffset() == timedelta(0)
    assert before <= inbound.received_at <= datetime.now(UTC)


async def test_a_tapped_option_sends_its_value_with_the_label_as_text(client, echo):
    async with client.ws_connect("/simulator/ws") as ws:
        await hello(ws)
        await ws.send_json({"button": "yes", "label": "Po"})
        await ws.receive_json()
        assert (await ws.receive_json())["text"] == "echo: Po"
    assert [(i.text, i.button) for i in echo.received] == [("Po", "yes")]


async def test_external_ids_are_unique(client, echo):
    async with client.ws_connect("/simulator/ws") as ws:
        await hello(ws)
        for text in ("a", "b"):
            await ws.send_json({"text": text})
            await ws.receive_json()
            await ws.receive_json()
    assert len({i.external_id for i in echo.received}) == 2


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('"text"', "bad_json"),
        ("{}", "bad_message"),
        ('{"text": 5}', "bad_message"),
        ('{"button": ""}', "bad_message"),
        ('{"button": 3, "label": "x"}', "bad_message"),
        (json.dumps({"button": "x" * 129}), "bad_message"),
        ('{"text": "   "}', "empty"),
        (json.dumps({"text": "a" * (MAX_TEXT + 1)}), "too_long"),
        (json.dumps({"button": "yes", "label": "a" * (MAX_TEXT + 1)}), "too_long"),
    ],
)
async def test_bad_frames_get_an_error_frame_and_nothing_is_received(client, echo, raw, code):
    async with client.ws_connect("/simulator/ws") as ws:
        await hello(ws)
        await ws.send_str(raw)
        frame = await ws.receive_json()
        assert frame["type"] == "error"
        assert frame["code"] == code
        assert frame["error"]
        await ws.send_json({"text": "still here"})  # the connection stays usable
        await ws.receive_json()
        assert (await ws.receive_json())["text"] == "echo: still here"
    assert [i.text for i in echo.received] == ["still here"]


async def test_exactly_the_limit_is_accepted(client, echo):
    async with client.ws_connect("/simulator/ws") as ws:
        await hello(ws)
        await ws.send_json({"text": "ë" * MAX_TEXT})
        await ws.receive_json()
        await ws.receive_json()
    assert len(echo.received[0].text) == MAX_TEXT


async def test_a_binary_frame_gets_an_error_frame(client, echo):
    async with client.ws_connect("/simulator/ws") as ws:
        await hello(ws)
        await ws.send_bytes(b'{"text": "hi"}')
        assert (await ws.receive_json())["code"] == "bad_json"
    assert echo.received == []


async def test_too_many_messages_get_an_error_frame_until_the_window_passes(client, echo, clock):
    async with client.ws_connect("/simulator/ws") as ws:
        await hello(ws)
        for n in range(5):
            await ws.send_json({"text": f"m{n}"})
            await ws.receive_json()
            await ws.receive_json()
        await ws.send_json({"text": "one too many"})
        assert (await ws.receive_json())["code"] == "rate_limited"
        clock.now += 10.0
        await ws.send_json({"text": "later"})
        await ws.receive_json()
        assert (await ws.receive_json())["text"] == "echo: later"
    assert [i.text for i in echo.received] == ["m0", "m1", "m2", "m3", "m4", "later"]


async def test_the_rate_limit_is_per_connection(client, echo):
    async with client.ws_connect("/simulator/ws") as one:
        await hello(one)
        for n in range(6):
            await one.send_json({"text": f"m{n}"})
        codes = [(await one.receive_json()).get("code") for _ in range(11)]
        assert codes.count("rate_limited") == 1
    async with client.ws_connect("/simulator/ws") as two:
        await hello(two)
        await two.send_json({"text": "fresh"})
        await two.receive_json()
        assert (await two.receive_json())["text"] == "echo: fresh"


async def test_a_pipeline_failure_is_an_error_frame_and_logs_no_text(client, echo, caplog):
    echo.fail = True
    async with client.ws_connect("/simulator/ws") as ws:
        await hello(ws)
        await ws.send_json({"text": "secret words"})
        assert (await ws.receive_json())["code"] == "failed"
        echo.fail = False
        await ws.send_json({"text": "again"})
        await ws.receive_json()
        assert (await ws.receive_json())["text"] == "echo: again"
    assert "RuntimeError" in caplog.text
    assert "secret words" not in caplog.text


async def test_a_cross_site_page_cannot_open_the_socket(client, echo):
    response = await client.get(
        "/simulator/ws",
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    origin = f"http://{client.server.host}:{client.server.port}"
    async with client.ws_connect("/simulator/ws", origin=origin) as ws:
        assert valid_urn(await hello(ws))


async def test_closing_the_tab_unsubscribes(client, hub):
    async with client.ws_connect("/simulator/ws") as ws:
        urn = await hello(ws)
        assert hub.subscribers(urn) == 1
    await asyncio.wait_for(hub.removed.wait(), 10)
    assert hub.subscribers(urn) == 0


async def test_replies_for_a_urn_reach_every_tab_watching_it(client, hub):
    async with (
        client.ws_connect("/simulator/ws", params={"urn": URN}) as one,
        client.ws_connect("/simulator/ws", params={"urn": URN}) as two,
    ):
        await hello(one)
        await hello(two)
        hub.publish_message(URN, "to both")
        assert (await one.receive_json())["text"] == "to both"
        assert (await two.receive_json())["text"] == "to both"


# -- pure parts ------------------------------------------------------------------------------


def test_parse_client_frame():
    assert parse_client_frame('{"text": "po"}') == ClientMessage("po")
    assert parse_client_frame('{"button": "yes", "label": "Po"}') == ClientMessage("Po", "yes")
    assert parse_client_frame('{"button": "yes"}') == ClientMessage("yes", "yes")
    assert isinstance(parse_client_frame("x" * 70_000), Rejected)


def test_new_urns_are_valid_and_random():
    urns = {new_urn() for _ in range(100)}
    assert len(urns) == 100
    assert all(valid_urn(u) for u in urns)
    assert not valid_urn("sim:" + "a" * 21)
    assert not valid_urn(" sim:" + "a" * 24)
    assert not valid_urn("sim:" + "a" * 24 + "\n")


def test_rate_limit_is_a_sliding_window():
    clock = FakeClock()
    limit = RateLimit(2, 10.0, clock=clock)
    assert limit.allow() and limit.allow()
    assert not limit.allow()
    clock.now += 5
    assert not limit.allow()  # refusals do not count toward the window
    clock.now += 5
    assert limit.allow()
