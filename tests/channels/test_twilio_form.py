"""The Twilio webhook reads a urlencoded form itself (bot/channels/twilio_sms.py form_pairs):
the same fields, in the same order, as aiohttp's request.post(), for every body."""

from __future__ import annotations

import random
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.twilio_sms import form_pairs
from tests.auxil import twilio_payloads as tp

MAX_FIELDS = 30
ALPHABET = "ab=&+% %2B%3D%26%zz%C3%AB%E2%82%ACë€😀\t\n\r;?#/AZ09%f%%25\x00"
EDGES = [
    "",
    " ",
    "&",
    "&&&",
    "=",
    "a",
    "a=",
    "=b",
    "a=b=c",
    "a=1&a=2&b=3",
    "a=1&&b=2&",
    "a+b=c+d",
    "a%2Bb=c%20d+e",
    "bad=%zz%C3",
    "invalid=%FF%FE",
    "trailing=space   \r\n",
    "x=1" + "&y=2" * (MAX_FIELDS - 1),
    "x=1" + "&y=2" * MAX_FIELDS,
    "&" * MAX_FIELDS,
]


def bodies() -> list[str]:
    """The edges, a real Twilio form, and random mixtures of the alphabet."""
    form = tp.inbound_sms(
        "+355691234567", "Përshëndetje & mirë 100% + =", message_sid="SM" + "a" * 32
    )
    real = "&".join(f"{k}={v}" for k, v in form.items())
    rng = random.Random(19)
    mixed = ["".join(rng.choices(ALPHABET, k=rng.randint(0, 40))) for _ in range(400)]
    return [*EDGES, real, *mixed]


async def test_form_pairs_are_what_post_holds() -> None:
    async def handler(request: web.Request) -> web.Response:
        ours: Any
        try:
            ours = await form_pairs(request)
        except Exception as exc:
            ours = ("error", type(exc).__name__)
        theirs: Any
        try:
            theirs = list((await request.post()).items())
        except Exception as exc:
            theirs = ("error", type(exc).__name__)
        # None: post() reads it itself (a form we leave to it); otherwise the same pairs.
        if ours is not None and ours != theirs:
            return web.json_response({"ours": repr(ours), "post": repr(theirs)}, status=500)
        return web.json_response({"fast": ours is not None})

    app = web.Application(client_max_fields=MAX_FIELDS)
    app.router.add_post("/form", handler)
    fast = 0
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for content_type in (
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "application/x-www-form-urlencoded; charset=latin-1",
            "multipart/form-data; boundary=x",
            "text/plain",
        ):
            for body in bodies():
                for raw in {
                    body.encode("utf-8", "surrogatepass"),
                    body.encode("latin-1", "replace"),
                }:
                    headers = {"Content-Type": content_type}
                    async with client.post("/form", data=raw, headers=headers) as response:
                        answer = await response.json()
                        assert response.status == 200, (content_type, raw, answer)
                        fast += answer["fast"]
    assert fast > 1000  # the fast reading was what was compared, not post() against itself
