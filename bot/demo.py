"""`helpline demo load`: the municipality lists and demo data, every demo row marked DEMO."""

from __future__ import annotations

from bot.config import Settings
from bot.data import load_municipalities
from bot.store.crypto import Crypto
from bot.store.db import Database
from bot.store.repositories import Municipality


async def load_demo(settings: Settings) -> None:
    """Load (or refresh) the shipped municipality lists; later issues add demo coordinators."""
    db = Database(settings.database_url, Crypto(settings.data_keys, settings.secret_key))
    try:
        items = [Municipality(**m) for m in load_municipalities()]
        async with db.uow() as uow:
            await uow.municipalities.upsert_all(items)
            await uow.commit()
        albania = sum(1 for m in items if m.country == "AL")
        print(f"loaded {albania} Albanian and {len(items) - albania} Kosovo municipalities")
    finally:
        await db.dispose()
