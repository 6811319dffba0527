"""Instructions a message, counted by valgrind's callgrind: the hot path's CPU, free of noise.

    .venv/bin/python bench/instructions.py [--rounds 19 57]
    .venv/bin/python bench/instructions.py --webhooks [--bare] [--requests 20 80]
    .venv/bin/python bench/instructions.py --sends [--requests 100 400]

Why: on a shared 2-core machine the CPU times of bench/load.py and bench/hot_path.py move by
10-20 % between runs of the same code, so a change worth a few percent cannot be told from the
noise. callgrind counts the instructions the process executes (for the same code, inputs and
environment, whatever else runs; the hash seed is fixed at 0 unless PYTHONHASHSEED says
otherwise), about 50 times slower. Runs of the same commit have still differed by a few percent:
take before and after side by side, more than once when the difference is small. The work is
hot_path's "16 people at once" (SQLite, group commit, receive and send, no HTTP): run twice,
with few and with many rounds; the difference over the extra messages is the count a message,
start-up and imports cancelled out. It needs Debian's valgrind (`apt-get install valgrind`); a
run takes a few minutes.

`--webhooks` counts the web side instead: signed SMS webhooks and Telegram webhooks (each from a
new person, her first message) posted on one client session to the real app (build_app on
SQLite, the fake providers of tests/auxil behind it, its outbox sender stopped so replies are
not sent) in the same process. Three runs: few of both, many SMS, many Telegram; each posts a
warm-up of both kinds first, so first-call costs (lazy imports, compiled statements) are in
every run. `--bare` posts the same requests to bench/load.py's bare aiohttp handler (reads the
body, answers at once): the least a request costs on this stack.

`--sends` counts a reply's send instead, the client's side alone: the real channels' send()
(TwilioSmsChannel's form POST, TelegramChannel's sendMessage, each answer read and interpreted)
to the fakes of tests/auxil, which run in a child process that callgrind does not follow (as
bench/sends.py does). Three runs: few of both, many SMS, many Telegram, each after a warm-up of
both kinds. Neither of the other modes counts a send: the in-process run's channel does
nothing, and --webhooks stops the sender.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOGETHER = 16
WARM_UP = 10  # requests of each kind before the counted ones
WARM_SENDS = 50  # sends of each kind before the counted ones (--sends)


def steady() -> None:
    """What runs by the clock, off for the count: the same work whatever the machine's load.

    Under callgrind a round takes ~50 times its time, and more on a busy machine: a pooled
    connection idle PING_IDLE_SECONDS was pinged and handed back to the pool, the outbox gauge
    ran every STATS_INTERVAL, and the WAL checkpoint's thread copied whatever had piled up when
    it got its turn. The same commit counted 3,370,282 on a quiet machine and 3,142,559 beside
    the test suite. Here no connection is pinged, the gauge runs once in both runs, and the WAL
    is checkpointed once, when the database is closed: its pages are still counted."""
    from bot import outbox
    from bot.store import db

    db.PING_IDLE_SECONDS = float("inf")
    db.CHECKPOINT_COMMITS = 10**9
    outbox.STATS_INTERVAL = float("inf")


async def work(rounds: int) -> None:
    """`rounds` times: the same conversation step for 16 people at once, then the sender."""
    sys.path.insert(0, str(HERE))
    import hot_path

    logging.disable(logging.CRITICAL)
    steady()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/instructions.db"
        await hot_path.migrate.upgrade_async(url)
        db = hot_path.Database(url, hot_path.Crypto(hot_path.KEYS, hot_path.SECRET))
        harness = await hot_path.Harness(db).start()
        # As the server after its start-up (bot/app.py refreeze_heap): full collections walk
        # only what the messages made, not the start-up's ~180,000 objects (~0.1 s each, which
        # fell in the few rounds' run or the many's by how the allocations went).
        gc.collect()
        gc.freeze()
        for i in range(rounds):
            await hot_path.receive_together(harness, i, TOGETHER)
            while await harness.sender.drain_once():
                pass
        await db.dispose()


async def warmed_then_counted(warm: int, *kinds: tuple[Callable[[], Awaitable[None]], int]) -> None:
    """Each kind `warm` times in turn, the heap frozen, then each kind its own count."""
    for _ in range(warm):
        for one, _count in kinds:
            await one()
    gc.collect()  # as in work(): the start-up's heap out of the collector's way
    gc.freeze()
    for one, count in kinds:
        for _ in range(count):
            await one()


async def webhooks(sms: int, telegram: int, *, bare: bool) -> None:
    """Post WARM_UP of each kind, then `sms` signed SMS and `telegram` Telegram webhooks."""
    sys.path.insert(0, str(HERE.parent))
    import json

    from aiohttp.test_utils import TestClient, TestServer

    from bench import load
    from bot.app import build_app
    from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
    from bot.channels.twilio_sms import SMS_PATH
    from bot.config import load_settings
    from bot.store import migrate
    from bot.web.keys import SENDER
    from tests.auxil import telegram_payloads as tgp
    from tests.auxil import twilio_payloads as smsp
    from tests.auxil.channels_app import fakes

    logging.disable(logging.CRITICAL)
    # The clock-driven work off here too, as in work(). It did not make runs agree: the same
    # commit's SMS webhook counted 4,624,104 and 4,574,123 (1.1 %) with it off, 4,642,533 and
    # 4,623,732 before; Telegram's moved by 0.4 %. Take pairs side by side, more than one.
    steady()
    with tempfile.TemporaryDirectory() as tmp:
        async with fakes() as (twilio, tg):
            url = f"sqlite+aiosqlite:///{tmp}/webhooks.db"
            env = load.server_env(url, tmp, twilio.url, tg.url)
            # Nothing on a timer during the count: sweeps and elections would land in one run
            # and not in the other.
            env |= {"HELPLINE_SWEEP_INTERVAL": "PT1H", "HELPLINE_LEADER_RETRY": "PT1H"}
            if bare:
                app = load.bare_app()
            else:
                await migrate.upgrade_async(url)
                app = build_app(load_settings(env=env))
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                if not bare:
                    app[SENDER].stop()  # the request path only: replies stay in the outbox
                people = iter(range(10**6))

                async def post_sms() -> None:
                    n = next(people)
                    form = smsp.inbound_sms(
                        f"+3556920{n:05d}", "pershendetje", message_sid=f"SM{n:032x}"
                    )
                    headers = smsp.signed_headers(load.PUBLIC + SMS_PATH, form)
                    async with client.post(SMS_PATH, data=form, headers=headers) as resp:
                        assert resp.status == 200, resp.status
                        await resp.read()

                async def post_telegram() -> None:
                    n = next(people)
                    update = tgp.text(n, "pershendetje", chat_id=5_550_000_000 + n)
                    headers = {"Content-Type": "application/json", SECRET_HEADER: load.TG_SECRET}
                    body = json.dumps(update)
                    async with client.post(WEBHOOK_PATH, data=body, headers=headers) as resp:
                        assert resp.status == 200, resp.status
                        await resp.read()

                await warmed_then_counted(WARM_UP, (post_sms, sms), (post_telegram, telegram))


def run_sends(sms: int, telegram: int) -> None:
    """The fakes in a child process (not counted: callgrind does not follow it), then sends."""
    sys.path.insert(0, str(HERE.parent))
    import json

    from bench import sends as bench_sends

    fakes = subprocess.Popen(
        [sys.executable, "-c", bench_sends.FAKES, str(HERE.parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fakes.stdout is not None
        urls = json.loads(fakes.stdout.readline())
        asyncio.run(sends(urls, sms, telegram))
    finally:
        fakes.terminate()
        fakes.wait()


async def sends(urls: list[str], sms: int, telegram: int) -> None:
    """Send WARM_SENDS of each kind, then `sms` SMS and `telegram` Telegram replies."""
    from bench.hot_path import started_channels
    from bench.load import server_env
    from bench.sends import TEXT
    from bot.config import load_settings
    from bot.messages import Outbound

    logging.disable(logging.CRITICAL)
    twilio_url, telegram_url = urls
    with tempfile.TemporaryDirectory() as tmp:
        # No database is opened: the channels only send.
        env = server_env(f"sqlite+aiosqlite:///{tmp}/unused.db", tmp, twilio_url, telegram_url)
        sms_channel, tg_channel = await started_channels(load_settings(env=env))
        people = iter(range(10**6))

        async def send_sms() -> None:
            n = next(people)
            result = await sms_channel.send(Outbound(n, "sms", f"tel:+35569{n:07d}", TEXT))
            assert result.ok, result

        async def send_telegram() -> None:
            n = next(people)
            chat = f"telegram:{6_000_000_000 + n}"
            result = await tg_channel.send(Outbound(n, "telegram", chat, TEXT))
            assert result.ok, result

        try:
            await warmed_then_counted(WARM_SENDS, (send_sms, sms), (send_telegram, telegram))
        finally:
            await sms_channel.stop()
            await tg_channel.stop()


def counted(arguments: list[str], out: Path) -> int:
    """Instructions of a whole run of this script with `arguments` under callgrind."""
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            *arguments,
        ],
        check=True,
        capture_output=True,
        # Sets of strings iterate in the hash seed's order, and the understanding layer loops
        # over them: one reason the same commit counted 3,688,817 and then 3,828,439 (+3.8 %)
        # with a random seed. Timing (which messages share a batch) may move it too, so compare
        # counts taken side by side.
        env={**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")},
    )
    found = re.search(r"^summary: (\d+)$", out.read_text(), re.MULTILINE)
    assert found is not None, "callgrind wrote no summary"
    return int(found.group(1))


def count_pairs(what: list[str], few: int, many: int) -> tuple[int, int, int]:
    """Three runs of `what` followed by two counts (SMS, Telegram): few of both, many SMS, many
    Telegram; their totals."""
    with tempfile.TemporaryDirectory() as tmp:
        base = counted([*what, str(few), str(few)], Path(tmp) / "few.out")
        sms = counted([*what, str(many), str(few)], Path(tmp) / "sms.out")
        telegram = counted([*what, str(few), str(many)], Path(tmp) / "telegram.out")
    return base, sms, telegram


def count_webhooks(few: int, many: int, *, bare: bool) -> None:
    """Instructions a request for each kind of webhook: three runs, the differences."""
    what = ["--bare"] if bare else []
    base, sms, telegram = count_pairs([*what, "--posts"], few, many)
    server = "bare aiohttp" if bare else "the helpline, sqlite"
    for name, total in (("SMS", sms), ("Telegram", telegram)):
        each = (total - base) / (many - few)
        extra = many - few
        print(f"instructions a {name} webhook request: {each:,.0f} ({extra} requests; {server})")


def count_sends(few: int, many: int) -> None:
    """Instructions a send for each channel (the client's side): three runs, the differences."""
    base, sms, telegram = count_pairs(["--send-runs"], few, many)
    for name, total in (("Twilio SMS", sms), ("Telegram", telegram)):
        each = (total - base) / (many - few)
        print(f"instructions a {name} send: {each:,.0f} ({many - few} sends; fakes in a child)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # FEW covers SQ_HIGH_RISK's 19 steps and MANY adds two whole conversations: with 10 and 40,
    # the extra rounds' count included compiling nine steps' statements (which a server that has
    # run a while did long before) and a mix of steps that was not the conversation's.
    parser.add_argument("--rounds", type=int, nargs=2, default=[19, 57], metavar=("FEW", "MANY"))
    parser.add_argument("--webhooks", action="store_true", help="count webhook requests")
    parser.add_argument("--bare", action="store_true", help="with --webhooks: the bare handler")
    parser.add_argument("--sends", action="store_true", help="count sends (the client's side)")
    # Default: 20 and 80 webhook requests, 100 and 400 sends.
    parser.add_argument("--requests", type=int, nargs=2, metavar=("FEW", "MANY"))
    parser.add_argument("--work", type=int, help=argparse.SUPPRESS)  # the run callgrind counts
    parser.add_argument("--posts", type=int, nargs=2, help=argparse.SUPPRESS)  # sms, telegram
    parser.add_argument("--send-runs", type=int, nargs=2, help=argparse.SUPPRESS)  # the same
    args = parser.parse_args()
    from bot import eventloop

    asyncio.set_event_loop_policy(eventloop.policy(eventloop.chosen(os.environ)))  # serve's loop
    if args.work is not None:
        asyncio.run(work(args.work))
        return
    if args.posts is not None:
        asyncio.run(webhooks(*args.posts, bare=args.bare))
        return
    if args.send_runs is not None:
        run_sends(*args.send_runs)
        return
    if args.webhooks:
        count_webhooks(*(args.requests or (20, 80)), bare=args.bare)
        return
    if args.sends:
        count_sends(*(args.requests or (100, 400)))
        return
    few, many = args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        low = counted(["--work", str(few)], Path(tmp) / "few.out")
        high = counted(["--work", str(many)], Path(tmp) / "many.out")
    messages = (many - few) * TOGETHER
    print(f"instructions a message: {(high - low) / messages:,.0f} ({messages} messages; sqlite)")


if __name__ == "__main__":
    main()
