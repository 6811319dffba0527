"""`helpline demo load`: the municipality lists and demo data, every demo row marked DEMO."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config import Settings
from bot.data import load_municipalities
from bot.referral import directory
from bot.store.opening import opened_database
from bot.store.repositories import Municipality

DEMO_COORDINATOR = "DEMO Arta (koordinatore)"


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


async def load_demo(settings: Settings) -> None:
    """Load the municipality lists, and the shipped services directory into an empty one."""
    async with opened_database(settings) as db:
        items = [Municipality(**m) for m in load_municipalities()]
        async with db.uow() as uow:
            await uow.municipalities.upsert_all(items)
            demo = [c for c in await uow.coordinators.list_all() if c.demo]
            if not demo and settings.simulator:
                # The simulator's coordinator phone: on national duty around the clock, so
                # every simulated urgent case reaches it. It has no number: no real phone rings.
                coordinator = await uow.coordinators.add(
                    name=DEMO_COORDINATOR,
                    municipality="national",
                    phone=None,
                    telegram_chat_id=None,
                    language="sq",
                    role="coordinator",
                    now=utcnow(),
                    demo=True,
                )
                await uow.coordinators.add_shift(
                    coordinator.id, kind="always", tz="Europe/Tirane", now=utcnow()
                )
                demo = [coordinator]
            services = await uow.services.list_all()
            if not services:  # never overwrite a directory an admin has edited
                services = directory.load_seed()
                await uow.services.replace_all(services)
            await uow.commit()
        albania = sum(1 for m in items if m.country == "AL")
        print(f"loaded {albania} Albanian and {len(items) - albania} Kosovo municipalities")
        if demo:
            print(f"demo coordinator: {demo[0].name}, on national duty, on the simulator's phone")
        else:
            print("no demo coordinator: the simulator is off (HELPLINE_SIMULATOR)")
        samples = sum(1 for s in services if s.sample)
        print(f"services directory: {len(services)} entries, {samples} marked SAMPLE (demo data)")
