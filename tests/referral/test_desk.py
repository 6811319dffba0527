"""Working a case from the phone: commands, the number and its audit, consent, exit, erasure."""

from __future__ import annotations

import re

from bot.store.records import Service
from tests.referral.harness import SURVIVOR

ARTA = "tel:+355692220001"
BLERTA = "tel:+355692220002"


async def _accepted_case(desk, *, consent: str = "po") -> str:
    """A case in Tirana that Arta (Albanian, SMS) accepted; returns its reference."""
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    await desk.add_coordinator("Blerta", "tirane", phone="+355692220002", lang="en")
    await desk.say("tung")  # Albanian: the replies are in Albanian
    await desk.say("Tirana")
    await desk.say(consent)  # shelter consent; a (non-urgent) coordinator request
    sent = await desk.say("më rreh")  # danger: now urgent
    ref = re.search(r"R-[0-9A-Z]{4,}", desk.to(ARTA, sent)[0]).group(0)
    await desk.say(f"OK {ref}", ARTA)
    return ref


async def _reply(desk, text: str, urn: str = ARTA, **kw) -> list[str]:
    return desk.to(urn, await desk.say(text, urn, **kw))


async def test_the_number_goes_only_to_the_accepting_coordinator_and_is_audited(desk, db):
    ref = await _accepted_case(desk)
    assert await _reply(desk, f"NUMRI {ref}") == [
        f"Numri për {ref}: +355691110001. U regjistrua. Telefono vetëm kur është e sigurt."
    ]
    assert await _reply(desk, f"NUMBER {ref}", BLERTA) == [f"Case {ref} is not available to you."]
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        entries = await uow.audit.list_all(case_id=case.id)
        arta = await uow.coordinators.find_by_urn(ARTA)
    assert [(e.action, e.coordinator_id, e.at) for e in entries] == [
        ("number_revealed", arta.id, desk.clock())
    ]
    assert "691110001" not in str(entries[0].data)


async def test_a_referral_needs_the_persons_consent_to_that_kind_of_service(desk, db):
    ref = await _accepted_case(desk)
    assert await _reply(desk, f"REFERO {ref} policia") == [
        f"{ref}: personi nuk është pyetur për policia. Pyete më parë."
    ]
    assert await _reply(desk, f"REFERO {ref} strehë") == [
        f"{ref}: u regjistrua referimi te strehimi."
    ]
    assert await _reply(desk, f"REFERO {ref} cirk") == [
        f"Shërbimet: polici, strehë, shëndet, ligjor, psikosocial, social, ekonomik. "
        f"P.sh. REFERO {ref} strehë"
    ]
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        referred = [e.data for e in await uow.cases.events(case.id) if e.kind == "referred"]
    assert case.status == "referred"
    assert [d["service"] for d in referred] == ["shelter"]


async def test_a_no_is_respected(desk):
    ref = await _accepted_case(desk, consent="jo")
    assert await _reply(desk, f"REFER {ref} shelter") == [
        f"{ref}: personi tha jo për strehimi. Respektoje."
    ]


async def test_type_note_cases_help_and_closing(desk, db):
    ref = await _accepted_case(desk)
    assert await _reply(desk, f"LLOJI {ref} martesë e detyruar") == [
        f"{ref}: lloji u vendos: martesë e detyruar."
    ]
    assert (await _reply(desk, f"LLOJI {ref} vjedhje"))[0].startswith("Llojet: përdhunim")
    assert await _reply(desk, f"SHENIM {ref} e takova") == [f"Shënimi u ruajt te {ref}."]
    assert await _reply(desk, f"SHENIM {ref}") == [
        f"Shkruaj shënimin pas referencës: SHENIM {ref} teksti"
    ]
    assert await _reply(desk, "RASTET") == [f"Rastet e tua (1):\n{ref}: Tiranë, në punë"]
    assert (await _reply(desk, "NDIHMË"))[0].startswith("Komandat:\nOK R-1234: merr rastin")
    assert (await _reply(desk, "çfarë?"))[0].startswith("Komandat:")
    assert (await _reply(desk, "MBYLL"))[0].startswith(
        "Shkruaj edhe referencën e rastit, p.sh. R-4821.\nKomandat:"
    )
    assert (await _reply(desk, f"MBYLL {ref} pastaj"))[0].startswith("Përfundimet: zgjidhur")
    assert await _reply(desk, f"MBYLL {ref} pa kontakt nuk përgjigjet") == [
        f"{ref} u mbyll: pa kontakt."
    ]
    assert await _reply(desk, f"SHENIM {ref} edhe diçka") == [f"{ref} është mbyllur."]
    assert await _reply(desk, f"OK {ref}") == [f"{ref} është mbyllur."]
    assert await _reply(desk, "RASTET") == ["S'ke raste të hapura."]
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        events = await uow.cases.events(case.id)
    closed = [e.data for e in events if e.kind == "closed"]
    notes = [e.data["text"] for e in events if e.kind == "note"]
    assert closed == [{"outcome": "no_contact", "coordinator_id": closed[0]["coordinator_id"]}]
    assert notes == ["e takova", "nuk përgjigjet"]  # the words after an outcome are a note
    assert case.category == "forced_marriage"


async def test_quick_exit_holds_the_relay_until_the_person_writes_again(desk):
    ref = await _accepted_case(desk)
    await desk.say(f"{ref} Si je?", ARTA)
    sent = await desk.say("DIL")
    assert desk.to(SURVIVOR, sent) == ["t.exit"]
    assert desk.to(ARTA, sent) == [
        f"{ref} shkruan: «DIL»",
        f"{ref} përdori daljen e shpejtë: nuk i dërgohet asgjë derisa të shkruajë vetë.",
    ]
    sent = await desk.say(f"{ref} A je mirë?", ARTA)
    assert desk.to(SURVIVOR, sent) == []  # nothing reaches the person
    assert desk.to(ARTA, sent) == [
        f"{ref} përdori daljen e shpejtë. Mos i shkruaj derisa të shkruajë vetë."
    ]
    sent = await desk.say("jam mirë tani")  # they write again
    assert desk.to(ARTA, sent) == [f"{ref} shkruan: «jam mirë tani»"]
    sent = await desk.say(f"{ref} Mirë, të shkruaj nesër.", ARTA)
    assert desk.to(SURVIVOR, sent) == ["Përshëndetje.\nKoordinatori: «Mirë, të shkruaj nesër.»"]


async def test_erasure_during_a_relay_is_confirmed_by_the_person_and_ends_it(desk, db):
    ref = await _accepted_case(desk)
    await desk.say(f"{ref} Si je?", ARTA)
    sent = await desk.say("FSHI")
    assert desk.to(SURVIVOR, sent)[0].startswith("t.erase_confirm")
    sent = await desk.say("po")  # the answer to FSHI's question reaches the flow
    assert desk.to(SURVIVOR, sent) == ["t.erased"]
    assert f"{ref}: personi fshiu të dhënat e veta." in desk.to(ARTA, sent)[-1]
    assert await _reply(desk, f"{ref} a je aty?") == [
        f"{ref}: personi nuk mund të kontaktohet më përmes linjës."
    ]
    assert await _reply(desk, f"NUMRI {ref}") == [
        f"{ref}: personi nuk mund të kontaktohet më përmes linjës."
    ]
    async with db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        assert case.contact_id is None and case.status == "accepted"


async def test_a_telegram_reply_to_an_alert_relays_to_the_person(desk):
    await desk.add_coordinator("Tea", "tirane", chat="9001", lang="en")
    await desk.say("tung")
    await desk.say("Tirana")
    sent = await desk.say("SOS")
    [alert] = [m for m in sent if m.urn == "telegram:9001"]
    ref = re.search(r"R-[0-9A-Z]{4,}", alert.text).group(0)
    await desk.say(f"OK {ref}", "telegram:9001")
    external_id = f"telegram-{desk.channels['telegram'].sent.index(alert) + 1}"
    sent = await desk.say("Are you safe?", "telegram:9001", meta={"reply_to": external_id})
    assert desk.to(SURVIVOR, sent) == ["Përshëndetje.\nKoordinatori: «Are you safe?»"]
    # Without a reply it is not a relay: a coordinator's stray words never reach a person.
    sent = await desk.say("Are you safe?", "telegram:9001")
    assert desk.to(SURVIVOR, sent) == []


async def test_consent_brings_the_nearest_services_in_the_persons_language(desk, db):
    async with db.uow() as uow:
        await uow.services.replace_all(
            [
                Service(
                    "AL", "shkoder", "shelter", "Streha Shkodër", "022 100", "24/7", serves=["has"]
                ),
                Service("AL", "national", "shelter", "Streha kombëtare", "0800 1"),
                Service("AL", "tirane", "shelter", "Test shelter", "04 000", notes="SAMPLE"),
            ]
        )
        await uow.commit()
    await desk.say("tung")
    await desk.say("Has")
    [reply] = desk.to(SURVIVOR, await desk.say("po"))
    assert reply.startswith(
        "Numra që mund t'ju ndihmojnë:\n"
        "Streha Shkodër: 022 100 (24 orë)\n"
        "Streha kombëtare: 0800 1\n\n"
        "t.thanks"
    )
    await desk.say("tung", "tel:+355691110002")
    await desk.say("Tirana", "tel:+355691110002")
    [reply] = desk.to("tel:+355691110002", await desk.say("po", "tel:+355691110002"))
    assert "Test shelter" not in reply  # sample data never reaches a person
    assert "Streha kombëtare: 0800 1" in reply
    await desk.say("tung", "tel:+355691110003")
    await desk.say("Tirana", "tel:+355691110003")
    [reply] = desk.to("tel:+355691110003", await desk.say("jo", "tel:+355691110003"))
    assert "Numra" not in reply  # no consent, no list
