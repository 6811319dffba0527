"""A reply's send, the client's side alone: the real channels' send() to the fakes in a child
process, so that nothing of the fakes' own serving is counted (hot_path's `twilio` and
`telegram` pieces run the fakes in the same process, and count them too).

    .venv/bin/python bench/sends.py [--sends 2000]

Prints, per channel and per send: bytecodes (sys.settrace opcode events: the same for the same
code whatever the load), Python calls, and CPU ms of this process (noisy under load).
`--only twilio|telegram` does nothing but sends (300 + `--sends`), for callgrind: two runs
with different counts give instructions a send by difference (`bench/instructions.py --sends`
takes those runs itself, both channels at once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WARM_UP = 300
TRACED = 500  # sends counted by bytecodes (tracing is slow)
TEXT = "Faleminderit. A jeni në rrezik tani?\n1. Po\n2. Jo"

FAKES = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_twilio import FakeTwilio

async def main():
    twilio, telegram = FakeTwilio(), FakeTelegram()
    await twilio.start()
    await telegram.start()
    print(json.dumps([twilio.url, telegram.url]), flush=True)
    while True:  # what the fakes keep of each request, dropped now and then
        await asyncio.sleep(5)
        twilio.requests.clear()
        twilio.messages.clear()

asyncio.run(main())
"""


async def run(urls: list[str], sends: int, only: str | None) -> None:
    """The channels here, pointed at the fakes (`urls`: Twilio's, Telegram's); send, count."""
    from bench.hot_path import started_channels
    from bench.load import server_env
    from bot.config import load_settings
    from bot.messages import Outbound

    twilio_url, telegram_url = urls
    with tempfile.TemporaryDirectory() as tmp:
        # The load bench's settings: no database is opened here, the channels only send.
        env = server_env(f"sqlite+aiosqlite:///{tmp}/unused.db", tmp, twilio_url, telegram_url)
        settings = load_settings(env=env)

        sms, tg = await started_channels(settings)

        async def one_sms(i: int) -> None:
            result = await sms.send(Outbound(i, "sms", f"tel:+35569{i:07d}", TEXT))
            assert result.ok, result

        async def one_tg(i: int) -> None:
            chat = f"telegram:{6_000_000_000 + i}"
            result = await tg.send(Outbound(i, "telegram", chat, TEXT))
            assert result.ok, result

        pieces: dict[str, Callable[[int], Awaitable[None]]] = {
            "twilio": one_sms,
            "telegram": one_tg,
        }
        try:
            if only is not None:
                for i in range(WARM_UP + sends):
                    await pieces[only](i)
                return
            for name, send in pieces.items():
                print(f"{name:9} {await measure(send, sends)}")
        finally:
            await sms.stop()
            await tg.stop()


async def measure(send: Callable[[int], Awaitable[None]], sends: int) -> str:
    """Warm up, then bytecodes and calls over TRACED sends, CPU over `sends` more."""
    for i in range(WARM_UP):
        await send(i)
    counts = {"opcode": 0, "call": 0}

    def local(_frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "opcode":
            counts["opcode"] += 1
        return local

    def tracer(frame: FrameType, _event: str, _arg: Any) -> Any:
        counts["call"] += 1
        frame.f_trace_opcodes = True
        return local

    sys.settrace(tracer)
    for i in range(TRACED):
        await send(WARM_UP + i)
    sys.settrace(None)
    started = time.process_time()
    for i in range(sends):
        await send(WARM_UP + TRACED + i)
    cpu = (time.process_time() - started) / sends * 1000
    return (
        f"bytecodes {counts['opcode'] / TRACED:8.1f}  Python calls {counts['call'] / TRACED:6.1f}"
        f"  CPU {cpu:.3f} ms"
    )


def main() -> None:
    """Parse options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--only", choices=["twilio", "telegram"])
    args = parser.parse_args()
    fakes = subprocess.Popen(
        [sys.executable, "-c", FAKES, str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert fakes.stdout is not None
        asyncio.run(run(json.loads(fakes.stdout.readline()), args.sends, args.only))
    finally:
        fakes.terminate()
        fakes.wait()


if __name__ == "__main__":
    main()
