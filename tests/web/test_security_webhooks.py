"""Webhooks through the whole app: refusals store nothing, every request is timed for /metrics,
the security headers are on every answer, and the per-address limit counts refusals only."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from bot.app import build_app
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.channels.twilio_sms import SMS_PATH, STATUS_PATH
from bot.config import Settings, load_settings
from bot.store import migrate
from bot.web import security
from bot.web.security import DEFAULT_CSP, HEADERS, IP_LIMITER, setup_security
from tests.auxil import telegram_payloads as tgp
from tests.auxil import twilio_payloads as tp
from tests.auxil.channels_app import PUBLIC, SECRET, fakes, settings_for
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

PERSON = "+355691234567"
OTHER = "+355692345678"
SMS_TIMED = f'helpline_webhook_seconds_count{{path="{SMS_PATH}"}}'
TELEGRAM_TIMED = f'helpline_webhook_seconds_count{{path="{WEBHOOK_PATH}"}}'
SMS_PROCESSED = 'helpline_inbound_messages_total{channel="sms",status="processed"}'
TELEGRAM_PROCESSED = 'helpline_inbound_messages_total{channel="telegram",status="processed"}'


@dataclass
class Served:
    """The helpline's app with SMS and Telegram on, in front of the fake providers."""

    client: TestClient
    app: web.Application
    database: Path

    def rows(self, query: str) -> int:
        """A count, read straight from the SQLite file."""
        with sqlite3.connect(self.database) as db:
            (count,) = db.execute(query).fetchone()
        return int(count)

    def stored(self) -> tuple[int, int]:
        """(contacts, inbound messages) stored so far."""
        inbound = "SELECT count(*) FROM messages WHERE direction = 'in'"
        return self.rows("SELECT count(*) FROM contacts"), self.rows(inbound)

    def nothing_stored(self) -> bool:
        """No contact, message, session or reply in the database."""
        tables = ("contacts", "messages", "sessions", "outbox")
        return all(self.rows(f"SELECT count(*) FROM {t}") == 0 for t in tables)  # noqa: S608

    async def metrics(self) -> str:
        """The /metrics page."""
        async with self.client.get("/metrics") as resp:
            assert resp.status == 200
            return await resp.text()

    async def sms(
        self, form: dict[str, str] | list[tuple[str, str]], headers: dict[str, str]
    ) -> ClientResponse:
        """POST a Twilio form to the SMS webhook; the response, read."""
        async with self.client.post(SMS_PATH, data=form, headers=headers) as resp:
            await resp.read()
            return resp

    async def telegram(self, update: dict[str, Any], headers: dict[str, str]) -> ClientResponse:
        """POST an update to the Telegram webhook; the response, read."""
        headers = {"Content-Type": "application/json", **headers}
        async with self.client.post(WEBHOOK_PATH, data=json.dumps(update), headers=headers) as r:
            await r.read()
            return r


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """build_app with both channels on, migrated SQLite, the real twilio and PTB libraries."""
    async with fakes() as (twilio, telegram):
        settings: Settings = settings_for(tmp_path, twilio, telegram)
        await migrate.upgrade_async(settings.database_url)
        app = build_app(settings)
        async with TestClient(TestServer(app)) as client:
            database = Path(settings.database_url.split("///", 1)[1])
            yield Served(client, app, database)


def value(text: str, metric: str) -> float:
    """One sample's value in the Prometheus text format (0 when absent)."""
    match = re.search(rf"^{re.escape(metric)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def deltas(before: str, after: str, *metrics: str) -> list[float]:
    """How much each metric grew between two scrapes."""
    return [value(after, m) - value(before, m) for m in metrics]


def assert_hardened(headers: Any) -> None:
    """Every security header with our value, the defaults, HSTS (the public URL is https)."""
    for name, expected in HEADERS.items():
        assert headers[name] == expected, name
    assert headers["Content-Security-Policy"] == DEFAULT_CSP
    assert headers["Cache-Control"] == "no-store"
    assert headers["Strict-Transport-Security"].startswith("max-age=")


async def test_a_bad_twilio_signature_is_403_and_stores_nothing(served: Served) -> None:
    form = tp.inbound_sms(PERSON, "ndihme")
    forged = tp.signed_headers(PUBLIC + SMS_PATH, form, auth_token="0" * 32)
    assert (await served.sms(form, forged)).status == 403
    changed = {**form, "Body": "something else"}  # signed, then changed on the way
    assert (await served.sms(changed, tp.signed_headers(PUBLIC + SMS_PATH, form))).status == 403
    assert (await served.sms(form, {})).status == 403  # no signature at all
    assert served.nothing_stored()
    # The same form, signed: stored (so the counts above would have seen a stored refusal).
    assert (await served.sms(form, tp.signed_headers(PUBLIC + SMS_PATH, form))).status == 200
    assert served.stored() == (1, 1)


async def test_twilio_signatures_with_unique_and_with_repeated_names_are_accepted(
    served: Served,
) -> None:
    """The signature string the app builds is the SDK's for both kinds of form; a form with a
    repeated name still refuses a changed value."""
    unique = tp.inbound_sms(PERSON, "ndihme")
    assert (await served.sms(unique, tp.signed_headers(PUBLIC + SMS_PATH, unique))).status == 200
    repeated = [*tp.inbound_sms(OTHER, "ndihme").items(), ("MediaUrl0", "b"), ("MediaUrl0", "a")]
    signature = RequestValidator(tp.AUTH_TOKEN).compute_signature(
        PUBLIC + SMS_PATH, MultiDict(repeated)
    )
    headers = {tp.SIGNATURE_HEADER: signature}
    changed = [*repeated[:-1], ("MediaUrl0", "c")]
    assert (await served.sms(changed, headers)).status == 403
    assert (await served.sms(repeated, headers)).status == 200
    assert served.stored() == (2, 2)


async def test_a_wrong_or_missing_telegram_secret_is_403_and_stores_nothing(
    served: Served,
) -> None:
    for headers in ({}, {SECRET_HEADER: SECRET + "x"}, {SECRET_HEADER: ""}):
        update = tgp.text(1, "ndihme")
        assert (await served.telegram(update, headers)).status == 403, headers
    assert served.nothing_stored()
    assert (await served.telegram(tgp.text(2, "ndihme"), {SECRET_HEADER: SECRET})).status == 200
    assert served.stored() == (1, 1)


async def test_metrics_count_accepted_and_refused_webhooks(served: Served) -> None:
    """The guard times every webhook request, accepted or refused, under its route; the
    pipeline's outcomes are counted for the accepted ones only."""
    before = await served.metrics()
    form = tp.inbound_sms(PERSON, "ndihme")
    assert (await served.sms(form, tp.signed_headers(PUBLIC + SMS_PATH, form))).status == 200
    other = tp.inbound_sms(OTHER, "ndihme")
    assert (await served.sms(other, {tp.SIGNATURE_HEADER: "forged"})).status == 403
    good = {SECRET_HEADER: SECRET}
    assert (await served.telegram(tgp.text(1, "ndihme"), good)).status == 200
    assert (await served.telegram(tgp.text(2, "ndihme"), {SECRET_HEADER: "no"})).status == 403
    async with served.client.post("/webhooks/nowhere", data=b"x") as resp:
        assert resp.status == 404  # raised by aiohttp's router, timed under one label
    after = await served.metrics()
    timed = (SMS_TIMED, TELEGRAM_TIMED, 'helpline_webhook_seconds_count{path="other"}')
    assert deltas(before, after, *timed) == [2, 2, 1]
    assert deltas(before, after, SMS_PROCESSED, TELEGRAM_PROCESSED) == [1, 1]
    assert "# TYPE helpline_webhook_seconds histogram" in after


async def test_every_webhook_answer_carries_the_security_headers(served: Served) -> None:
    form = tp.inbound_sms(PERSON, "ndihme")
    answers = [
        await served.sms(form, tp.signed_headers(PUBLIC + SMS_PATH, form)),
        await served.sms(form, {tp.SIGNATURE_HEADER: "forged"}),
        await served.telegram(tgp.text(1, "ndihme"), {SECRET_HEADER: SECRET}),
        await served.telegram(tgp.text(2, "ndihme"), {}),
    ]
    assert [a.status for a in answers] == [200, 403, 200, 403]
    # The address has no refusal left (a bucket born empty): the next one is answered 429.
    served.app[IP_LIMITER].burst = 0.0
    served.app[IP_LIMITER].reset("127.0.0.1")
    answers.append(await served.sms(form, {tp.SIGNATURE_HEADER: "forged"}))
    assert answers[-1].status == 429
    for answer in answers:
        assert_hardened(answer.headers)


async def test_the_address_is_looked_up_for_refused_webhooks_only(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str | None] = []

    def recording(request: web.Request, trusted: Any = ()) -> str:
        looked_up.append(request.path)
        return "203.0.113.9"

    monkeypatch.setattr(security, "client_address", recording)
    form = tp.inbound_sms(PERSON, "ndihme")
    assert (await served.sms(form, tp.signed_headers(PUBLIC + SMS_PATH, form))).status == 200
    assert (await served.telegram(tgp.text(1, "ndihme"), {SECRET_HEADER: SECRET})).status == 200
    assert looked_up == []
    assert (await served.sms(form, {tp.SIGNATURE_HEADER: "forged"})).status == 403
    async with served.client.post(STATUS_PATH, data={"MessageSid": "SM1"}) as resp:
        assert resp.status == 403
    assert looked_up == [SMS_PATH, STATUS_PATH]


# ---- the refusals' limit, on a small app -----------------------------------------------------


@dataclass
class Gate:
    """A webhook that refuses every request, once the test opens the gate."""

    client: TestClient
    opened: asyncio.Event
    arrived: asyncio.Event  # set when `expected` requests have reached the handler
    expected: int = 0
    inside: int = 0


@pytest.fixture
async def gate(tmp_path: Path) -> AsyncIterator[Gate]:
    """The real guard in front of the refusing webhook, at 3 refusals an address; the
    limiter's clock stands still (no token comes back during the test)."""
    settings = load_settings(
        env={
            "HELPLINE_VAR_DIR": str(tmp_path),
            "HELPLINE_PUBLIC_URL": PUBLIC,
            "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
            "HELPLINE_SECRET_KEY": SECRET_KEY,
            "HELPLINE_RATE_PER_IP": "3",
        }
    )
    app = web.Application()
    limiter = setup_security(app, settings)
    limiter.clock = lambda: 0.0
    opened, arrived = asyncio.Event(), asyncio.Event()

    async def refuse(request: web.Request) -> web.Response:
        state.inside += 1
        if state.inside >= state.expected:
            arrived.set()
        await opened.wait()
        return web.Response(status=403)

    app.router.add_post("/webhooks/refuse", refuse)
    async with TestClient(TestServer(app)) as client:
        state = Gate(client, opened, arrived)
        yield state


async def test_two_concurrent_refusals_with_one_token_left_give_403_and_429(gate: Gate) -> None:
    """A refusal takes its token when it is answered, not when it arrives: of two refusals in
    flight together with one token left, the second answered is 429 (peeking on arrival let
    both through as 403, one refusal more than the limit)."""

    async def post() -> int:
        async with gate.client.post("/webhooks/refuse", data=b"x") as resp:
            return resp.status

    gate.opened.set()
    assert [await post(), await post()] == [403, 403]  # two of the three tokens
    gate.opened.clear()
    gate.arrived.clear()
    gate.expected = gate.inside + 2
    both = [asyncio.create_task(post()) for _ in range(2)]
    await gate.arrived.wait()  # both in the handler: neither counted yet
    gate.opened.set()
    assert sorted(await asyncio.gather(*both)) == [403, 429]
    assert await post() == 429  # and the address stays over its limit
