"""Looking for personal data where it must not be: decrypted columns, raw files, dumps, logs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from bot.store.repos.retention import encrypted_columns


async def decrypted_text(db: Any) -> str:
    """Every encrypted value in the database, decrypted, joined: what a key holder could read."""
    parts: list[str] = []
    async with db.uow() as uow:
        for _table, _key, columns in encrypted_columns():
            rows = await uow.conn.execute(sa.select(*columns))
            for row in rows:
                parts.extend(db.crypto.decrypt(v) for v in row if v is not None)
    return "\n".join(parts)


def found(haystack: bytes | str, needles: Iterable[str]) -> list[str]:
    """The needles present in the haystack (UTF-8 bytes, or text), in any letter case."""
    text = haystack.decode("utf-8", errors="replace") if isinstance(haystack, bytes) else haystack
    lowered = text.lower()
    return sorted({n for n in needles if n.lower() in lowered})


def phone_forms(e164: str) -> list[str]:
    """The ways a number may be written: +355691110042, 355691110042, 0691110042, 691110042."""
    digits = e164.lstrip("+")
    national = digits[3:]
    return [e164, digits, "0" + national, national]
