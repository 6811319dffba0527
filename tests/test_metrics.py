"""/metrics under `serve --workers 2`: every worker's counts in every scrape, and DB totals."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from bot.channels.twilio_sms import SMS_PATH
from bot.store import migrate
from tests.auxil import twilio_payloads as tp
from tests.auxil.fake_twilio import FakeTwilio
from tests.auxil.server_process import ServerProcess
from tests.store.fixtures import (
    DATA_KEYS,
    SECRET_KEY,
    create_pg_database,
    drop_pg_database,
    pg_url,
)

PUBLIC = "https://helpline.example.org"
MESSAGES = 12
SCRAPES = 8
WAIT = 90.0  # a bound on a broken run, never waited for


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own."""
    name = create_pg_database()
    try:
        migrate.upgrade(pg_url(name))
        yield pg_url(name)
    finally:
        drop_pg_database(name)


def value(text: str, metric: str) -> float | None:
    """One sample's value in the Prometheus text format."""
    match = re.search(rf"^{re.escape(metric)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.mark.postgres
async def test_every_scrape_counts_every_workers_messages(database: str, tmp_path: Any) -> None:
    fake = FakeTwilio()
    await fake.start()
    env = {  # no PROMETHEUS_MULTIPROC_DIR: `serve --workers` makes one
        "HELPLINE_DATABASE_URL": database,
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
        "HELPLINE_SMS_RATE": "0",
        "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
        "HELPLINE_TWILIO_API_URL": fake.url,
    }
    server = ServerProcess(env, args=("--workers", "2"), ready=2)
    await server.start()
    scrapes: list[str] = []
    try:
        async with asyncio.timeout(WAIT):
            # A connection a request: the kernel spreads them over both workers.
            for n in range(MESSAGES):
                form = tp.inbound_sms(f"+3556920000{n:02d}", "pershendetje")
                headers = {**tp.signed_headers(PUBLIC + SMS_PATH, form), "Connection": "close"}
                async with aiohttp.ClientSession() as http:
                    async with http.post(server.url + SMS_PATH, data=form, headers=headers) as r:
                        assert r.status == 200
            for _ in range(SCRAPES):
                async with aiohttp.ClientSession() as http:
                    async with http.get(server.url + "/metrics") as r:
                        assert r.status == 200
                        scrapes.append(await r.text())
    finally:
        await server.stop()
        await fake.stop()
    processed = 'helpline_inbound_messages_total{channel="sms",status="processed"}'
    timed = 'helpline_webhook_seconds_count{path="/webhooks/twilio/sms"}'
    for text in scrapes:
        assert value(text, processed) == MESSAGES, text[:2000]
        assert value(text, timed) == MESSAGES
        assert value(text, "helpline_escalations_total") == 0
    # Without multiprocess mode a scrape shows one worker's counts: it passes only if the kernel
    # gave all 12 connections to one worker (1 in 2,048) and every scrape to that one too.


async def test_one_process_serves_its_metrics_and_the_database_totals(tmp_path: Any) -> None:
    from aiohttp.test_utils import TestClient, TestServer
    from prometheus_client import REGISTRY

    from bot.app import build_app
    from bot.config import load_settings

    settings = load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path)})
    await migrate.upgrade_async(settings.database_url)
    # The registry is the process's: other tests in this worker may have timed "other" already.
    before = REGISTRY.get_sample_value("helpline_webhook_seconds_count", {"path": "other"}) or 0.0
    async with TestClient(TestServer(build_app(settings))) as client:
        async with client.post("/webhooks/twilio/sms") as resp:
            assert resp.status == 404  # SMS is off here: no route, one label for all such
        async with client.get("/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    assert value(text, "helpline_escalations_total") == 0
    assert "# TYPE helpline_alerts_sent_total counter" in text
    assert value(text, 'helpline_webhook_seconds_count{path="other"}') == before + 1


def test_counts_go_to_their_own_labels_every_time() -> None:
    """count_inbound and observe_webhook keep each label set's child: every call still counts,
    and under its own labels."""
    from prometheus_client import REGISTRY

    from bot import metrics

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    inbound = "helpline_inbound_messages_total"
    before = [sample(inbound, channel="sms", status=s) for s in ("processed", "duplicate")]
    seconds = "helpline_webhook_seconds_count"
    seen = [sample(seconds, path=p) for p in ("/webhooks/x", "/webhooks/y")]
    for _ in range(3):
        metrics.count_inbound("sms", "processed")
        metrics.observe_webhook("/webhooks/x", 0.001)
    metrics.count_inbound("sms", "duplicate")
    metrics.observe_webhook("/webhooks/y", 0.2)
    after = [sample(inbound, channel="sms", status=s) for s in ("processed", "duplicate")]
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 1]
    assert [
        sample(seconds, path=p) - s
        for p, s in zip(("/webhooks/x", "/webhooks/y"), seen, strict=True)
    ] == [3, 1]
