"""Flow versions are kept once each; municipalities are upserted by slug."""

from __future__ import annotations

from datetime import timedelta

from bot.store.repositories import Municipality

TIRANE = Municipality("tirane", "Tiranë", "AL", "Tiranë", "Europe/Tirane", ["tirana", "tr"])
PRISHTINE = Municipality("prishtine", "Prishtinë", "XK", None, "Europe/Belgrade", ("pristina",))


async def test_flow_versions_are_saved_once_and_listed_oldest_first(db, now):
    async with db.uow() as uow:
        assert await uow.flows.save("main", "a1b2c3d4e5f6", "flow: main\n", now) is True
        assert await uow.flows.save("main", "a1b2c3d4e5f6", "changed?", now) is False
        later = now + timedelta(hours=1)
        assert await uow.flows.save("main", "0000000000ff", "flow: main # v2\n", later) is True
        assert await uow.flows.save("other", "a1b2c3d4e5f6", "flow: other\n", now) is True
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.flows.get("main", "a1b2c3d4e5f6") == "flow: main\n"
        assert await uow.flows.get("main", "ffffffffffff") is None
        assert await uow.flows.versions("main") == [("a1b2c3d4e5f6", now), ("0000000000ff", later)]
        assert await uow.flows.versions("none") == []


async def test_municipalities_upsert_by_slug(db):
    assert TIRANE.aliases == ("tirana", "tr")
    async with db.uow() as uow:
        await uow.municipalities.upsert_all([TIRANE, PRISHTINE])
        await uow.municipalities.upsert_all([])
        await uow.commit()
    renamed = Municipality("tirane", "Tirana", "AL", "Tiranë", "Europe/Tirane", ("tirona",))
    async with db.uow() as uow:
        assert await uow.municipalities.list_all() == [PRISHTINE, TIRANE]
        await uow.municipalities.upsert_all([renamed])
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.municipalities.list_all() == [PRISHTINE, renamed]
