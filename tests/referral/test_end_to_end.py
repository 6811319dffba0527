"""Through the pipeline: danger -> alert -> OK -> the person told -> relay both ways -> closed."""

from __future__ import annotations

import re

from tests.referral.harness import SURVIVOR

COORD_TG = "telegram:5001"
COORD_SMS = "tel:+355692220001"


async def test_a_danger_message_reaches_the_coordinator_who_takes_and_works_the_case(desk, db):
    await desk.add_coordinator("Anna", "tirane", phone="+355692220001", chat="5001", lang="en")
    await desk.add_coordinator("Besa", "national", phone="+355692220009")

    # The person names her municipality, then writes a danger phrase.
    assert desk.to(SURVIVOR, await desk.say("tung")) == ["t.where"]
    assert desk.to(SURVIVOR, await desk.say("Tirana"))[0].startswith("t.shelter")
    sent = await desk.say("ndihmë, do më vrasë")
    [to_person] = desk.to(SURVIVOR, sent)
    assert to_person.startswith("t.danger")

    # The alert went to the on-duty Tirana coordinator, on Telegram (she has a chat id).
    [alert] = [m for m in sent if m.urn == COORD_TG]
    assert alert.channel == "telegram" and alert.kind == "alert"
    ref = re.search(r"R-[0-9A-Z]{4,}", alert.text).group(0)
    assert alert.text.startswith(f"URGENT {ref}: Tiranë, risk not assessed.")
    assert "in danger now" in alert.text and f"reply: OK {ref}" in alert.text
    assert [(b.label, b.value) for b in alert.buttons] == [(f"OK {ref}", f"OK {ref}")]
    # Never the person's number or words.
    assert "691110001" not in alert.text and "vras" not in alert.text.lower()
    assert desk.to(COORD_SMS, sent) == []  # one channel, not both

    # She accepts with the button; the person is told in their language (Albanian).
    sent = await desk.say("", COORD_TG, button=f"OK {ref}")
    assert desk.to(COORD_TG, sent) == [
        f"{ref} is yours. To write to the person: {ref} and your message. HELP for commands."
    ]
    assert desk.to(SURVIVOR, sent) == [
        "Përshëndetje.\n"
        "Një koordinator e ka marrë kërkesën tuaj dhe do t'ju shkruajë këtu së shpejti."
    ]

    # She writes to the person through the helpline: the person sees "Koordinatori", not her.
    sent = await desk.say(f"{ref} Are you safe to talk now?", COORD_TG)
    assert desk.to(SURVIVOR, sent) == ["Përshëndetje.\nKoordinatori: «Are you safe to talk now?»"]
    assert desk.to(COORD_TG, sent) == [f"Sent to {ref}."]
    assert all(m.channel == "sms" for m in sent if m.urn == SURVIVOR)

    # The person answers: it goes to the coordinator, and the bot does not talk over her.
    sent = await desk.say("po, tani jam vetëm")
    assert desk.to(COORD_TG, sent) == [f"{ref} writes: «po, tani jam vetëm»"]
    assert desk.to(SURVIVOR, sent) == []

    # She notes, types, closes.
    await desk.say(f"NOTE {ref} she will go to her sister's", COORD_TG)
    await desk.say(f"TYPE {ref} physical assault", COORD_TG)
    sent = await desk.say(f"CLOSE {ref} resolved", COORD_TG)
    assert desk.to(COORD_TG, sent) == [f"{ref} closed: resolved."]

    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        kinds = [e.kind for e in await uow.cases.events(case.id)]
        assert (case.status, case.category, case.municipality) == (
            "closed",
            "physical_assault",
            "tirane",
        )
        assert case.closed_at == desk.clock()
        for kind in ("alerted", "accepted", "relayed", "note", "updated", "closed"):
            assert kind in kinds
        assert kinds.index("alerted") < kinds.index("accepted") < kinds.index("closed")

    # After closing, the person's words are the bot's again: the question left waiting while
    # they talked with the coordinator comes back.
    sent = await desk.say("hello again")
    assert desk.to(COORD_TG, sent) == []
    sq = desk.catalogs.texts["sq"]
    assert desk.to(SURVIVOR, sent) == [
        f"{sq['sys.not_understood']}\n\nt.shelter\n1. {sq['sys.yes']}\n2. {sq['sys.no']}"
    ]


async def test_a_danger_phrase_first_goes_to_the_national_duty(desk):
    await desk.add_coordinator("Anna", "tirane", chat="5001")
    await desk.add_coordinator("Besa", "national", phone="+355692220009")
    sent = await desk.say("SOS")
    [alert] = [m for m in sent if m.urn == "tel:+355692220009"]
    assert alert.channel == "sms"
    assert "bashkia/komuna e panjohur" in alert.text  # Besa reads Albanian; no country known
    assert desk.to(COORD_TG, sent) == []
