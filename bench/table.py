"""Issue 19's performance table in one run: the README's figures, all made by one command.

    .venv/bin/python bench/table.py [--duration 15] [--workers 1 2 4]

One after the other, each in its own process: bench/load.py on SQLite (one process, with the
bare aiohttp handler, alone and sending a reply, on the same generator), bench/load.py on
PostgreSQL with 1, 2 and 4 workers (no bare phase), the helpline pinned to the first core and
the load generator, the fakes and PostgreSQL to the second (`--server-cpus 0 --other-cpus 1`);
then bench/hot_path.py on both databases pinned to the first core. It prints Markdown: the
commit, the machine and the time, the load table, the hot path per piece and the issue's
targets met or not. PostgreSQL must be running at 127.0.0.1:5432 (trust auth), as in CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PINNED = ["--server-cpus", "0", "--other-cpus", "1"]
# Issue 19's targets.
TARGET_RATE = 1000.0
TARGET_OF_BARE = 0.40
TARGET_REPLY_P99_MS = 50.0
TARGET_ALERT_P99_MS = 100.0
TARGET_PG_CPU_RATIO = 1.5


def last_json(output: str) -> dict[str, Any]:
    """The JSON object a bench printed last (its human lines come before it)."""
    lines = output.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("{"):
            try:
                found = json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
    raise SystemExit(f"no JSON in the bench's output:\n{output}")


def run(command: list[str]) -> dict[str, Any]:
    """Run one bench with --json, echo what it prints (to stderr), return its figures."""
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run([*command, "--json"], cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(done.stdout)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode})")
    return last_json(done.stdout)


def load_row(name: str, r: dict[str, Any]) -> str:
    """One row of the load table."""
    cpu = f"{r['cpu_ms_per_msg']:.2f} ms ({r['cpu_system_share']:.0%} kernel)"
    if "postgres_cpu_ms_per_msg" in r:
        cpu += f" + {r['postgres_cpu_ms_per_msg']:.2f} in PostgreSQL"
    bare = "–"
    if r.get("bare_rate"):
        bare = (
            f"{r['ratio_bare']:.0%} of {r['bare_rate']:,.0f}; "
            f"{r['ratio_bare_reply']:.0%} of {r['bare_reply_rate']:,.0f} with replies"
        )
    return (
        f"| {name} | **{r['saturation_rate']:,.0f}** | {bare} "
        f"| {r['paced_p50']:.1f} / {r['paced_p99']:.1f} ms at {r['paced_rate_target']:.0f}/s "
        f"| {r['alert_p50']:.1f} / {r['alert_p99']:.1f} ms ({r['alerts']}) | {cpu} "
        f"| {r['messages_per_commit']:.1f} | {r['peak_rss_mb']:,.0f} MB "
        f"| {r['missing']} / {r['errors']} |"
    )


HOT_ROWS = [
    ("receive transaction (sequential)", "store", "receive", "receive_statements"),
    ("sender pass (channel doing nothing)", "store", "sender", "sender_statements"),
    ("16 people at once (receive and send)", "store", "grouped", "grouped_statements"),
    ("one indexed SELECT", "store", "statement", None),
    ("Twilio send() (fake in-process)", "channels", "twilio", None),
    ("Telegram send() (fake in-process)", "channels", "telegram", None),
    ("SMS webhook (client in-process)", "channels", "webhook_sms", None),
    ("Telegram webhook (client in-process)", "channels", "webhook_telegram", None),
    ("understanding, all kinds", "understanding", "all", None),
    ("understanding, global keywords", "understanding", "keywords", None),
]


def hot_cell(figures: dict[str, Any], part: str, key: str, statements: str | None) -> str:
    """One database's cell of the hot path table."""
    value = figures[part][key]
    cell = f"{value:.3f} ms" if part == "understanding" else f"{value:.2f} ms"
    if statements is not None:
        cell += f" ({figures[part][statements]:.1f} statements)"
    return cell


def met(ok: bool) -> str:
    """A target's verdict."""
    return "met" if ok else "**not met**"


def main() -> None:
    """Run the benches and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="15", help="seconds measured a load phase")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    load = [sys.executable, "bench/load.py", "--duration", args.duration, *PINNED]
    sqlite = run(load)
    postgres = {
        w: run([*load, "--database", "postgres", "--workers", str(w), "--no-bare"])
        for w in args.workers
    }
    hot = ["taskset", "-c", "0", sys.executable, "bench/hot_path.py"]
    hot_sqlite = run(hot)
    hot_postgres = run([*hot, "--database", "postgres"])
    ended = dt.datetime.now(dt.UTC)

    model = cpu_model()
    print(
        f"`.venv/bin/python bench/table.py`, commit `{commit}`, "
        f"{started:%Y-%m-%d %H:%M}–{ended:%H:%M} UTC, {os.cpu_count()} cores ({model}), "
        f"Python {platform.python_version()}; load phases {args.duration} s after 3 s of "
        "warm-up, 64 people; the helpline on core 0, the generator, fakes and PostgreSQL "
        "on core 1.\n"
    )
    print(
        "| run | inbound msg/s at saturation | of bare aiohttp (same generator) "
        "| reply p50 / p99 at half rate | urgent alert p50 / p99 (alerts) "
        "| server CPU a message | messages a transaction | peak memory | missing / errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(load_row("SQLite, one process", sqlite))
    for w, r in postgres.items():
        print(load_row(f"PostgreSQL, {w} worker{'s' if w > 1 else ''}", r))
    print("\n| piece (`bench/hot_path.py`, CPU a message, one process) | SQLite | PostgreSQL |")
    print("|---|---|---|")
    for name, part, key, statements in HOT_ROWS:
        print(
            f"| {name} | {hot_cell(hot_sqlite, part, key, statements)} "
            f"| {hot_cell(hot_postgres, part, key, statements)} |"
        )
    pg1 = postgres.get(1)
    print("\nIssue 19's targets:")
    print(
        f"- ≥ {TARGET_RATE:,.0f} msg/s on SQLite in one process: "
        f"{sqlite['saturation_rate']:,.0f}, {met(sqlite['saturation_rate'] >= TARGET_RATE)}"
    )
    print(
        f"- ≥ {TARGET_OF_BARE:.0%} of bare aiohttp: {sqlite['ratio_bare']:.0%}, "
        f"{met(sqlite['ratio_bare'] >= TARGET_OF_BARE)}"
    )
    print(
        f"- reply p99 ≤ {TARGET_REPLY_P99_MS:.0f} ms at half rate: "
        f"{sqlite['paced_p99']:.1f} ms, {met(sqlite['paced_p99'] <= TARGET_REPLY_P99_MS)}"
    )
    alert_p99 = max(r["alert_p99"] for r in [sqlite, *postgres.values()])
    print(
        f"- urgent alert p99 ≤ {TARGET_ALERT_P99_MS:.0f} ms (worst run): {alert_p99:.1f} ms, "
        f"{met(alert_p99 <= TARGET_ALERT_P99_MS)}"
    )
    if pg1 is not None:
        ratio = pg1["cpu_ms_per_msg"] / sqlite["cpu_ms_per_msg"]
        with_backends = (pg1["cpu_ms_per_msg"] + pg1["postgres_cpu_ms_per_msg"]) / sqlite[
            "cpu_ms_per_msg"
        ]
        print(
            f"- PostgreSQL's CPU a message in the helpline's process within "
            f"{TARGET_PG_CPU_RATIO}× SQLite's: {ratio:.2f}×, {met(ratio <= TARGET_PG_CPU_RATIO)} "
            f"(with its backends' CPU: {with_backends:.2f}×)"
        )


def cpu_model() -> str:
    """The processor's name, from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


if __name__ == "__main__":
    main()
