"""`helpline demo load`: municipalities and the marked sample directory, twice without harm."""

from __future__ import annotations

from bot.config import load_settings
from bot.demo import load_demo
from bot.store import migrate
from bot.store.crypto import Crypto
from bot.store.db import Database


async def test_demo_load_is_repeatable_and_marks_samples(tmp_path, capsys):
    settings = load_settings(env={"HELPLINE_VAR_DIR": str(tmp_path)})
    await migrate.upgrade_async(settings.database_url)
    await load_demo(settings)
    await load_demo(settings)
    out = capsys.readouterr().out
    assert out.count("loaded 61 Albanian and 38 Kosovo municipalities") == 2
    db = Database(settings.database_url, Crypto(settings.data_keys, settings.secret_key))
    try:
        async with db.uow() as uow:
            assert len(await uow.municipalities.list_all()) == 99
            services = await uow.services.list_all()
            coordinators = await uow.coordinators.list_all()
            shifts = await uow.coordinators.shifts([c.id for c in coordinators])
    finally:
        await db.dispose()
    samples = [s for s in services if s.sample]
    assert samples and all("SAMPLE" in (s.notes or "") for s in samples)
    assert any(s.phone == "116 117" for s in services)
    # One demo coordinator, however often it runs: no number, the simulator's phone only.
    [demo] = coordinators
    assert (demo.demo, demo.phone, demo.telegram_chat_id) == (True, None, None)
    assert demo.name.startswith("DEMO") and demo.municipality == "national"
    assert [s.kind for s in shifts] == ["always"]
