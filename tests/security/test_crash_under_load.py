"""Fault (a): the server is SIGKILLed in the middle of a load of SMS conversations (messages
stored in batches, group commit), then started again. Every message that got a 200 is
processed, every reply queued is sent, none twice; and nothing the people wrote, nor their
numbers, appears in what the server printed."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine

from bot.channels.twilio_sms import SMS_PATH
from tests.auxil import twilio_payloads as tp
from tests.auxil.fake_twilio import FakeTwilio
from tests.auxil.server_process import ServerProcess
from tests.security.leaks import found, phone_forms
from tests.security.load import Load
from tests.store.fixtures import DATA_KEYS, SECRET_KEY, sqlite_template  # noqa: F401

PUBLIC = "https://helpline.example.org"
PEOPLE = 30
SAYS = ["Përshëndetje, jam Arbana nga Fieri", "shqip", "po"]  # each gets exactly one reply
KILL_AFTER = 30  # acknowledged messages before the SIGKILL (a third of the load)
WAIT = 60.0  # a bound on each wait, so a broken helpline fails the test instead of hanging it


def phone(person: int) -> str:
    return f"+3556911203{person:02d}"


def group_commits(metrics: str) -> tuple[float, float]:
    """(transactions, messages) of the inbound group commit, from /metrics."""
    found = {"count": 0.0, "sum": 0.0}
    for line in metrics.splitlines():
        for kind in found:
            if line.startswith(f"helpline_group_commit_units_{kind}") and "receive" in line:
                found[kind] += float(line.rsplit(" ", 1)[1])
    return found["count"], found["sum"]


@pytest.fixture
def database(sqlite_template: Path, tmp_path: Path) -> Path:
    """A migrated SQLite file (a copy of the session's template: no migration run here)."""
    path = tmp_path / "helpline.db"
    shutil.copyfile(sqlite_template, path)
    return path


async def test_sigkill_under_load_loses_nothing_and_sends_nothing_twice(
    database: Path, tmp_path: Path
) -> None:
    # Every send is held at the fake until the kill: at the kill, replies are in flight and none
    # is accepted by the provider but not yet recorded. That window (between the provider's
    # answer and the commit) is at-least-once by nature, as tests/test_workers.py says: no
    # provider here takes an idempotency key. With group commit a batch's replies go out
    # together, right as its messages are acknowledged, so a kill timed by acknowledgements
    # would land in that window for several of them at once.
    fake = FakeTwilio(handler_cancellation=True)
    fake.hang_next(PEOPLE * len(SAYS) * 2)
    await fake.start()
    env = {
        "HELPLINE_DATABASE_URL": f"sqlite:///{database}",
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": PUBLIC,
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
        "HELPLINE_OUTBOX_LEASE": "PT1S",  # rows the dead sender held are taken back at once
        "HELPLINE_SMS_RATE": "0",  # no pacing against the local fake
        "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
        "HELPLINE_TWILIO_API_URL": fake.url,
    }
    # The same SID when a message is sent again: a redelivery, which the helpline must not
    # process twice.
    sids = {(p, n): tp.new_sid() for p in range(PEOPLE) for n in range(len(SAYS))}
    server = await ServerProcess(env).start()
    first_log = ""

    async def post(http: aiohttp.ClientSession, person: int, n: int) -> int:
        form = tp.inbound_sms(phone(person), SAYS[n], message_sid=sids[(person, n)])
        headers = tp.signed_headers(PUBLIC + SMS_PATH, form)
        async with http.post(server.url + SMS_PATH, data=form, headers=headers) as resp:
            await resp.read()
            return resp.status

    load = Load(PEOPLE, len(SAYS), post, milestone_at=KILL_AFTER)
    try:
        async with aiohttp.ClientSession() as http, http.get(server.url + "/simulator") as page:
            # The real server's pages carry the security headers (the simulator its own CSP).
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Frame-Options"] == "DENY"
        running = asyncio.create_task(load.run())
        async with asyncio.timeout(WAIT):
            await load.milestone.wait()
        load.resume.clear()  # whoever is cut off now waits for the restart
        async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as page:
            batches = group_commits(await page.text())
        await server.kill()  # mid-load: requests in flight break, rows are half-sent
        fake.release()  # the restarted server's sends go through
        killed_at = len(load.acked)
        first_log = server.log()
        server = await ServerProcess(env, port=server.port).start()
        load.resume.set()  # the people whose messages were refused send them again
        async with asyncio.timeout(WAIT):
            await running
            await fake.wait_until(lambda: len(fake.messages) >= PEOPLE * len(SAYS))
    finally:
        await server.stop()
        await fake.stop()

    # Messages were stored several to a transaction before the kill (group commit).
    assert batches[1] > batches[0] > 0, batches
    replies = Counter(str(m["to"]) for m in fake.messages.values())
    bodies = Counter((str(m["to"]), str(m["body"])) for m in fake.messages.values())
    assert replies == {phone(p): len(SAYS) for p in range(PEOPLE)}  # one reply per message
    assert max(bodies.values()) == 1  # none twice
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        inbound = conn.execute(
            sa.text("SELECT external_id FROM messages WHERE direction = 'in'")
        ).scalars()
        stored = Counter(inbound)
        outbox = Counter(conn.execute(sa.text("SELECT status FROM outbox")).scalars())
    engine.dispose()
    assert set(stored) == set(sids.values()) and max(stored.values()) == 1
    assert outbox == {"sent": PEOPLE * len(SAYS)}
    # What the server printed, before and after the kill, names nobody.
    printed = first_log + server.log()
    needles = [SAYS[0]] + [f for p in range(PEOPLE) for f in phone_forms(phone(p))]
    assert "helpline serving on" in printed and found(printed, needles) == []
    print(
        f"\ncrash: {PEOPLE * len(SAYS)} messages, {killed_at} acknowledged before SIGKILL, "
        f"{load.refused} refused or cut off and sent again, {sum(replies.values())} replies "
        f"sent, 0 lost, {sum(bodies.values()) - len(bodies)} twice"
    )
