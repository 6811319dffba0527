"""Bytecodes a message, per function: where the hot path's Python goes, counted, free of noise.

    .venv/bin/python bench/bytecodes.py [--rounds 19] [--top 60]

Why: under callgrind (bench/instructions.py) most of a message is the Python interpreter (SQLite's
own C is ~20 %, counted inclusively), so its C functions do not say which Python code costs.
This runs hot_path's "16 people at once" round (SQLite, group commit, receive and send, no
HTTP) under sys.settrace with opcode events, after a whole conversation's rounds of warm-up
(every step's statements compiled, as in a server that has run a while), and counts the
bytecodes each function executes itself: the same counts for the same code whatever else
runs, in seconds rather than minutes. A bytecode is not an instruction (a C call is one
bytecode), so a change is still measured by bench/instructions.py; this finds what to change.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOGETHER = 16
WARM_UP = 19  # SQ_HIGH_RISK's steps: with ten, nine steps' statements compiled while counted


async def work(rounds: int, counts: Counter[CodeType]) -> None:
    """Warm up, then `rounds` rounds of hot_path's 16-at-once step and the sender, counted."""
    sys.path.insert(0, str(HERE))
    import hot_path

    def local(frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "opcode":
            counts[frame.f_code] += 1
        return local

    def tracer(frame: FrameType, _event: str, _arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return local

    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bytecodes.db"
        await hot_path.migrate.upgrade_async(url)
        db = hot_path.Database(url, hot_path.Crypto(hot_path.KEYS, hot_path.SECRET))
        harness = await hot_path.Harness(db).start()
        for i in range(WARM_UP + rounds):
            if i == WARM_UP:
                sys.settrace(tracer)
            await hot_path.receive_together(harness, i, TOGETHER)
            while await harness.sender.drain_once():
                pass
        sys.settrace(None)
        await db.dispose()


def where(code: CodeType) -> str:
    """A code object's file (relative to the repository, or its package) and line."""
    name = code.co_filename
    if name.startswith(str(ROOT)):
        name = name[len(str(ROOT)) + 1 :]
    elif "site-packages/" in name:
        name = name.split("site-packages/", 1)[1]
    elif "/lib/python3" in name:
        name = "stdlib:" + name.split("/lib/python3", 1)[1].split("/", 1)[1]
    return f"{name}:{code.co_firstlineno} {code.co_name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=19)  # one whole conversation
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    if "PYTHONHASHSEED" not in os.environ:
        # As bench/instructions.py: sets of strings iterate in the hash seed's order, and the
        # understanding layer loops over them (the same code counted 20,536 and 20,526).
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, __file__, *sys.argv[1:]])  # noqa: S606 - itself
    counts: Counter[CodeType] = Counter()
    from bot import eventloop

    asyncio.set_event_loop_policy(eventloop.policy(eventloop.chosen(os.environ)))  # serve's loop
    asyncio.run(work(args.rounds, counts))
    messages = args.rounds * TOGETHER
    total = sum(counts.values())
    print(f"bytecodes a message: {total / messages:,.0f} ({messages} messages; sqlite)")
    by_file: Counter[str] = Counter()
    for code, n in counts.items():
        by_file[where(code).rsplit(":", 1)[0]] += n
    print("by file:")
    for name, n in by_file.most_common(args.top // 2):
        print(f"{n / messages:9,.0f} {n / total:6.1%}  {name}")
    print("by function (its own bytecodes):")
    for code, n in counts.most_common(args.top):
        print(f"{n / messages:9,.0f} {n / total:6.1%}  {where(code)}")


if __name__ == "__main__":
    main()
