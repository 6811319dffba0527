"""Simulated and real cases never mix: the simulator pages demo coordinators only, on its phone."""

from __future__ import annotations

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
        "Një koordinator e ka marrë kërkesën tënde dhe do të të shkruajë këtu së shpejti."
    ]
    sent = await desk.say(f"{ref} Jeni e sigurt tani?", demo.simulator_urn, channel="simulator")
    assert desk.to(SIM, sent) == ["Përshëndetje.\nKoordinatori: Jeni e sigurt tani?"]
    # An address that only looks like the demo phone is nobody.
    async with desk.db.uow() as uow:
        assert await uow.coordinators.find_by_urn("sim:demo-coordinator-999999") is None
        assert await uow.coordinators.find_by_urn("sim:demo-coordinator-x") is None
