"""Load: simulated people talk to a real `helpline serve` by signed SMS and Telegram webhooks.

Starts the helpline as a real server process (`python -m bot serve`, optionally `--workers N`)
on a fresh SQLite file or PostgreSQL database, with the fake Twilio and Telegram servers of
tests/auxil in this process. N simulated people go through realistic conversations (the
Albanian high-risk screening, the English medium-risk one, some opening with a danger phrase),
half by SMS and half by Telegram, each sending the next message once the reply to the last has
reached the fake provider. Phases:

- saturation: every person talks as fast as answers come: inbound messages a second;
- paced: messages sent at a fixed rate (default half the saturation rate): webhook -> reply
  request at the fake provider (p50/p99) and urgent message -> coordinator's alert (p50/p99);
- bare: a bare aiohttp handler (same routes, reads the body, answers at once) in its own
  process, driven by the same generator; our saturation rate as a share of it;
- bare with replies: the same handler sending one reply a message to the fakes with plain
  aiohttp, the generator waiting for it as for ours: the ceiling of any helpline on this stack
  and machine, since it does the least one must (a request in, a request out).

Also the server's CPU seconds per message (from /proc, all worker processes), on PostgreSQL the
CPU of its backends serving the bench database and the transactions a message (pg_stat_database),
the messages a transaction (group commit, from /metrics), and peak memory.

`--server-cpus 0 --other-cpus 1` pins the helpline (every worker) and the bare server to the
first list of cores and this process (load generator, fakes) and PostgreSQL (the postmaster and
every backend; put back as they were afterwards) to the second, as `taskset -c` would: the
scaling of `--workers N` is then the helpline's, not the machine's.

    .venv/bin/python bench/load.py [--database sqlite|postgres] [--workers N] [--people 64]
                                   [--duration 15] [--rate R] [--no-bare]
                                   [--server-cpus LIST --other-cpus LIST]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402
from aiohttp import web  # noqa: E402

from bot import eventloop  # noqa: E402
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH  # noqa: E402
from bot.channels.twilio_sms import EMPTY_TWIML, SMS_PATH  # noqa: E402
from tests.auxil import telegram_payloads as tgp  # noqa: E402
from tests.auxil import twilio_payloads as smsp  # noqa: E402
from tests.auxil.fake_telegram import FakeTelegram  # noqa: E402
from tests.auxil.fake_twilio import FakeTwilio  # noqa: E402
from tests.auxil.server_process import ServerProcess, free_port, helpline  # noqa: E402

PUBLIC = "https://helpline.example.org"
TG_SECRET = "bench-webhook-secret"  # noqa: S105 - the fake's, for the bench only
KEYS = ("hkArhHvODLmz--tDrnBG7OkAiGdL7L3K9u37eCe6K1I=",)  # a throwaway key for the bench only
SECRET = "bench-secret"  # noqa: S105 - for the bench only
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
COORDINATORS = tuple(f"+35568200000{i}" for i in range(3))
REPLY_TIMEOUT = 15.0  # a reply later than this counts as missing; the person goes on
REF = re.compile(r"\b([A-Z]-[0-9A-Z]{4,})\b")

# What people write, as in tests/flows/test_dialogues.py (Albanian typed without diacritics).
SQ_HIGH_RISK = (
    "pershendetje", "shqip", "po", "jo", "per veten", "tirana", "jo", "joo", "po", "j", "jo",
    "jo", "2", "mire", "jo", "aspak", "strehim", "jo", "po",
)  # fmt: skip
EN_MEDIUM_RISK = (
    "hi", "English", "yes", "no", "1", "Pristina", "no", "no", "no", "no", "no", "yes", "no",
    "no", "no", "no", "nothing now", "no",
)  # fmt: skip
DANGER = {"sq": "ndihmoni, jam ne rrezik", "en": "I'm in danger"}


@dataclass
class Person:
    """One simulated person: an address on one channel and what they will write."""

    number: int
    channel: str  # sms | telegram
    script: tuple[str, ...]
    urgent: bool

    @property
    def address(self) -> str:
        """Where replies to them go: a phone number, or a Telegram chat id as text."""
        if self.channel == "sms":
            return f"+35569{self.number:07d}"
        return str(6_000_000_000 + self.number)

    @property
    def urn(self) -> str:
        """Their URN in the helpline."""
        prefix = "tel:" if self.channel == "sms" else "telegram:"
        return prefix + self.address


def person(number: int) -> Person:
    """The number-th person: channels, languages and urgency mixed in fixed proportions."""
    channel = "sms" if number % 2 == 0 else "telegram"
    language = "en" if number % 3 == 2 else "sq"
    urgent = number % 5 == 3  # one in five opens with a danger phrase, then says a little
    script = SQ_HIGH_RISK if language == "sq" else EN_MEDIUM_RISK
    if urgent:
        script = (DANGER[language], *script[:3])
    return Person(number, channel, script, urgent)


@dataclass
class Stats:
    """What one phase measured."""

    sent: int = 0  # webhooks answered 200 within the window
    replied: int = 0  # replies that reached the fake provider within the window
    missing: int = 0  # replies that never came
    errors: int = 0  # webhooks not answered 200
    latencies: list[float] = field(default_factory=list)  # ms, webhook sent -> reply request
    urgent_sent: dict[str, float] = field(default_factory=dict)  # urn -> when the danger went
    unanswered: list[str] = field(default_factory=list)  # channel:step:text of missing replies
    error_kinds: Counter[str] = field(default_factory=Counter)  # "channel status" of errors
    gc_longest: float = 0.0  # ms, the generator's longest garbage collection in the window

    def rate(self, seconds: float) -> float:
        """Inbound messages a second."""
        return self.sent / seconds if seconds else 0.0


class Generator:
    """Drives people against one server; the fakes tell it when replies arrive."""

    def __init__(self, base_url: str, *, wait_replies: bool) -> None:
        self.base_url = base_url
        self.wait_replies = wait_replies
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.extra = 0  # provider requests to people nobody was waiting for
        self.alerts: dict[str, float] = {}  # case reference -> first alert's arrival
        self.numbers = itertools.count()
        self.update_ids = itertools.count(1)
        self.stats = Stats()
        self.recording = False
        self.session: aiohttp.ClientSession | None = None
        self._gc_started = 0.0
        # The generator's own collections stop its loop, and a reply that arrives then is
        # timed late: each phase reports the longest, so a tail can be told from the server's.
        gc.callbacks.append(self._gc)

    def _gc(self, event: str, _info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if event == "start":
            self._gc_started = now
        elif self.recording:
            pause = (now - self._gc_started) * 1000
            self.stats.gc_longest = max(self.stats.gc_longest, pause)

    # -- what the fakes call --------------------------------------------------------------

    def arrived(self, address: str, text: str) -> None:
        """A request to send `text` to `address` reached a fake provider."""
        now = time.perf_counter()
        if address in COORDINATORS:
            match = REF.search(text)
            if match and match.group(1) not in self.alerts:
                self.alerts[match.group(1)] = now
            return
        future = self.waiting.pop(address, None)
        if future is None or future.done():
            self.extra += 1
            return
        future.set_result(now)

    # -- the people ---------------------------------------------------------------------------

    async def post(self, who: Person, text: str) -> int:
        """One signed webhook, as the provider sends it; retried on a broken connection."""
        assert self.session is not None
        if who.channel == "sms":
            form = smsp.inbound_sms(who.address, text)
            url, data = PUBLIC + SMS_PATH, form
            headers = smsp.signed_headers(url, form)
            path = SMS_PATH
        else:
            mid = next(self.update_ids)
            update = tgp.text(mid, text, message_id=mid, chat_id=int(who.address))
            data = json.dumps(update)
            headers = {"Content-Type": "application/json", SECRET_HEADER: TG_SECRET}
            path = WEBHOOK_PATH
        for attempt in range(3):
            try:
                async with self.session.post(self.base_url + path, data=data, headers=headers) as r:
                    await r.read()
                    return r.status
            except (aiohttp.ClientError, OSError):
                if attempt == 2:
                    raise
        return 0

    async def say(self, who: Person, text: str, first: bool) -> None:
        """Send one message and wait for its reply (or only the HTTP answer, for bare)."""
        stats = self.stats
        future: asyncio.Future[float] | None = None
        if self.wait_replies:
            future = asyncio.get_running_loop().create_future()
            self.waiting[who.address] = future
        started = time.perf_counter()
        recording = self.recording
        if recording and first and who.urgent:
            stats.urgent_sent[who.urn] = started
        try:
            status = await self.post(who, text)
        except (aiohttp.ClientError, OSError):
            status = 0
        if status != 200:
            self.waiting.pop(who.address, None)
            if recording:
                stats.errors += 1
                stats.error_kinds[f"{who.channel} {status}"] += 1
            return
        if recording and self.recording:
            stats.sent += 1
        if future is None:
            return
        try:
            arrived = await asyncio.wait_for(future, REPLY_TIMEOUT)
        except TimeoutError:
            self.waiting.pop(who.address, None)
            if recording:
                stats.missing += 1
                stats.unanswered.append(f"{who.channel}:{who.script.index(text)}:{text}")
            return
        if recording and self.recording:
            stats.replied += 1
            stats.latencies.append((arrived - started) * 1000)

    async def talk(self, stop: asyncio.Event, gate: Callable[[], Any] | None = None) -> None:
        """People one after another on this line, until `stop`; `gate` paces each message."""
        while not stop.is_set():
            who = person(next(self.numbers))
            for i, text in enumerate(who.script):
                if stop.is_set():
                    return
                if gate is not None:
                    await gate()
                    if stop.is_set():
                        return
                await self.say(who, text, i == 0)

    @contextlib.asynccontextmanager
    async def running(self, people: int) -> AsyncIterator[None]:
        """An HTTP session with one connection a person."""
        connector = aiohttp.TCPConnector(limit=people + 8, force_close=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            self.session = session
            yield
        self.session = None

    async def phase(
        self, people: int, seconds: float, *, rate: float | None = None, warmup: float = 0.0
    ) -> Stats:
        """Run `people` lines for warmup + seconds; returns what the measured window saw."""
        stop = asyncio.Event()
        gate = None
        if rate:
            tokens: asyncio.Queue[None] = asyncio.Queue()

            async def pace() -> None:
                # A ticket every 1/rate seconds, caught up in batches so timer jitter does
                # not lower the rate; tickets not taken (everyone waiting) are dropped.
                interval, start, issued = 1.0 / rate, time.perf_counter(), 0
                while not stop.is_set():
                    due = int((time.perf_counter() - start) / interval) + 1
                    for _ in range(due - issued):
                        if tokens.qsize() < people:
                            tokens.put_nowait(None)
                    issued = due
                    await asyncio.sleep(interval if interval > 0.002 else 0.002)

            async def gate() -> None:
                await tokens.get()

            pacer = asyncio.create_task(pace())
        lines = [asyncio.create_task(self.talk(stop, gate)) for _ in range(people)]
        await asyncio.sleep(warmup)
        # The generator's own full collections (55-71 ms with its loop stopped, seen with a
        # gc.callbacks probe) fell inside the latencies it measures: what the warm-up built
        # (the fakes, the sessions, the people) is frozen out of the collector's sight.
        gc.collect()
        gc.freeze()
        self.stats, self.recording = Stats(), True
        await asyncio.sleep(seconds)
        self.recording = False
        gc.unfreeze()
        stats = self.stats
        stop.set()
        if rate:
            pacer.cancel()
            for _ in range(people):
                tokens.put_nowait(None)
        await asyncio.gather(*lines, return_exceptions=True)
        return stats


class TimedTwilio(FakeTwilio):
    """The fake Twilio, telling the generator of each message it is asked to send."""

    generator: Generator | None = None

    async def _create(self, request: web.Request) -> web.Response:
        response = await super()._create(request)
        form = self.requests[-1].form
        self.requests.clear()  # memory stays flat over a long run
        self.messages.clear()
        if self.generator is not None and response.status == 201:
            self.generator.arrived(form.get("To", ""), form.get("Body", ""))
        return response


class TimedTelegram(FakeTelegram):
    """The fake Bot API, telling the generator of each sendMessage."""

    generator: Generator | None = None

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        response = await super()._send_message(params)
        self.calls.clear()
        self.messages.clear()
        if self.generator is not None and response.status == 200:
            self.generator.arrived(str(params.get("chat_id")), str(params.get("text", "")))
        return response


# -- the servers ---------------------------------------------------------------------------------


def bare_app(twilio_url: str | None = None, telegram_url: str | None = None) -> web.Application:
    """The bare aiohttp handler: the helpline's routes, reading the body, answering at once.

    Given the fakes' URLs it also sends one reply a message, as plainly as aiohttp can (a form
    POST to Twilio's Messages.json, a JSON sendMessage to the Bot API) after answering: the
    least any helpline on this stack does for a message, and so the ceiling of its rate here.
    """
    replies = twilio_url is not None and telegram_url is not None
    session: aiohttp.ClientSession | None = None
    tasks: set[asyncio.Task[None]] = set()

    def later(url: str, **options: Any) -> None:
        """POST in a task of its own: the webhook is answered first, as the helpline does."""

        async def go() -> None:
            assert session is not None
            async with session.post(url, **options) as resp:
                await resp.read()

        task = asyncio.create_task(go())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def sms(request: web.Request) -> web.Response:
        form = await request.post()
        if session is not None:
            later(
                f"{twilio_url}/2010-04-01/Accounts/{smsp.ACCOUNT_SID}/Messages.json",
                data={"To": form["From"], "From": smsp.HELPLINE_NUMBER, "Body": "ok"},
                auth=aiohttp.BasicAuth(smsp.ACCOUNT_SID, smsp.AUTH_TOKEN),
            )
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def telegram(request: web.Request) -> web.Response:
        body = await request.read()
        if session is not None:
            chat = json.loads(body)["message"]["chat"]["id"]
            later(
                f"{telegram_url}/bot{tgp.TOKEN}/sendMessage", json={"chat_id": chat, "text": "ok"}
            )
        return web.Response()

    async def client(_app: web.Application) -> AsyncIterator[None]:
        nonlocal session
        if replies:
            session = aiohttp.ClientSession()
        yield
        if session is not None:
            await session.close()

    app = web.Application()
    app.router.add_post(SMS_PATH, sms)
    app.router.add_post(WEBHOOK_PATH, telegram)
    app.cleanup_ctx.append(client)
    return app


def bare_main(port: int, twilio_url: str | None = None, telegram_url: str | None = None) -> None:
    """Serve bare_app on `port` until stopped."""
    web.run_app(
        bare_app(twilio_url, telegram_url),
        loop=eventloop.new_loop(eventloop.chosen(os.environ)),  # the helpline's loop
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=lambda *_: print("helpline serving on (bare)", flush=True),
    )


class BareProcess(ServerProcess):
    """The bare handler in its own process, started and stopped like the helpline."""

    replies_to: tuple[str, str] | None = None  # the fakes' URLs: send a reply a message

    async def start(self) -> BareProcess:
        extra: tuple[str, ...] = ()
        if self.replies_to is not None:
            extra = ("--bare-twilio", self.replies_to[0], "--bare-telegram", self.replies_to[1])
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--bare-server",
            str(self.port),
            *extra,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        async with asyncio.timeout(30):
            while b"serving on" not in (line := await self.proc.stdout.readline()):
                if not line:
                    raise RuntimeError("the bare server did not start")
        self._drain = asyncio.create_task(self._keep_reading())
        return self


def processes(pid: int) -> list[psutil.Process]:
    """A server process and its workers."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def postgres_processes() -> list[psutil.Process]:
    """The PostgreSQL server's processes on this machine (postmaster first), if any."""
    found = []
    for p in psutil.process_iter(["name", "ppid"]):
        if p.info["name"] == "postgres" and p.info["ppid"] == 1:  # the postmaster
            with contextlib.suppress(psutil.Error):
                found = [p, *p.children(recursive=True)]
                break
    return found


def backends(database: str) -> list[psutil.Process]:
    """PostgreSQL backends connected to `database` ("postgres: user database host state")."""
    found = []
    for p in postgres_processes()[1:]:
        with contextlib.suppress(psutil.Error):
            if f" {database} " in " ".join(p.cmdline()) + " ":
                found.append(p)
    return found


def reaped_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL backends that have ended (the postmaster's children's)."""
    server = postgres_processes()[:1]
    if not server:
        return 0.0
    with contextlib.suppress(psutil.Error):
        times = server[0].cpu_times()
        return times.children_user + times.children_system
    return 0.0


def cpus(spec: str | None) -> set[int]:
    """Cores from a taskset-style list: "0", "0,2", "0-3"."""
    out: set[int] = set()
    for part in (spec or "").split(","):
        if "-" in part:
            low, high = part.split("-")
            out.update(range(int(low), int(high) + 1))
        elif part.strip():
            out.add(int(part))
    return out


def pin(procs: list[psutil.Process], cores: set[int]) -> dict[int, list[int]]:
    """Pin processes to cores (sched_setaffinity); returns what they had, to put back."""
    before: dict[int, list[int]] = {}
    for p in procs:
        with contextlib.suppress(psutil.Error):
            before[p.pid] = p.cpu_affinity()
            p.cpu_affinity(sorted(cores))
    return before


def unpin(before: dict[int, list[int]]) -> None:
    """Give processes back the cores they had."""
    for pid, cores in before.items():
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).cpu_affinity(cores)


async def scrape_group_commit(url: str) -> tuple[float, float]:
    """(units, batches) committed so far by the inbound group commit, from /metrics."""
    units = batches = 0.0
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith("helpline_group_commit_units_") and 'name="receive"' in line:
                if line.startswith("helpline_group_commit_units_sum"):
                    units += float(line.rsplit(" ", 1)[1])
                elif line.startswith("helpline_group_commit_units_count"):
                    batches += float(line.rsplit(" ", 1)[1])
    return units, batches


async def transactions(database: str) -> float:
    """Transactions PostgreSQL counted in `database` so far (committed and rolled back)."""
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        # The statistics reach pg_stat_database within a second or so; over a phase of 15 s
        # that is noise, and the snapshot is cleared so each call sees the latest.
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
            database,
        )
    finally:
        await conn.close()
    return float(value or 0)


def cpu_seconds(procs: list[psutil.Process], kind: str = "both") -> float:
    """User and/or system CPU seconds of these processes so far."""
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += (t.user if kind != "system" else 0.0) + (t.system if kind != "user" else 0.0)
    return total


def peak_rss_mb(procs: list[psutil.Process]) -> tuple[float, float]:
    """(sum, largest) of the processes' peak resident memory (VmHWM), in MB."""
    peaks = []
    for p in procs:
        with contextlib.suppress(OSError, psutil.Error):
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return (sum(peaks), max(peaks)) if peaks else (0.0, 0.0)


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]


@contextlib.asynccontextmanager
async def database(kind: str, tmp: str) -> AsyncIterator[str]:
    """A fresh, migrated database URL; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
        helpline("db", "upgrade", env={"HELPLINE_DATABASE_URL": url, "HELPLINE_VAR_DIR": tmp})
        yield url
        return
    import asyncpg

    name = f"helpline_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        # PostgreSQL needs its keys set (the helpline refuses to make them up there).
        keys = {"HELPLINE_DATA_KEYS": ",".join(KEYS), "HELPLINE_SECRET_KEY": SECRET}
        helpline(
            "db", "upgrade", env={"HELPLINE_DATABASE_URL": url, "HELPLINE_VAR_DIR": tmp, **keys}
        )
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def server_env(url: str, var_dir: str, twilio_url: str, telegram_url: str) -> dict[str, str]:
    """The helpline's settings under the bench: its database, the fakes, throwaway keys."""
    return {
        "HELPLINE_DATABASE_URL": url,
        "HELPLINE_VAR_DIR": var_dir,
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_SECRET_KEY": SECRET,
        "HELPLINE_DATA_KEYS": ",".join(KEYS),
        "TWILIO_ACCOUNT_SID": smsp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": smsp.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": smsp.HELPLINE_NUMBER,
        "HELPLINE_TWILIO_API_URL": twilio_url,
        "TELEGRAM_BOT_TOKEN": tgp.TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "HELPLINE_TELEGRAM_API_URL": telegram_url,
        # The providers' rates are not what is measured here (see README).
        "HELPLINE_SMS_RATE": "0",
        "HELPLINE_TELEGRAM_RATE": "0",
    }


def add_coordinators(env: dict[str, str]) -> None:
    """Three coordinators always on national duty, paged by SMS."""
    for i, phone in enumerate(COORDINATORS):
        out = helpline(
            "coordinator", "add", "--name", f"Bench {i}", "--municipality", "national",
            "--phone", phone, "--lang", "sq", env=env,
        ).stdout  # fmt: skip
        helpline("duty", "add", out.strip().splitlines()[-1], "--always", env=env)


async def alert_latencies(url: str, generator: Generator, stats: Stats) -> list[float]:
    """Urgent message -> first alert of its case, in ms (cases looked up in the database)."""
    from bot.store.crypto import Crypto
    from bot.store.db import Database

    db = Database(url, Crypto(KEYS, SECRET))
    found: list[float] = []
    try:
        async with db.uow() as uow:
            for urn, sent in stats.urgent_sent.items():
                contact = await uow.contacts.find_by_urn(urn)
                case = await uow.cases.open_for_contact(contact.id) if contact else None
                if case is not None and case.reference in generator.alerts:
                    found.append((generator.alerts[case.reference] - sent) * 1000)
    finally:
        await db.dispose()
    return found


def describe(name: str, stats: Stats, seconds: float) -> str:
    """One line of figures for a phase."""
    lat = stats.latencies
    return (
        f"{name}: {stats.rate(seconds):.0f} inbound msg/s ({stats.sent} in {seconds:.0f} s), "
        f"reply p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms, "
        f"max {max(lat, default=0):.1f} ms; missing replies {stats.missing}, "
        f"errors {stats.errors}; generator's longest GC {stats.gc_longest:.1f} ms"
        + (f" (unanswered: {stats.unanswered[:5]})" if stats.missing else "")
        + (f" (errors: {dict(stats.error_kinds)})" if stats.errors else "")
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase; returns the figures (and prints them as they come)."""
    results: dict[str, Any] = {
        "database": args.database,
        "workers": args.workers,
        "people": args.people,
    }
    with tempfile.TemporaryDirectory() as tmp:
        twilio, telegram = TimedTwilio(), TimedTelegram()
        await twilio.start()
        await telegram.start()
        try:
            async with database(args.database, tmp) as url:
                env = server_env(url, tmp, twilio.url, telegram.url)
                add_coordinators(env)
                serve_args = ("--workers", str(args.workers)) if args.workers > 1 else ()
                server_cpus, other_cpus = cpus(args.server_cpus), cpus(args.other_cpus)
                pinned: dict[int, list[int]] = {}
                if server_cpus:  # the server (and the workers it forks) inherit these cores
                    os.sched_setaffinity(0, server_cpus)
                server = await ServerProcess(env, args=serve_args, ready=args.workers).start()
                try:
                    if server_cpus:
                        assert server.proc is not None
                        pin(processes(server.proc.pid), server_cpus)
                        os.sched_setaffinity(0, other_cpus or server_cpus)
                    if other_cpus and args.database == "postgres":
                        pinned = pin(postgres_processes(), other_cpus)
                    if server_cpus or other_cpus:
                        print(
                            f"  pinned: helpline to cores {sorted(server_cpus) or 'any'}, load "
                            f"generator{' and PostgreSQL' if pinned else ''} to "
                            f"{sorted(other_cpus) or 'any'}",
                            flush=True,
                        )
                    results.update(await measure(args, server, url, twilio, telegram))
                    args.saturation_rate = results.get("saturation_rate", 0.0)
                finally:
                    unpin(pinned)
                    await server.stop()
                    problems = [line for line in server.log().splitlines() if "ERROR" in line]
                    if problems:
                        saved = Path(tempfile.gettempdir(), "helpline-load-server.log")
                        saved.write_bytes(b"".join(server.output))  # noqa: ASYNC240 - at the end
                        print(f"  server errors: {len(problems)}, first: {problems[:3]}; {saved}")
            if args.bare:
                for replies in (False, True):
                    results.update(await bare_phase(args, twilio, telegram, replies))
        finally:
            await twilio.stop()
            await telegram.stop()
    return results


async def bare_phase(
    args: argparse.Namespace, twilio: TimedTwilio, telegram: TimedTelegram, replies: bool
) -> dict[str, Any]:
    """The bare handler driven like the helpline: answering only, or sending a reply too."""
    mine = os.sched_getaffinity(0)
    if args.server_cpus:  # the bare server on the helpline's cores, for a fair share
        os.sched_setaffinity(0, cpus(args.server_cpus))
    try:
        bare = BareProcess({}, port=free_port())
        if replies:
            bare.replies_to = (twilio.url, telegram.url)
        await bare.start()
    finally:
        os.sched_setaffinity(0, mine)
    out: dict[str, Any] = {}
    try:
        generator = Generator(bare.url, wait_replies=replies)
        twilio.generator = telegram.generator = generator
        async with generator.running(args.people):
            stats = await generator.phase(args.people, args.duration, warmup=args.warmup)
        rate = stats.rate(args.duration)
        key = "bare_reply" if replies else "bare"
        out[f"{key}_rate"] = rate
        out[f"{key}_missing"] = stats.missing
        out[f"ratio_{key}"] = ours = (
            args.saturation_rate / rate if rate and args.saturation_rate else 0.0
        )
        what = "bare aiohttp, answering and sending a reply" if replies else "bare aiohttp"
        print(f"{what}: {rate:.0f} msg/s (missing replies {stats.missing}); ours / it: {ours:.1%}")
    finally:
        await bare.stop()
    return out


async def measure(
    args: argparse.Namespace,
    server: ServerProcess,
    url: str,
    twilio: TimedTwilio,
    telegram: TimedTelegram,
) -> dict[str, Any]:
    """The saturation and paced phases against the running helpline."""
    assert server.proc is not None
    procs = processes(server.proc.pid)
    me = psutil.Process()
    out: dict[str, Any] = {}

    generator = Generator(server.url, wait_replies=True)
    twilio.generator = telegram.generator = generator
    async with generator.running(args.people):
        profiler = None
        if args.profile:
            # py-spy samples the server (every worker) through the saturation phase.
            profiler = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("py-spy")), "record",
                "--pid", str(server.proc.pid), "--subprocesses",
                "--duration", str(int(args.duration + args.warmup)), "--rate", "200",
                "--format", "raw", "--output", args.profile, "--nonblocking", "--gil",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        postgres = args.database == "postgres"
        dbname = url.rsplit("/", 1)[1]
        pg0 = {p.pid: cpu_seconds([p]) for p in backends(dbname)} if postgres else {}
        reaped0 = reaped_cpu_seconds() if postgres else 0.0
        tx0 = await transactions(dbname) if postgres else 0.0
        units0, batches0 = await scrape_group_commit(server.url)
        cpu0, own0, sys0 = cpu_seconds(procs), cpu_seconds([me]), cpu_seconds(procs, "system")
        sat = await generator.phase(args.people, args.duration, warmup=args.warmup)
        cpu1, own1, sys1 = cpu_seconds(procs), cpu_seconds([me]), cpu_seconds(procs, "system")
        units1, batches1 = await scrape_group_commit(server.url)
        if postgres:
            # Backends still open, plus those that ended in the phase: the pool closes the
            # connections it opened beyond its size as they come back, and their CPU is then the
            # postmaster's children's (which also counts other databases' backends that ended:
            # read it on a quiet machine).
            pg1 = {p.pid: cpu_seconds([p]) for p in backends(dbname)}
            pg_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items() if pid in pg0)
            pg_cpu += sum(v for pid, v in pg1.items() if pid not in pg0)
            pg_cpu += reaped_cpu_seconds() - reaped0
            out["postgres_backends"] = len(pg1)
            tx1 = await transactions(dbname)
        print(describe("saturation", sat, args.duration), flush=True)
        if profiler is not None:
            await profiler.wait()
            print(f"  profile (py-spy, collapsed stacks): {args.profile}", flush=True)
        out["saturation_rate"] = sat.rate(args.duration)
        out["saturation_p50"] = percentile(sat.latencies, 50)
        out["saturation_p99"] = percentile(sat.latencies, 99)
        # The window is a slice of a longer run: CPU over the whole phase, messages likewise.
        total = sat.sent * (args.duration + args.warmup) / args.duration
        out["cpu_ms_per_msg"] = (cpu1 - cpu0) / total * 1000 if total else 0.0
        out["cpu_system_share"] = (sys1 - sys0) / (cpu1 - cpu0) if cpu1 > cpu0 else 0.0
        out["generator_cpu_ms_per_msg"] = (own1 - own0) / total * 1000 if total else 0.0
        inbound = units1 - units0
        out["messages_per_commit"] = inbound / (batches1 - batches0) if batches1 > batches0 else 0
        if postgres:
            out["postgres_cpu_ms_per_msg"] = pg_cpu / total * 1000 if total else 0.0
            out["transactions_per_msg"] = (tx1 - tx0) / inbound if inbound else 0.0
        sat_alerts = await alert_latencies(url, generator, sat)
        print(
            f"  server CPU {out['cpu_ms_per_msg']:.2f} ms/msg "
            f"({out['cpu_system_share']:.0%} in the kernel); this process (load generator "
            f"and fakes) {out['generator_cpu_ms_per_msg']:.2f} ms/msg; alerts under "
            f"saturation: {len(sat_alerts)}, p50 {percentile(sat_alerts, 50):.1f} ms, "
            f"p99 {percentile(sat_alerts, 99):.1f} ms",
            flush=True,
        )
        print(
            f"  inbound messages a transaction (group commit): {out['messages_per_commit']:.1f}"
            + (
                f"; PostgreSQL backends' CPU {out['postgres_cpu_ms_per_msg']:.2f} ms/msg "
                f"({out['postgres_backends']} backends; server "
                f"and backends {out['cpu_ms_per_msg'] + out['postgres_cpu_ms_per_msg']:.2f}), "
                f"{out['transactions_per_msg']:.2f} transactions a message (all of them: "
                "intake, sender, sweeps)"
                if postgres
                else ""
            ),
            flush=True,
        )

        rate = args.rate or max(1.0, round(out["saturation_rate"] / 2))
        paced = await generator.phase(args.people, args.duration, rate=rate, warmup=args.warmup)
        alerts = await alert_latencies(url, generator, paced)
        print(describe(f"paced at {rate:.0f}/s", paced, args.duration), flush=True)
        print(
            f"  urgent alerts: {len(alerts)} of {len(paced.urgent_sent)}, "
            f"p50 {percentile(alerts, 50):.1f} ms, p99 {percentile(alerts, 99):.1f} ms, "
            f"max {max(alerts, default=0):.1f} ms",
            flush=True,
        )
        out.update(
            paced_rate_target=rate,
            paced_rate=paced.rate(args.duration),
            paced_p50=percentile(paced.latencies, 50),
            paced_p99=percentile(paced.latencies, 99),
            alert_p50=percentile(alerts, 50),
            alert_p99=percentile(alerts, 99),
            alerts=len(alerts),
            missing=sat.missing + paced.missing,
            errors=sat.errors + paced.errors,
        )
    total_mb, largest_mb = peak_rss_mb(procs)
    out["peak_rss_mb"], out["peak_rss_largest_mb"] = total_mb, largest_mb
    print(
        f"  peak memory: {total_mb:.0f} MB over {len(procs)} process(es), largest "
        f"{largest_mb:.0f} MB; extra provider requests {generator.extra}",
        flush=True,
    )
    return out


def main() -> None:
    """Parse options, run, print a summary (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--people", type=int, default=64, help="people talking at once")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured a phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--rate", type=float, help="paced phase: messages a second")
    parser.add_argument("--no-bare", dest="bare", action="store_false")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--profile", help="py-spy the server during saturation, to this file")
    parser.add_argument("--server-cpus", help="pin the helpline to these cores (taskset list)")
    parser.add_argument(
        "--other-cpus", help="pin this process and PostgreSQL to these cores (taskset list)"
    )
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare-twilio", help=argparse.SUPPRESS)
    parser.set_defaults(saturation_rate=0.0)
    parser.add_argument("--bare-telegram", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_main(args.bare_server, args.bare_twilio, args.bare_telegram)
        return
    print(
        f"helpline load: {args.database}, {args.workers} worker(s), {args.people} people, "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    started = time.perf_counter()
    results = asyncio.run(run(args))
    results["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
