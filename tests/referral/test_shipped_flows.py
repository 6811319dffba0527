"""The shipped flows (bot/flows) page the duty through the lead's pipeline harness."""

from __future__ import annotations

import re

from tests.pipeline_harness import Harness


async def test_a_danger_phrase_in_the_shipped_flows_pages_the_national_duty(db):
    harness = await Harness(db).start()
    async with db.uow() as uow:
        c = await uow.coordinators.add(
            name="Nora", municipality="national", phone="+355692220009", telegram_chat_id=None,
            language="en", role="coordinator", now=harness.clock(),
        )  # fmt: skip
        await uow.coordinators.add_shift(
            c.id, kind="always", tz="Europe/Tirane", now=harness.clock()
        )
        await uow.commit()
    person = {"urn": "tel:+355691110002", "channel": "sms"}  # a simulator case would page no one
    await harness.say("Përshëndetje", **person)
    before = len(harness.channel.sent)
    await harness.say("jam në rrezik", **person)
    alerts = [m for m in harness.channel.sent[before:] if m.urn == "tel:+355692220009"]
    assert len(alerts) == 1 and alerts[0].kind == "alert"
    assert re.match(
        r"URGENT R-[0-9A-Z]{4,}: municipality unknown, risk not assessed\. ", alerts[0].text
    )
    assert "in danger now" in alerts[0].text
