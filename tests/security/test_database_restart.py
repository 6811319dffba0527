"""Fault (c): PostgreSQL restarts under a load of Telegram conversations; the helpline recovers by
itself (no restart, no manual step): every acknowledged update is processed, every reply sent
once, /healthz answers again.

The shared server at 127.0.0.1:5432 is never touched: the test starts a private cluster of its
own (initdb into a temporary directory, another port, as the postgres user) and restarts that.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.store import migrate
from tests.auxil import telegram_payloads as tgp
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.server_process import ServerProcess, free_port
from tests.security.load import Load
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
]

PEOPLE = 20
SAYS = ["pershendetje", "shqip", "po"]
RESTART_AFTER = 20  # acknowledged updates before the database goes away
SECRET = "restart-test-webhook-secret"
WAIT = 60.0  # a bound on each wait, not an expected duration


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


async def _run(*args: str) -> str:
    """Run a command as the postgres user (PostgreSQL refuses to run as root)."""
    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Its output goes to a file, not a pipe: `pg_ctl start` leaves a server running that may
    # hold the pipe open (on uvloop it did), and a pipe would then never end.
    with tempfile.TemporaryFile() as output:
        proc = await asyncio.create_subprocess_exec(
            *runas, *args, stdout=output, stderr=subprocess.STDOUT
        )
        await asyncio.wait_for(proc.wait(), WAIT)
        output.seek(0)
        out = output.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {out}")
    return out


class PrivateCluster:
    """A throwaway PostgreSQL cluster on a free port, its socket and data in one directory."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="helpline-pg-"))
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/helpline"

    async def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        await _run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        # The free port was picked before initdb's seconds; another test may have taken it
        # since (seen under load: the server could not bind and pg_ctl "stopped waiting").
        for attempt in range(3):
            try:
                await self.start()
                break
            except RuntimeError:
                log = (self.dir / "log").read_text(errors="replace")
                if attempt == 2 or "could not bind" not in log:
                    raise
                self.port = free_port()
        await _run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
            "postgres", "helpline",
        )  # fmt: skip

    async def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        await _run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.dir / "log"), "-w", "start",
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        await _run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    async def destroy(self) -> None:
        with contextlib.suppress(Exception):
            await self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
async def cluster() -> AsyncIterator[PrivateCluster]:
    bin_dir = _pg_bin()
    if bin_dir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL's binaries (initdb, pg_ctl) are needed for this test")
        pytest.skip("PostgreSQL's binaries (initdb, pg_ctl) are not installed")
    pg = PrivateCluster(bin_dir)
    try:
        await pg.create()
        yield pg
    finally:
        await pg.destroy()


async def test_the_helpline_rides_out_a_database_restart(cluster: PrivateCluster, tmp_path) -> None:
    fake = FakeTelegram()
    await fake.start()
    env = {
        "HELPLINE_DATABASE_URL": cluster.url,
        "HELPLINE_VAR_DIR": str(tmp_path),
        "HELPLINE_PUBLIC_URL": "https://helpline.example.org",
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "HELPLINE_DATA_KEYS": ",".join(DATA_KEYS),
        "HELPLINE_TELEGRAM_RATE": "0",
        # Sends that fail while the database is away are retried within a second, not minutes.
        "HELPLINE_OUTBOX_RETRY_BASE": "PT0.05S",
        "HELPLINE_OUTBOX_RETRY_MAX": "PT1S",
        "TELEGRAM_BOT_TOKEN": tgp.TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "HELPLINE_TELEGRAM_API_URL": fake.url,
        "TWILIO_ACCOUNT_SID": "",
    }
    await migrate.upgrade_async(cluster.url)
    server = await ServerProcess(env).start()
    updates = {(p, n): 1000 * p + n + 1 for p in range(PEOPLE) for n in range(len(SAYS))}

    async def post(http: aiohttp.ClientSession, person: int, n: int) -> int:
        chat = 7770002000 + person
        message = tgp.message(updates[(person, n)], chat, text=SAYS[n])
        body = json.dumps(tgp.update(updates[(person, n)], message=message))
        headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
        async with http.post(server.url + WEBHOOK_PATH, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status

    load = Load(PEOPLE, len(SAYS), post, milestone_at=RESTART_AFTER)
    try:
        running = asyncio.create_task(load.run())
        async with asyncio.timeout(WAIT):
            await load.milestone.wait()
        load.resume.clear()  # whoever is refused now waits for the database to be back
        await cluster.stop()  # every connection of the helpline's pool dies with it
        async with aiohttp.ClientSession() as http, http.get(server.url + "/healthz") as resp:
            down = resp.status
        await cluster.start()
        load.resume.set()
        async with asyncio.timeout(WAIT):
            await running
            expected = PEOPLE * len(SAYS)
            await fake.wait_for_calls("sendMessage", expected)
        async with aiohttp.ClientSession() as http, http.get(server.url + "/healthz") as resp:
            up = resp.status
        assert server.proc is not None and server.proc.returncode is None  # never restarted
    finally:
        await server.stop()
        await fake.stop()

    # Stopped gently, the sender has recorded the sends under way: every row is marked sent and
    # none is left leased, so none can be sent again by a later start.
    conn = await asyncpg.connect(cluster.url)
    try:
        statuses = Counter(r["status"] for r in await conn.fetch("SELECT status FROM outbox"))
    finally:
        await conn.close()
    sent = fake.calls_to("sendMessage")
    per_chat = Counter(c["chat_id"] for c in sent)
    texts = Counter((c["chat_id"], c["text"]) for c in sent)
    assert (down, up) == (503, 200)
    assert statuses == {"sent": PEOPLE * len(SAYS)}, server.log()[-6000:]
    assert per_chat == {7770002000 + p: len(SAYS) for p in range(PEOPLE)}
    assert max(texts.values()) == 1
    print(
        f"\ndatabase restart: {PEOPLE * len(SAYS)} updates, {load.refused} answered 5xx while it "
        f"was down and delivered again (as Telegram does), {len(sent)} replies, 0 lost, "
        f"{len(sent) - len(texts)} twice; /healthz {down} then {up}"
    )
