"""A first message that names her municipality pages that municipality's duty, through the
whole pipeline (shipped flows, real database, outbox): the walkthrough's page said "municipality
unknown" and went to the national duty only."""

from __future__ import annotations

import re

from tests.flows.dialogue import text
from tests.pipeline_harness import Harness

FERIZAJ_COORDINATOR = "+38344220001"
NATIONAL_COORDINATOR = "+355692220001"


async def _on_duty(harness: Harness, name: str, municipality: str, phone: str) -> None:
    async with harness.db.uow() as uow:
        c = await uow.coordinators.add(
            name=name, municipality=municipality, phone=phone, telegram_chat_id=None,
            language="sq", role="coordinator", now=harness.clock(),
        )  # fmt: skip
        await uow.coordinators.add_shift(
            c.id, kind="always", tz="Europe/Belgrade", now=harness.clock()
        )
        await uow.commit()


async def test_a_municipality_in_the_first_message_pages_its_duty_coordinator(db):
    harness = await Harness(db).start()
    await _on_duty(harness, "Nora", "national", NATIONAL_COORDINATOR)
    await _on_duty(harness, "Blerta", "ferizaj", FERIZAJ_COORDINATOR)
    person = {"urn": "tel:+38344110009", "channel": "sms"}
    before = len(harness.channel.sent)
    await harness.say("më rreh burri, jam në Ferizaj", **person)
    sent = harness.channel.sent[before:]
    replies = [m.text for m in sent if m.urn == person["urn"]]
    alerts = [m for m in sent if m.kind == "alert"]
    assert [m.urn for m in alerts] == [f"tel:{FERIZAJ_COORDINATOR}"]  # not national first
    assert re.match(r"URGJENT R-[0-9A-Z]{4,}: Ferizaj, ", alerts[0].text), alerts[0].text
    assert "unknown" not in alerts[0].text and "panjohur" not in alerts[0].text
    assert "+38344110009" not in alerts[0].text and "44110009" not in alerts[0].text
    # Her reply: Kosovo's police number, and no question about where she is, then or later.
    assert replies[0].startswith(text("sq", "danger.call", emergency="112", police="192"))
    await harness.say("po", **person)  # safe to text
    replies = [m.text for m in harness.channel.sent if m.urn == person["urn"]][1:]
    assert len(replies) == 1
    assert text("sq", "fc.municipality") not in replies[0]
    assert text("sq", "screen.intro") in replies[0]
    async with db.uow() as uow:
        contact = await uow.contacts.find_by_urn(person["urn"])
        case = await uow.cases.open_for_contact(contact.id)
    assert case.municipality == "ferizaj" and case.urgency == "urgent"
    assert contact.fields["municipality"] == "ferizaj"


async def test_someone_elses_place_in_the_first_message_pages_the_national_duty_and_asks(db):
    harness = await Harness(db).start()
    await _on_duty(harness, "Nora", "national", NATIONAL_COORDINATOR)
    await _on_duty(harness, "Blerta", "ferizaj", FERIZAJ_COORDINATOR)
    person = {"urn": "tel:+38344110010", "channel": "sms"}
    before = len(harness.channel.sent)
    await harness.say("burri ka ikur në Ferizaj, më kërcënon në telefon", **person)
    alerts = [m for m in harness.channel.sent[before:] if m.kind == "alert"]
    assert [m.urn for m in alerts] == [f"tel:{NATIONAL_COORDINATOR}"]
    replies = await harness.say("po", **person)
    assert text("sq", "fc.role") in replies[0] or text("sq", "fc.municipality") in replies[0]
