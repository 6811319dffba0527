"""Where one message's CPU goes: the hot path taken apart, one piece at a time, in one process.

Pieces, each run sequentially (no contention) and timed in CPU seconds of this process:
- `receive`: Pipeline.receive of a realistic conversation (the transaction: dedupe, contact,
  message, session, engine, outbox rows, commit), SQL statements counted;
- `sender`: OutboxSender passes sending those replies through a channel that does nothing
  (claim, mark sent), SQL statements counted;
- `statement`: one indexed SELECT through the unit of work (the price of one round trip), and
  the same SELECT prebuilt on the driver (bot/store/driver.py);
- `twilio` / `telegram`: the real channels' send() to the local fakes (one aiohttp POST each; the
  SDKs read the answers);
- `webhook`: the real channels' webhook handlers (signature check, parsing) with a receive that
  does nothing, through aiohttp's test client;
- `understanding`: reading the messages of tests/understanding/corpus.jsonl (its first four
  rounds, fixed since 2026-12-03, so that commits compare) as the engine does
  (a first message: the engine's whole first turn with language and danger; an answer: the
  question's router; any message: the global keywords), per kind, plus the keywords and the
  language detector alone.

    .venv/bin/python bench/hot_path.py [--database sqlite|postgres] [--messages 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.load import KEYS, PG_ADMIN, PUBLIC, SECRET, SQ_HIGH_RISK, TG_SECRET  # noqa: E402
from bot import eventloop  # noqa: E402
from bot.messages import Outbound  # noqa: E402
from bot.store import driver, migrate  # noqa: E402
from bot.store.crypto import Crypto  # noqa: E402
from bot.store.db import Database  # noqa: E402
from tests.pipeline_harness import Harness  # noqa: E402


async def cpu_ms(count: int, work: Callable[[int], Awaitable[Any]]) -> float:
    """CPU milliseconds of this process per call of work(i), for i in range(count)."""
    started = time.process_time()
    for i in range(count):
        await work(i)
    return (time.process_time() - started) / count * 1000


async def nothing(*_args: Any) -> None:
    """A channel's inbound side: nothing to do when only sends are measured."""
    return None


async def started_channels(settings: Any) -> tuple[Any, Any]:
    """The real SMS and Telegram channels, as `settings` point them, started, sending only."""
    from bot.channels.telegram import TelegramChannel
    from bot.channels.twilio_sms import TwilioSmsChannel

    sms = TwilioSmsChannel(settings, receive=nothing, on_status=nothing, on_opt_out=nothing)
    tg = TelegramChannel(settings, receive=nothing)
    await sms.start()
    await tg.start()
    return sms, tg


async def receive_together(harness: Harness, i: int, together: int) -> None:
    """Round i: the same step of SQ_HIGH_RISK for `together` people at once (group commit)."""
    assert harness.pipeline is not None
    person0, step = divmod(i, len(SQ_HIGH_RISK))
    batch = [
        harness.inbound(
            SQ_HIGH_RISK[step], urn=f"tel:+35568{(person0 * together + k):07d}", channel="sms"
        )
        for k in range(together)
    ]
    await asyncio.gather(*(harness.pipeline.receive(m) for m in batch))


async def store_pieces(url: str, messages: int) -> dict[str, float]:
    """receive, sender and statement, with SQL statements counted per message."""
    db = Database(url, Crypto(KEYS, SECRET))
    harness = await Harness(db).start()
    statements: Counter[str] = Counter()
    phase = ["setup"]
    # Statements bot/store/driver.py runs on the driver skip SQLAlchemy's events: counted there.
    driver_seen = [driver.executed]

    def enter(name: str) -> None:
        statements[phase[0]] += driver.executed - driver_seen[0]
        driver_seen[0] = driver.executed
        phase[0] = name

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        statements[phase[0]] += 1

    pipeline = harness.pipeline
    assert pipeline is not None
    script = SQ_HIGH_RISK

    async def receive(i: int) -> None:
        person, step = divmod(i, len(script))
        inbound = harness.inbound(script[step], urn=f"tel:+35569{person:07d}", channel="sms")
        await pipeline.receive(inbound)

    async def send(_i: int) -> None:
        await harness.sender.drain_once()  # one reply due each time: one claim, one send

    out: dict[str, float] = {}
    receive_ms = send_ms = 0.0
    for i in range(messages):  # interleaved, as in the server: one reply due per pass
        enter("receive")
        receive_ms += await cpu_ms(1, lambda _n, i=i: receive(i))
        enter("sender")
        send_ms += await cpu_ms(1, send)
    out["receive"] = receive_ms / messages
    out["sender"] = send_ms / messages
    enter("setup")
    out["receive_statements"] = statements["receive"] / messages
    out["sender_statements"] = statements["sender"] / messages

    # Group commit: the same conversation step for `together` people at once, as under load.
    together = 16
    commits = Counter[str]()

    @event.listens_for(db.engine.sync_engine, "commit")
    def _commit(*_args: Any) -> None:
        commits[phase[0]] += 1

    enter("grouped")
    rounds = max(1, messages // together)
    started = time.process_time()
    for i in range(rounds):
        await receive_together(harness, i, together)
        enter("grouped_sender")
        while await harness.sender.drain_once():
            pass
        enter("grouped")
    enter("setup")
    out["grouped"] = (time.process_time() - started) / (rounds * together) * 1000
    out["grouped_statements"] = statements["grouped"] / (rounds * together)
    out["grouped_commits"] = commits["grouped"] / (rounds * together)
    out["grouped_sender_statements"] = statements["grouped_sender"] / (rounds * together)
    out["together"] = together

    enter("statement")
    async with db.uow() as uow:
        lookup = sa.text("SELECT id FROM contacts WHERE urn_hash = :h")

        async def one(i: int) -> None:
            await uow.conn.execute(lookup, {"h": f"{i:064x}"})

        out["statement"] = await cpu_ms(messages, one)
        contacts = sa.table("contacts", sa.column("id"), sa.column("urn_hash"))
        prepared = driver.Prepared(
            sa.select(contacts.c.id).where(contacts.c.urn_hash == sa.bindparam("h"))
        )

        async def one_on_driver(i: int) -> None:
            await prepared.rows(uow.conn, {"h": f"{i:064x}"})

        out["statement_driver"] = await cpu_ms(messages, one_on_driver)
    await db.dispose()
    return out


async def channel_pieces(messages: int, tmp: str) -> dict[str, float]:
    """The real channels' send() and webhook handlers against the local fakes."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
    from bot.channels.twilio_sms import SMS_PATH
    from bot.config import load_settings
    from tests.auxil import telegram_payloads as tgp
    from tests.auxil import twilio_payloads as smsp
    from tests.auxil.fake_telegram import FakeTelegram
    from tests.auxil.fake_twilio import FakeTwilio

    twilio, telegram = FakeTwilio(), FakeTelegram()
    await twilio.start()
    await telegram.start()
    settings = load_settings(
        env={
            "HELPLINE_VAR_DIR": tmp,
            "HELPLINE_PUBLIC_URL": PUBLIC,
            "HELPLINE_DATA_KEYS": KEYS[0],
            "HELPLINE_SECRET_KEY": SECRET,
            "TWILIO_ACCOUNT_SID": smsp.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": smsp.AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": smsp.HELPLINE_NUMBER,
            "HELPLINE_TWILIO_API_URL": twilio.url,
            "TELEGRAM_BOT_TOKEN": tgp.TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "HELPLINE_TELEGRAM_API_URL": telegram.url,
        }
    )

    sms, tg = await started_channels(settings)
    out: dict[str, float] = {}
    text = "Faleminderit. A jeni në rrezik tani?\n1. Po\n2. Jo"
    # The fakes run in this process too, and their serving is counted with the send:
    # bench/sends.py counts the client's side alone (the fakes in another process).
    out["twilio"] = await cpu_ms(
        messages,
        lambda i: sms.send(Outbound(i, "sms", f"tel:+35569{i:07d}", text)),
    )
    out["telegram"] = await cpu_ms(
        messages,
        lambda i: tg.send(Outbound(i, "telegram", f"telegram:{6_000_000_000 + i}", text)),
    )
    app = web.Application()
    app.add_routes(sms.routes() + tg.routes())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()

    async def sms_webhook(i: int) -> None:
        form = smsp.inbound_sms(f"+35569{i:07d}", "po")
        headers = smsp.signed_headers(PUBLIC + SMS_PATH, form)
        async with client.post(SMS_PATH, data=form, headers=headers) as resp:
            assert resp.status == 200

    async def tg_webhook(i: int) -> None:
        update = tgp.text(i + 1, "po", message_id=i + 1, chat_id=6_000_000_000 + i)
        headers = {SECRET_HEADER: TG_SECRET}
        async with client.post(WEBHOOK_PATH, json=update, headers=headers) as resp:
            assert resp.status == 200

    out["webhook_sms"] = await cpu_ms(messages, sms_webhook)
    out["webhook_telegram"] = await cpu_ms(messages, tg_webhook)
    await client.close()
    await sms.stop()
    await tg.stop()
    await twilio.stop()
    await telegram.stop()
    return out


# The understanding figures that are not one kind of question (kept under these names in --json).
SUMMED = frozenset({"all", "keywords", "lingua"})

# The understanding corpus's rounds the bench reads (1,150 cases).
FIXED_ROUNDS = frozenset({"c1", "c2", "c3", "c4"})


def understanding_pieces(rounds: int) -> dict[str, float]:
    """CPU ms per message of the understanding layer, per kind of question, after a warm-up."""
    from bot.engine.keywords import detect_all
    from bot.language import identify
    from bot.understanding_cli import Reader, load_cases

    reader = Reader.shipped()
    # The corpus's first four rounds only: it grows every round, and a bench that read more
    # cases (harder ones, as found) would not compare across commits.
    cases = [
        c
        for c in load_cases(ROOT / "tests" / "understanding" / "corpus.jsonl")
        if c["id"].split("-")[0] in FIXED_ROUNDS
    ]
    for case in cases:  # warm-up: the detector's models, the lexicon's caches
        reader.read(case["ask"], case["text"], case.get("options"))
    out: dict[str, float] = {}
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        by_kind.setdefault(case["ask"], []).append(case)
    started = time.process_time()
    for _ in range(rounds):
        for kind, group in by_kind.items():
            t0 = time.process_time()
            for case in group:
                reader.read(kind, case["text"], case.get("options"))
            out[kind] = out.get(kind, 0.0) + time.process_time() - t0
    total = time.process_time() - started
    for kind, group in by_kind.items():
        out[kind] = out[kind] / (rounds * len(group)) * 1000
    out["all"] = total / (rounds * len(cases)) * 1000
    texts = [c["text"] for c in cases]
    t0 = time.process_time()
    for _ in range(rounds):
        for text in texts:
            detect_all(text, reader.env.keywords)
    out["keywords"] = (time.process_time() - t0) / (rounds * len(texts)) * 1000
    t0 = time.process_time()
    for _ in range(rounds):
        for text in texts:
            identify(text)
    out["lingua"] = (time.process_time() - t0) / (rounds * len(texts)) * 1000
    return out


async def main_async(args: argparse.Namespace) -> None:
    """Run every piece and print the table."""
    with tempfile.TemporaryDirectory() as tmp:
        name = None
        if args.database == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp}/hot.db"
        else:
            import asyncpg

            name = f"helpline_hot_{secrets.token_hex(4)}"
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'CREATE DATABASE "{name}"')
            url = "postgresql+asyncpg://" + PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0]
            url += f"/{name}"
        try:
            await migrate.upgrade_async(url)
            store = await store_pieces(url, args.messages)
        finally:
            if name is not None:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
        channels = await channel_pieces(args.messages, tmp)
    print(f"hot path, {args.database}, CPU ms of this process per message (sequential):")
    print(
        f"  receive transaction  {store['receive']:6.2f} ms  "
        f"({store['receive_statements']:.1f} SQL statements)"
    )
    print(
        f"  sender pass          {store['sender']:6.2f} ms  "
        f"({store['sender_statements']:.1f} SQL statements, channel doing nothing)"
    )
    print(
        f"  {store['together']} people at once  {store['grouped']:6.2f} ms  (receive and send, "
        f"group commit: {store['grouped_statements']:.1f} + "
        f"{store['grouped_sender_statements']:.1f} SQL statements, "
        f"{store['grouped_commits']:.2f} commits a message in)"
    )
    print(f"  one SELECT           {store['statement']:6.2f} ms")
    print(f"  one SELECT, driver   {store['statement_driver']:6.2f} ms  (bot/store/driver.py)")
    print(f"  twilio send()        {channels['twilio']:6.2f} ms  (fake Twilio in-process)")
    print(f"  telegram send()      {channels['telegram']:6.2f} ms  (fake Bot API in-process)")
    print(f"  SMS webhook          {channels['webhook_sms']:6.2f} ms  (client in-process)")
    print(f"  Telegram webhook     {channels['webhook_telegram']:6.2f} ms  (client in-process)")
    understanding = understanding_pieces(args.rounds)
    print("understanding, CPU ms per message (tests/understanding/corpus.jsonl, rounds c1-c4):")
    print(f"  all kinds            {understanding['all']:6.3f} ms")
    print(f"  global keywords      {understanding['keywords']:6.3f} ms  (any message)")
    print(f"  lingua alone         {understanding['lingua']:6.3f} ms  (first messages only)")
    for kind, ms in sorted(understanding.items()):
        if kind not in SUMMED:
            print(f"  {kind:<20} {ms:6.3f} ms")
    if args.json:
        print(json.dumps({"store": store, "channels": channels, "understanding": understanding}))


def main() -> None:
    """Parse options and run."""
    logging.getLogger("bot").setLevel(logging.ERROR)  # "no coordinator to alert": none is needed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument(
        "--rounds", type=int, default=3, help="passes over the understanding corpus"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    asyncio.set_event_loop_policy(eventloop.policy(eventloop.chosen(os.environ)))  # serve's loop
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
