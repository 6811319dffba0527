"""Instructions a message, counted by valgrind's callgrind: the hot path's CPU, free of noise.

    .venv/bin/python bench/instructions.py [--rounds 10 40]

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
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOGETHER = 16


async def work(rounds: int) -> None:
    """`rounds` times: the same conversation step for 16 people at once, then the sender."""
    sys.path.insert(0, str(HERE))
    import hot_path

    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/instructions.db"
        await hot_path.migrate.upgrade_async(url)
        db = hot_path.Database(url, hot_path.Crypto(hot_path.KEYS, hot_path.SECRET))
        harness = await hot_path.Harness(db).start()
        for i in range(rounds):
            await hot_path.receive_together(harness, i, TOGETHER)
            while await harness.sender.drain_once():
                pass
        await db.dispose()


def counted(rounds: int, out: Path) -> int:
    """Instructions of a whole run of `rounds` rounds under callgrind."""
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--work",
            str(rounds),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, nargs=2, default=[10, 40], metavar=("FEW", "MANY"))
    parser.add_argument("--work", type=int, help=argparse.SUPPRESS)  # the run callgrind counts
    args = parser.parse_args()
    if args.work is not None:
        asyncio.run(work(args.work))
        return
    few, many = args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        low = counted(few, Path(tmp) / "few.out")
        high = counted(many, Path(tmp) / "many.out")
    messages = (many - few) * TOGETHER
    print(f"instructions a message: {(high - low) / messages:,.0f} ({messages} messages; sqlite)")


if __name__ == "__main__":
    main()
