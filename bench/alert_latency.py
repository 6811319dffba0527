"""Alert latency: a danger message in -> the coordinator's alert out (SQLite).

Runs the real pipeline, referral desk and outbox sender on a fresh SQLite file. Each case is a
new person texting "SOS". Two paths are timed:
- `channel`: from Pipeline.receive to the recording channel's send() being handed the alert;
- `twilio`: from the signed webhook POST to the Twilio SMS channel until the alert's REST
  request reaches the fake Twilio (tests/auxil/fake_twilio.py) - the whole path.

    .venv/bin/python bench/alert_latency.py [--cases 1000] [--concurrency 1 10]
                                            [--path channel twilio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.engine.env import Place  # noqa: E402
from bot.flows.library import FlowLibrary  # noqa: E402
from bot.messages import Inbound, Outbound, SendResult  # noqa: E402
from bot.outbox import OutboxSender  # noqa: E402
from bot.pacing import Pacer  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from bot.referral.service import Referral  # noqa: E402
from bot.store import migrate  # noqa: E402
from bot.store.crypto import Crypto  # noqa: E402
from bot.store.db import Database  # noqa: E402

FLOWS = {
    "first_contact.yaml": "flow: first_contact\nstart: hi\nnodes:\n  hi:\n    do: [{say: b.hi}]\n"
    "    end: completed\n",
    "danger.yaml": "flow: danger\nstart: act\nnodes:\n  act:\n    do:\n"
    "      - raise_urgency: {reason: danger_now}\n"
    "      - request_referral: {reason: danger_now}\n"
    "      - say: b.danger\n    end: completed\n",
    "keywords.yaml": "keywords:\n  - intent: danger\n    flow: danger\n    mode: phrase\n"
    "    phrases: {sq: [sos, jam ne rrezik]}\n",
}
NUMBERS = {c: {"emergency": "112", "police": "129", "line": "116 117"} for c in ("AL", "default")}
KEYS = ("hkArhHvODLmz--tDrnBG7OkAiGdL7L3K9u37eCe6K1I=",)  # a throwaway key for the bench only


class Ids:
    """Texts as their ids: the bench measures the path, not the wording."""

    def text(self, locale: str, msgid: str, params: Any = None) -> str:
        return msgid if not params else f"{msgid} {' '.join(map(str, params.values()))}"


class Recorder:
    """A channel that notes when each alert arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}

    async def send(self, msg: Outbound) -> SendResult:
        now = time.perf_counter()
        if msg.kind == "alert":
            ref = msg.text.split()[1]
            self.arrived[ref] = now
            future = self.waiters.pop(ref, None)
            if future is not None and not future.done():
                future.set_result(now)
        return SendResult(ok=True, external_id=f"x{msg.outbox_id}")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def write_flows(directory: Path) -> None:
    """The two flows and the keyword the bench needs."""
    directory.mkdir()
    for name, text in FLOWS.items():
        (directory / name).write_text(text)


async def run(cases: int, concurrency: int) -> list[float]:
    """Latencies in milliseconds, one per case."""
    with tempfile.TemporaryDirectory() as tmp:
        flows_dir = Path(tmp, "flows")
        write_flows(flows_dir)
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate.upgrade_async(url)
        db = Database(url, Crypto(KEYS, "bench-secret"))
        flows = FlowLibrary(flows_dir)
        assert flows.reload().ok
        now = datetime.now(UTC)
        async with db.uow() as uow:
            for i in range(3):
                c = await uow.coordinators.add(
                    name=f"Bench {i}", municipality="national", phone=f"+35569222{i:04d}",
                    telegram_chat_id=None, language="sq", role="coordinator", now=now,
                )  # fmt: skip
                await uow.coordinators.add_shift(c.id, kind="always", tz="Europe/Tirane", now=now)
            await uow.commit()
        recorder = Recorder()
        sender = OutboxSender(
            db, {"sms": recorder}, lambda: datetime.now(UTC), batch=100, pacer=Pacer.off()
        )
        woken = asyncio.Event()
        pipeline = Pipeline(
            db, flows, Ids(), places=[Place("tirane", "Tiranë", "AL", ("tirane",))],
            numbers=NUMBERS, clock=lambda: datetime.now(UTC), on_commit=woken.set,
            referral=Referral(Ids()),
        )  # fmt: skip
        stopping = False

        async def send_loop() -> None:
            # OutboxSender.run's loop, but it stops between passes: cancelling a pass in the
            # middle of a transaction leaves aiosqlite work that asyncio.run then waits for.
            while not stopping:
                woken.clear()
                if await sender.drain_once():
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), 1.0)

        sending = asyncio.create_task(send_loop())
        latencies: list[float] = []
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with gate:
                started = time.perf_counter()
                handled = await pipeline.receive(
                    Inbound("sms", f"tel:+3556{n:08d}", "SOS", f"b{n}", datetime.now(UTC))
                )
                ref = handled.case_reference
                assert ref is not None, handled
                if ref in recorder.arrived:
                    arrived = recorder.arrived[ref]
                else:
                    future = asyncio.get_running_loop().create_future()
                    recorder.waiters[ref] = future
                    arrived = await asyncio.wait_for(future, timeout=30)
                latencies.append((arrived - started) * 1000)

        try:
            await asyncio.gather(*(one(n) for n in range(cases)))
        finally:
            stopping = True
            woken.set()
            await sending
            await db.dispose()
        return latencies


async def run_twilio(cases: int, concurrency: int) -> list[float]:
    """Latencies in milliseconds from the webhook POST to the alert reaching the fake Twilio."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.channels.twilio_sms import SMS_PATH, TwilioSmsChannel
    from bot.config import load_settings
    from tests.auxil import twilio_payloads as tp
    from tests.auxil.fake_twilio import FakeTwilio

    coordinators = {f"+35569222{i:04d}" for i in range(3)}
    waiters: dict[str, asyncio.Future[float]] = {}
    arrivals: dict[str, float] = {}

    class TimedTwilio(FakeTwilio):
        """The fake, noting when each alert's create request arrives."""

        async def _create(self, request: web.Request) -> web.Response:
            arrived = time.perf_counter()
            response = await super()._create(request)
            form = self.requests[-1].form
            if form.get("To") in coordinators:
                ref = form["Body"].split()[1]
                arrivals[ref] = arrived
                future = waiters.pop(ref, None)
                if future is not None and not future.done():
                    future.set_result(arrived)
            return response

    public = "https://helpline.example.org"
    with tempfile.TemporaryDirectory() as tmp:
        fake = TimedTwilio()
        await fake.start()
        write_flows(Path(tmp, "flows"))
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate.upgrade_async(url)
        db = Database(url, Crypto(KEYS, "bench-secret"))
        flows = FlowLibrary(Path(tmp, "flows"))
        assert flows.reload().ok
        now = datetime.now(UTC)
        async with db.uow() as uow:
            for phone in sorted(coordinators):
                c = await uow.coordinators.add(
                    name="Bench", municipality="national", phone=phone, telegram_chat_id=None,
                    language="sq", role="coordinator", now=now,
                )  # fmt: skip
                await uow.coordinators.add_shift(c.id, kind="always", tz="Europe/Tirane", now=now)
            await uow.commit()
        settings = load_settings(
            env={
                "HELPLINE_VAR_DIR": tmp,
                "HELPLINE_PUBLIC_URL": public,
                "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
                "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
                "HELPLINE_TWILIO_API_URL": fake.url,
                "HELPLINE_DATA_KEYS": KEYS[0],
                "HELPLINE_SECRET_KEY": "bench-secret",
            }
        )
        woken = asyncio.Event()
        pipeline = Pipeline(
            db, flows, Ids(), places=[Place("tirane", "Tiranë", "AL", ("tirane",))],
            numbers=NUMBERS, clock=lambda: datetime.now(UTC), on_commit=woken.set,
            referral=Referral(Ids()),
        )  # fmt: skip
        channel = TwilioSmsChannel(
            settings,
            receive=pipeline.receive,
            on_status=pipeline.record_status,
            on_opt_out=pipeline.set_opt_out,
        )
        sender = OutboxSender(
            db, {"sms": channel}, lambda: datetime.now(UTC), batch=100, pacer=Pacer.off()
        )
        app = web.Application()
        app.add_routes(channel.routes())
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        await channel.start()
        stopping = False

        async def send_loop() -> None:
            while not stopping:
                woken.clear()
                if await sender.drain_once():
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), 1.0)

        sending = asyncio.create_task(send_loop())
        latencies: list[float] = []
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with gate:
                form = tp.inbound_sms(f"+3556{n:08d}", "SOS")
                headers = tp.signed_headers(public + SMS_PATH, form)
                started = time.perf_counter()
                async with client.post(SMS_PATH, data=form, headers=headers) as resp:
                    assert resp.status == 200
                async with db.uow() as uow:  # which case this webhook opened
                    contact = await uow.contacts.find_by_urn(f"tel:+3556{n:08d}")
                    case = await uow.cases.open_for_contact(contact.id)
                if case.reference in arrivals:
                    arrived = arrivals[case.reference]
                else:  # not sent yet: wait for it
                    future = asyncio.get_running_loop().create_future()
                    waiters[case.reference] = future
                    arrived = await asyncio.wait_for(future, timeout=30)
                latencies.append((arrived - started) * 1000)

        try:
            await asyncio.gather(*(one(n) for n in range(cases)))
        finally:
            stopping = True
            woken.set()
            await sending
            await channel.stop()
            await client.close()
            await fake.stop()
            await db.dispose()
        return latencies


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    """Run and print p50/p99 per concurrency level."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--path", nargs="+", choices=["channel", "twilio"], default=["channel"])
    args = parser.parse_args()
    for path in args.path:
        for level in args.concurrency:
            started = time.perf_counter()
            got = asyncio.run((run if path == "channel" else run_twilio)(args.cases, level))
            took = time.perf_counter() - started
            print(
                f"{path}: SQLite, {len(got)} urgent cases, {level} at a time: "
                f"p50 {percentile(got, 50):.1f} ms, p99 {percentile(got, 99):.1f} ms, "
                f"max {max(got):.1f} ms, mean {statistics.mean(got):.1f} ms ({took:.1f} s)"
            )


if __name__ == "__main__":
    main()
