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


async def test_a_service_she_chooses_reaches_a_coordinator_even_when_the_risk_is_standard(db):
    # Walkthrough: no red flag, she chose shelter and read "Noted. The coordinator will connect
    # you with this service"; no coordinator was ever told (no page, no digest): nobody would.
    from datetime import timedelta

    from tests.followups.harness import COORDINATOR_PHONE, FollowupDesk

    desk = await FollowupDesk(db).start()
    person = "tel:+355691110003"
    for says in ["pershendetje", "po", "jo", "1", "Tirana", *["jo"] * 12]:
        await desk.say(says, person)
    sent = await desk.say("2", person)  # shelter
    assert desk.to(person, sent)[0].startswith("U shënua. Koordinatori ju lidh")
    for says in ["jo", "jo", "jo"]:
        sent = await desk.say(says, person)
    ref = re.search(r"R-[0-9A-Z]{8}", desk.to(person, sent)[0]).group(0)
    desk.clock.advance(timedelta(hours=1))
    await desk.pipeline.sweep_referrals()
    told = desk.to(f"tel:{COORDINATOR_PHONE}", await desk.drain())
    assert any(ref in t for t in told), told
