"""Check-ins due now for many people, written straight through the store (crash/worker tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.crypto import Crypto
from bot.store.db import Database
from tests.store.fixtures import DATA_KEYS, SECRET_KEY

ALL_DAY = ["any", "night"]  # so the test does not depend on the hour it runs at


def phone(i: int) -> str:
    """The i-th test number (Albanian mobile range)."""
    return f"+35569{2000000 + i:07d}"


async def seed_due_checkins(url: str, n: int, now: datetime, first: int = 0) -> list[int]:
    """`n` people (numbers from `first` on), each with an order plan and one check-in due a
    minute ago; their contact ids."""
    db = Database(url, Crypto(DATA_KEYS, SECRET_KEY))
    ids = []
    try:
        async with db.uow() as uow:
            for i in range(first, first + n):
                contact, _ = await uow.contacts.get_or_create(f"tel:{phone(i)}", "sms", now)
                await uow.contacts.set_language(contact.id, "en")
                case = await uow.cases.open(contact.id, now)
                plan = await uow.followups.add_plan(
                    kind="order",
                    contact_id=contact.id,
                    case_id=case.id,
                    order_id=None,
                    windows=ALL_DAY,
                    tz="Europe/Tirane",
                    starts_at=now - timedelta(days=1),
                    ends_at=now + timedelta(days=300),
                    now=now,
                )
                await uow.followups.add_checkin(
                    plan_id=plan.id,
                    contact_id=contact.id,
                    nominal_at=now - timedelta(minutes=1),
                    due_at=now - timedelta(minutes=1),
                    now=now,
                )
                ids.append(contact.id)
            await uow.commit()
    finally:
        await db.dispose()
    return ids
