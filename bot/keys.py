"""`helpline keys generate|rotate` and `helpline retention run`: key rotation and retention."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet

from bot.config import Settings
from bot.store.db import Database

BATCH = 500


@dataclass(slots=True)
class RotationReport:
    """Values re-encrypted and values already under the newest key, by table."""

    rotated: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)


async def rotate_keys(db: Database, batch: int = BATCH) -> RotationReport:
    """Re-encrypt every personal value under the newest key (HELPLINE_DATA_KEYS' first).

    One transaction per batch: an interrupted rotation is safe to run again, since the older
    keys still decrypt whatever was not reached yet.
    """
    from bot.store.repos.retention import encrypted_columns

    report = RotationReport()
    for table, key, columns in encrypted_columns():
        after: object = None
        rotated = current = 0
        while True:
            async with db.uow() as uow:
                last, r, c = await uow.retention.rotate_batch(table, key, columns, after, batch)
                await uow.commit()
            if last is None:
                break
            after, rotated, current = last, rotated + r, current + c
        report.rotated[table.name] = rotated
        report.current[table.name] = current
    return report


async def _rotate(settings: Settings) -> RotationReport:
    from bot.store.opening import opened_database

    async with opened_database(settings) as db:
        return await rotate_keys(db)


async def _retention(settings: Settings) -> Any:
    from bot.retention import run_retention
    from bot.store.opening import opened_database

    async with opened_database(settings) as db:
        return await run_retention(db, settings.retention_days, datetime.now(UTC))


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    """Generate a data key, or re-encrypt everything under the newest one."""
    if args.action == "generate":
        print(Fernet.generate_key().decode())
        return 0
    if not settings.data_keys:
        print("helpline: HELPLINE_DATA_KEYS is not set: nothing to rotate with", file=sys.stderr)
        return 2
    if len(settings.data_keys) < 2:
        print(
            "note: HELPLINE_DATA_KEYS holds one key; to rotate, put a new key first "
            "(`helpline keys generate`), keep the old one after it, then run this again"
        )
    report = asyncio.run(_rotate(settings))
    for table in sorted(report.rotated):
        print(
            f"{table}: {report.rotated[table]} re-encrypted, "
            f"{report.current[table]} already under the newest key"
        )
    total = sum(report.rotated.values())
    print(f"done: {total} values re-encrypted; older keys can now be removed")
    return 0


def cmd_retention(settings: Settings, args: argparse.Namespace) -> int:
    """Apply HELPLINE_RETENTION_DAYS now (the server does it daily by itself)."""
    if settings.retention_days <= 0:
        print("HELPLINE_RETENTION_DAYS is 0: nothing is purged")
        return 0
    report = asyncio.run(_retention(settings))
    print(
        f"retention ({settings.retention_days} days): {report.messages_purged} texts purged, "
        f"{report.outbox_deleted} outbox rows and {report.sessions_deleted} sessions deleted, "
        f"{report.cases_anonymised} cases anonymised, {report.contacts_forgotten} people forgotten"
    )
    return 0


def register_cli(sub: Any) -> None:
    """Add `keys` and `retention` to the `helpline` command line."""
    keys = sub.add_parser("keys", help="encryption keys of personal data")
    keys.add_argument(
        "action",
        choices=["generate", "rotate"],
        help="generate: print a new key; rotate: re-encrypt everything under the newest key",
    )
    keys.set_defaults(func=cmd_keys, keyless_actions=("generate",))
    retention = sub.add_parser("retention", help="apply HELPLINE_RETENTION_DAYS now")
    retention.add_argument("action", choices=["run"])
    retention.set_defaults(func=cmd_retention)
