"""An outbox sender that SIGKILLs itself in the middle of recording a batch of send outcomes.

    python -m tests.auxil.killed_sender DATABASE_URL SENT_FILE ROWS KILL_AT NOW

It claims the ROWS due rows, holds every send until all ROWS are with the "provider" (so they
finish together and their outcomes are recorded in one batch), writes each sent row's id to
SENT_FILE, then dies by SIGKILL inside the KILL_AT-th record (its on_sent hook), with the
earlier records of the batch done under their savepoints but nothing committed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime
from typing import Any

from bot.messages import Outbound, SendResult
from bot.outbox import OutboxSender
from bot.pacing import Pacer
from bot.store.crypto import Crypto
from bot.store.db import Database
from bot.store.records import OutboxItem
from tests.store.fixtures import DATA_KEYS, SECRET_KEY


class TogetherChannel:
    """Accepts every message, answering none before all `rows` are in flight."""

    name = "simulator"

    def __init__(self, rows: int, sent_file: str) -> None:
        self.rows = rows
        self.waiting = 0
        self.all_in = asyncio.Event()
        self.fd = os.open(sent_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    async def send(self, msg: Outbound) -> SendResult:
        self.waiting += 1
        if self.waiting == self.rows:
            self.all_in.set()
        await self.all_in.wait()
        os.write(self.fd, f"{msg.outbox_id}\n".encode())  # unbuffered: survives the kill
        return SendResult(ok=True, external_id=f"k{msg.outbox_id}")


async def main(url: str, sent_file: str, rows: int, kill_at: int, now: datetime) -> None:
    """Claim, send, and die mid-batch."""
    db = Database(url, Crypto(DATA_KEYS, SECRET_KEY))
    recorded = 0

    async def die_mid_batch(_uow: Any, _item: OutboxItem) -> None:
        nonlocal recorded
        recorded += 1
        if recorded == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    channel = TogetherChannel(rows, sent_file)
    sender = OutboxSender(
        db, {"simulator": channel}, lambda: now, pacer=Pacer.off(), on_sent=(die_mid_batch,)
    )
    await sender.drain_once()
    raise SystemExit("still alive: the batch never reached its kill")


if __name__ == "__main__":
    url, sent_file, rows, kill_at, now = sys.argv[1:6]
    asyncio.run(main(url, sent_file, int(rows), int(kill_at), datetime.fromisoformat(now)))
