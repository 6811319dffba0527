"""SIGKILL the server with check-ins due (more come due while it is down): each is sent once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import create_engine

from tests.auxil import twilio_payloads as tp
from tests.auxil.fake_twilio import FakeTwilio
from tests.auxil.server_process import ServerProcess, helpline
from tests.followups.seed import phone, seed_due_checkins
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

N = 8  # due when the server starts
LATE = 6  # come due while it is down
WAIT = 60.0  # a bound on each wait, so a broken sweep fails the test instead of hanging it


async def test_checkins_due_at_a_crash_are_sent_once_after_restart(tmp_path: Path) -> None:
    fake = FakeTwilio()
    await fake.start()
    database = tmp_path / "helpline.db"
    env = {
        "HELPLINE_DATABASE_URL": f"sqlite:///{database}",
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": "https://helpline.example.org",
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
        "HELPLINE_OUTBOX_LEASE": "PT1S",
        "HELPLINE_FOLLOWUP_LEASE": "PT1S",
        "HELPLINE_SWEEP_INTERVAL": "PT0.2S",
        "TWILIO_ACCOUNT_SID": tp.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": tp.AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": tp.HELPLINE_NUMBER,
        "HELPLINE_TWILIO_API_URL": fake.url,
    }
    helpline("db", "upgrade", env=env)
    await seed_due_checkins(f"sqlite+aiosqlite:///{database}", N, datetime.now(UTC))
    # Every send hangs at Twilio, so none is accepted before the kill: a send Twilio accepts
    # and the helpline dies before recording is sent again after the restart (no idempotency
    # key exists in Twilio's Messages API), which is not what this tests. Set before the start:
    # the server sweeps and sends as soon as it runs, before its "serving on" line is read.
    fake.hang_next(N)
    server = await ServerProcess(env).start()
    try:
        async with asyncio.timeout(WAIT):
            await fake.wait_until(lambda: len(fake.created()) >= 1)
        await server.kill()  # ...and the helpline dies with the others still due or queued.
        fake.release()  # the killed sender's requests end unanswered: nothing was created
        assert fake.messages == {}
        # More check-ins come due while the helpline is down.
        url = f"sqlite+aiosqlite:///{database}"
        await seed_due_checkins(url, LATE, datetime.now(UTC), first=N)

        server = await ServerProcess(env, port=server.port).start()
        async with asyncio.timeout(WAIT):
            await fake.wait_until(lambda: len(fake.messages) == N + LATE)
    finally:
        await server.stop()
        fake.release()
        await fake.stop()
    per_number = Counter(str(m["to"]) for m in fake.messages.values())
    assert per_number == Counter({phone(i): 1 for i in range(N + LATE)})
    assert all(str(m["body"]).startswith("Hello, it's us again.") for m in fake.messages.values())
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        checkins = conn.execute(sa.text("SELECT status, tries FROM checkins")).all()
        outbox = conn.execute(
            sa.text("SELECT contact_id, status FROM outbox WHERE kind = 'followup'")
        ).all()
    engine.dispose()
    assert sorted(checkins) == [("pending", 1)] * (N + LATE)  # sent once, awaiting her answer
    assert Counter(r.contact_id for r in outbox) == Counter({i: 1 for i in range(1, N + LATE + 1)})
    assert {r.status for r in outbox} == {"sent"}
