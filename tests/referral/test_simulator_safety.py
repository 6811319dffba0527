"""Simulated and real cases never mix: the simulator pages demo coordinators only, on its phone."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

SIM = "sim:abcdefghijklmnopqrstuv"


async def test_simulator_danger_pages_only_demo_coordinators_on_the_simulator(desk):
    await desk.add_coordinator("Real", "national", phone="+355692220009")
    sent = await desk.say("SOS", SIM, channel="simulator")
    assert [m for m in sent if m.kind == "alert"] == []  # the real one is never paged
    demo = await desk.add_coordinator("Demo", "national", phone="+355692220010", demo=True)
    sent = await desk.say("SOS", SIM, channel="simulator")
    alerts = [m for m in sent if m.kind == "alert"]
    # Not by SMS, though the demo row has a number: it could be anybody's.
    assert [(m.channel, m.urn) for m in alerts] == [("simulator", demo.simulator_urn)]
    assert demo.simulator_urn == f"sim:demo-coordinator-{demo.id:06d}"


async def test_a_real_person_writing_from_a_demo_coordinators_number_reaches_the_helpline(desk):
    """Demo and real never meet in commands: the number on a demo row could be anybody's."""
    await desk.add_coordinator("Demo", "national", phone="+355692220010", demo=True)
    async with desk.db.uow() as uow:
        assert await uow.coordinators.find_by_urn("tel:+355692220010") is None
        assert await uow.coordinators.find_by_urn("whatsapp:+355692220010") is None
    # Answered as anybody writing for the first time, not by the coordinators' desk.
    stranger = desk.to("tel:+355691119999", await desk.say("pershendetje", "tel:+355691119999"))
    her = desk.to("tel:+355692220010", await desk.say("pershendetje", "tel:+355692220010"))
    assert her == stranger and her


async def test_a_real_conversation_pages_real_coordinators_never_demo_ones(desk):
    await desk.add_coordinator("Demo", "national", demo=True, phone=None)
    sent = await desk.say("SOS")
    assert [m for m in sent if m.kind == "alert"] == []
    await desk.add_coordinator("Real", "national", phone="+355692220009")
    sent = await desk.say("SOS")
    assert [m.urn for m in sent if m.kind == "alert"] == ["tel:+355692220009"]


async def test_the_demo_phone_works_a_simulated_case(desk):
    demo = await desk.add_coordinator("Demo", "national", demo=True, phone=None)
    sent = await desk.say("SOS", SIM, channel="simulator")
    [alert] = [m for m in sent if m.kind == "alert"]
    ref = alert.text.split()[1].rstrip(":")
    sent = await desk.say("", demo.simulator_urn, channel="simulator", button=f"OK {ref}")
    assert desk.to(SIM, sent) == [
        "Përshëndetje.\n"
        "Një koordinator e ka marrë kërkesën tuaj dhe do t'ju shkruajë këtu së shpejti."
    ]
    sent = await desk.say(f"{ref} Jeni e sigurt tani?", demo.simulator_urn, channel="simulator")
    assert desk.to(SIM, sent) == ["Përshëndetje.\nKoordinatori: «Jeni e sigurt tani?»"]
    # An address that only looks like the demo phone is nobody.
    async with desk.db.uow() as uow:
        assert await uow.coordinators.find_by_urn("sim:demo-coordinator-999999") is None
        assert await uow.coordinators.find_by_urn("sim:demo-coordinator-x") is None
        assert await uow.coordinators.find_by_urn("sim:demo-coordinator-²") is None  # a digit


# -- issue 14, item 1: the attacks, replayed ----------------------------------------------------

ARTA = "tel:+355692220001"


async def _real_case_in_tirane(desk, urn: str = "tel:+355691110001") -> str:
    """A real urgent case in Tirana, paged to one of its coordinators; its reference."""
    await desk.say("hi", urn)
    await desk.say("Tirana", urn)
    sent = await desk.say("jam në rrezik", urn)
    [page] = [m.text for m in sent if m.kind == "alert"]
    return re.search(r"R-[0-9A-Z]{4,}", page).group(0)


def _took(ref: str) -> str:
    return f"{ref} është i yti. Për t'i shkruar personit: {ref} dhe mesazhi. NDIHME për komandat."


async def _answers(desk, text: str, urn: str, channel: str | None = None) -> list[str]:
    kw = {"channel": channel} if channel else {}
    return desk.to(urn, await desk.say(text, urn, **kw))


async def _status(desk, ref: str) -> tuple[str, object]:
    async with desk.db.uow() as uow:
        case = await uow.cases.get_by_reference(ref)
        return case.status, await uow.alerts.assignment(case.id)


LOCKED = ["Shumë referenca të gabuara. Provo sërish pas 15 minutash."]


def _neutral(ref: str) -> list[str]:
    return [f"Rasti {ref} nuk është i disponueshëm për ty."]


async def test_the_demo_coordinator_cannot_take_or_work_a_real_case(desk):
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    demo = await desk.add_coordinator("Demo", "national", demo=True, phone=None)
    ref = await _real_case_in_tirane(desk)
    phone = demo.simulator_urn
    # The attack: OK, then NUMRI for her number, then a relay to reach her phone.
    assert await _answers(desk, f"OK {ref}", phone, "simulator") == _neutral(ref)
    assert await _answers(desk, "OK", phone, "simulator") == ["S'ke asnjë rast në pritje."]
    sent = await desk.say("", phone, channel="simulator", button=f"OK {ref}")
    assert desk.to(phone, sent) == _neutral(ref)
    assert await _answers(desk, f"NUMRI {ref}", phone, "simulator") == _neutral(ref)
    sent = await desk.say(f"{ref} Ku jeni?", phone, channel="simulator")
    assert desk.to(phone, sent) == _neutral(ref)
    assert [m for m in sent if m.urn != phone] == []  # nothing reached the survivor
    assert await _status(desk, ref) == ("alerted", None)
    for command in (f"SHENIM {ref} x", f"MBYLL {ref} zgjidhur", f"LLOJI {ref} sulm fizik"):
        # Refused; after five tries in a row, also cut off for a while (LOCKED).
        assert await _answers(desk, command, phone, "simulator") in (_neutral(ref), LOCKED)
    assert await _status(desk, ref) == ("alerted", None)
    # Arta, who was paged, still takes it.
    assert await _answers(desk, f"OK {ref}", ARTA) == [_took(ref)]


async def test_a_coordinator_of_another_municipality_cannot_act_on_a_case(desk):
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    dea = (await desk.add_coordinator("Dea", "durres", phone="+355692220005")).sms_urn
    nora = (await desk.add_coordinator("Nora", "national", phone="+355692220009")).sms_urn
    ref = await _real_case_in_tirane(desk)
    for urn in (dea, nora):  # national duty, not paged for it: no more than Durrës
        for command in (f"OK {ref}", f"NUMRI {ref}", f"{ref} Ku jeni?"):
            assert await _answers(desk, command, urn) == _neutral(ref), (urn, command)
    assert await _status(desk, ref) == ("alerted", None)


async def test_a_local_coordinator_not_paged_may_take_a_case_of_her_municipality(desk):
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    ref = await _real_case_in_tirane(desk)
    besa = (await desk.add_coordinator("Besa", "tirane", phone="+355692220002")).sms_urn
    assert await _answers(desk, f"OK {ref}", besa) == [_took(ref)]


async def test_a_real_coordinator_cannot_act_on_a_simulated_case(desk):
    demo = await desk.add_coordinator("Demo", "national", demo=True, phone=None)
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    nora = (await desk.add_coordinator("Nora", "national", phone="+355692220009")).sms_urn
    await desk.say("hi", SIM, channel="simulator")
    await desk.say("Tirana", SIM, channel="simulator")
    sent = await desk.say("SOS", SIM, channel="simulator")
    ref = re.search(r"R-[0-9A-Z]{4,}", desk.to(demo.simulator_urn, sent)[0]).group(0)
    for urn in (ARTA, nora):  # Tirana's own coordinator too
        assert await _answers(desk, f"OK {ref}", urn) == _neutral(ref)
    assert await _status(desk, ref) == ("alerted", None)


async def test_every_refusal_reads_the_same_whatever_the_reason(desk):
    """Unknown, not paged, another's, taken, closed, simulated: one answer, the reference aside."""
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    besa = (await desk.add_coordinator("Besa", "tirane", phone="+355692220002")).sms_urn
    dea = (await desk.add_coordinator("Dea", "durres", phone="+355692220005")).sms_urn
    demo = await desk.add_coordinator("Demo", "national", demo=True, phone=None)
    taken = await _real_case_in_tirane(desk)
    await desk.say(f"OK {taken}", ARTA)
    closed = await _real_case_in_tirane(desk, "tel:+355691110002")
    await desk.say(f"OK {closed}", ARTA)
    await desk.say(f"MBYLL {closed} zgjidhur", ARTA)
    fresh = await _real_case_in_tirane(desk, "tel:+355691110003")
    sim = await desk.say("SOS", SIM, channel="simulator")
    simulated = re.search(r"R-[0-9A-Z]{4,}", desk.to(demo.simulator_urn, sim)[0]).group(0)
    tries = [
        (dea, "OK R-ZZZZ9999"),  # does not exist
        (dea, f"OK {fresh}"),  # exists, another municipality
        (besa, f"OK {taken}"),  # exists, taken by Arta
        (besa, f"OK {closed}"),  # exists, closed
        (besa, f"OK {simulated}"),  # exists, simulated
        (besa, f"NUMRI {taken}"),  # exists, Arta's
        (besa, "NUMRI R-ZZZZ9999"),  # does not exist
        (dea, f"{fresh} hello"),
        (dea, "R-ZZZZ9999 hello"),
    ]
    answers = set()
    for urn, command in tries:
        ref = command.split()[1] if command.startswith(("OK", "NUMRI")) else command.split()[0]
        [answer] = await _answers(desk, command, urn)
        answers.add(answer.replace(ref, "<ref>"))
    assert answers == {"Rasti <ref> nuk është i disponueshëm për ty."}


async def test_guessing_references_is_cut_off_and_the_limit_survives_a_restart(desk, db):
    from tests.referral.harness import Desk

    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    ref = await _real_case_in_tirane(desk)  # Tirana's, paged to Arta: Besa could take it
    besa = (await desk.add_coordinator("Besa", "tirane", phone="+355692220002")).sms_urn
    mine = await _real_case_in_tirane(desk, "tel:+355691110002")
    await desk.say(f"OK {mine}", besa)  # Besa's own case
    for n in range(5):  # a brute force: wrong references, one after the other
        assert await _answers(desk, f"OK R-{n:04d}ABCD", besa) == _neutral(f"R-{n:04d}ABCD")
    locked = LOCKED
    assert await _answers(desk, "OK R-00009999", besa) == locked
    # Now even a reference that exists answers the same, so guessing learns nothing.
    assert await _answers(desk, f"OK {ref}", besa) == locked
    assert await _answers(desk, f"NUMRI {ref}", besa) == locked
    # Her own case still works.
    assert await _answers(desk, f"SHENIM {mine} thirra", besa) == [f"Shënimi u ruajt te {mine}."]
    async with db.uow() as uow:
        entries = [e.action for e in await uow.audit.list_all()]
    assert entries.count("case_lookup_locked") == 1
    # A restart (a new pipeline on the same database) does not forget it.
    again = await Desk(db, clock=desk.clock).start()
    again._ids = itertools.count(10_000)  # provider ids the first desk did not use
    assert await _answers(again, f"OK {ref}", besa) == locked
    # After the window, she may try again.
    await again.tick(timedelta(minutes=16))
    assert await _answers(again, f"OK {ref}", besa) == [_took(ref)]


async def test_simulated_cases_stay_out_of_real_lists_and_statistics(desk, db):
    demo = await desk.add_coordinator("Demo", "national", demo=True, phone=None)
    await desk.add_coordinator("Arta", "tirane", phone="+355692220001")
    real = await _real_case_in_tirane(desk)
    await desk.say(f"OK {real}", ARTA)
    sent = await desk.say("SOS", SIM, channel="simulator")
    sim = re.search(r"R-[0-9A-Z]{4,}", desk.to(demo.simulator_urn, sent)[0]).group(0)
    await desk.say(f"OK {sim}", demo.simulator_urn, channel="simulator")
    async with db.uow() as uow:
        listed = [c.reference for c in await uow.cases.find()]
        figures = await uow.stats.case_figures()
        sim_case = await uow.cases.get_by_reference(sim)
        in_scope = await uow.cases.in_scope(sim_case.id, None)
    assert listed == [real] and len(figures) == 1 and in_scope is None
    rastet = await _answers(desk, "RASTET", ARTA)
    assert real in rastet[0] and sim not in rastet[0]
    demo_list = await _answers(desk, "RASTET", demo.simulator_urn, "simulator")
    assert sim in demo_list[0] and real not in demo_list[0]
