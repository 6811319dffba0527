"""Start `helpline serve --workers N` on a fresh PostgreSQL database again and again, as
bench/load.py does, and dump every worker that has not printed "serving on" in time.

    .venv/bin/python bench/start_workers.py --starts 20 [--workers 4] [--cpus 0] [--busy 1] \
        [--root CHECKOUT] [--log PREFIX] [--env HELPLINE_STARTUP_TIMEOUT=PT0S]

Each start: a new database (`helpline db upgrade`, the bench's coordinators), the fake Twilio
and Telegram in this process, `serve --workers N` pinned to `--cpus` (as taskset -c), its
output read until N "serving on" lines or `--timeout`. A start that times out is dumped: py-spy
of the supervisor and of each worker, and the database's pg_stat_activity and pg_locks.
The locks sessions wait for during each start are sampled (printed, and saved with the output
under `--log PREFIX`). `--busy CPU` keeps a busy loop on another core meanwhile; `--root` runs
another checkout's server (this one's tests/auxil fakes). Reports how many starts served.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import psutil  # noqa: E402

from bench.load import PG_ADMIN, add_coordinators, server_env  # noqa: E402
from tests.auxil.fake_telegram import FakeTelegram  # noqa: E402
from tests.auxil.fake_twilio import FakeTwilio  # noqa: E402
from tests.auxil.server_process import free_port, helpline  # noqa: E402

READY = b"helpline serving on"
ACTIVITY = (
    "select pid, application_name, state, wait_event_type, wait_event, backend_xid, "
    "backend_xmin, xact_start, state_change, left(query, 200) as query "
    "from pg_stat_activity where datname = current_database() order by pid"
)
LOCKS = (
    "select l.pid, l.locktype, l.relation::regclass, l.transactionid, l.virtualxid, l.mode, "
    "l.granted, l.objid from pg_locks l join pg_stat_activity a on a.pid = l.pid "
    "where a.datname = current_database() order by l.granted, l.pid"
)


def psql(db: str, sql: str) -> str:
    """The query's output as psql prints it."""
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout + out.stderr


def dump(pid: int, db: str, lines: list[bytes], into: Path) -> None:
    """py-spy of the supervisor and every worker, and the database's sessions and locks."""
    spy = ROOT / ".venv" / "bin" / "py-spy"
    parts = [b"".join(lines).decode(errors="replace")]
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        served = any(f"pid {proc.pid}".encode() in line for line in lines)
        out = subprocess.run(
            [str(spy), "dump", "--locals", "--pid", str(proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        parts.append(f"==== py-spy {proc.pid} ({served=})\n{out.stdout}{out.stderr}")
    parts.append("==== pg_stat_activity\n" + psql(db, ACTIVITY))
    parts.append("==== pg_locks\n" + psql(db, LOCKS))
    into.write_text("\n".join(parts))


async def lock_waits(url: str, into: list[str]) -> None:
    """Every lock a session of the database waits for, with the session that holds it,
    sampled every 50 ms (a diagnosis: what start-ups wait for)."""
    conn = await asyncpg.connect(url)
    try:
        while True:
            rows = await conn.fetch(
                "select w.pid, w.locktype, w.relation::regclass::text as rel, w.mode, "
                "pg_blocking_pids(w.pid) as by, left(a.query, 120) as query, "
                "(select left(b.query, 120) || ' [' || b.state || ']' from pg_stat_activity b "
                " where b.pid = (pg_blocking_pids(w.pid))[1]) as holder "
                "from pg_locks w join pg_stat_activity a on a.pid = w.pid "
                "where not w.granted and a.datname = current_database()"
            )
            for r in rows:
                into.append(
                    f"{time.strftime('%H:%M:%S')} pid {r['pid']} waits {r['locktype']} "
                    f"{r['rel']} {r['mode']} held by {r['by']}: {r['query']!r} / {r['holder']!r}"
                )
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def one_start(args: argparse.Namespace, n: int) -> bool:
    """One fresh database and one `serve --workers N`; True when every worker served in time."""
    twilio, telegram = FakeTwilio(), FakeTelegram()
    await twilio.start()
    await telegram.start()
    name = f"helpline_start_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    proc: asyncio.subprocess.Process | None = None
    try:
        with TemporaryDirectory() as tmp:
            env = {
                **server_env(url, tmp, twilio.url, telegram.url),
                **dict(e.split("=", 1) for e in args.env),
            }
            helpline("db", "upgrade", env=env)
            add_coordinators(env)
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                "taskset", "-c", args.cpus, sys.executable, "-m", "bot", "serve",
                "--host", "127.0.0.1", "--port", str(free_port()), "--workers", str(args.workers),
                cwd=args.root, env={**os.environ, **env},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            assert proc.stdout is not None
            lines: list[bytes] = []
            served = 0
            waits: list[str] = []
            sampler = asyncio.create_task(lock_waits(url, waits))
            try:
                async with asyncio.timeout(args.timeout):
                    while served < args.workers:
                        line = await proc.stdout.readline()
                        if not line:
                            break
                        lines.append(line)
                        served += READY in line
            except TimeoutError:
                pass
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            took = time.monotonic() - started
            if waits:
                print(f"  lock waits seen during start {n}: {len(waits)}; first: {waits[:3]}")
            if args.log:
                await asyncio.to_thread(
                    Path(f"{args.log}-{n}.txt").write_text,
                    b"".join(lines).decode(errors="replace")
                    + "\n==== lock waits\n"
                    + "\n".join(waits),
                )
            ok = served == args.workers
            print(f"start {n}: {served}/{args.workers} served in {took:.1f} s", flush=True)
            if not ok:
                into = Path(args.dumps) / f"start-{n}-{name}.txt"
                dump(proc.pid, name, lines, into)
                print(f"  dumped to {into}", flush=True)
                if args.stop_on_hang:
                    print("  left running (--stop-on-hang); database", name, "pid", proc.pid)
                    return ok
            return ok
    finally:
        if proc is not None and proc.returncode is None and not args.stop_on_hang:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(60):
                    await proc.communicate()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if not args.stop_on_hang:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await twilio.stop()
        await telegram.stop()


async def main() -> int:
    """Start again and again; exit 1 when a start missed a worker."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cpus", default="0", help="the server's cores, as taskset -c")
    parser.add_argument("--busy", help="keep a busy loop on this core meanwhile")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--dumps", default=".")
    parser.add_argument("--stop-on-hang", action="store_true", help="leave a hung start running")
    parser.add_argument("--root", default=str(ROOT), help="the checkout the server runs from")
    parser.add_argument("--log", help="save each start's output and lock waits under this name")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args()
    # As bench/load.py during a start: itself (and so the fakes) on the server's cores.
    os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    busy = None
    if args.busy is not None:
        busy = await asyncio.create_subprocess_exec(
            "taskset", "-c", args.busy, "sh", "-c", "while :; do :; done"
        )
    missed = 0
    try:
        for n in range(1, args.starts + 1):
            if not await one_start(args, n):
                missed += 1
                if args.stop_on_hang:
                    break
    finally:
        if busy is not None:
            busy.kill()
            await busy.wait()
    print(f"{args.starts} starts, {missed} with a worker that did not serve", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
