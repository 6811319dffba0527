"""A conversation in the simulator never pages a real coordinator, only demo ones."""

from __future__ import annotations

SIM = "sim:abcdefghijklmnopqrstuv"


async def test_simulator_danger_pages_only_demo_coordinators(desk):
    await desk.add_coordinator("Real", "national", phone="+355692220009")
    sent = await desk.say("SOS", SIM, channel="simulator")
    assert [m for m in sent if m.kind == "alert"] == []  # the real one is never paged
    await desk.add_coordinator("Demo", "national", phone="+355692220010", demo=True)
    sent = await desk.say("SOS", SIM, channel="simulator")
    alerts = [m for m in sent if m.kind == "alert"]
    assert [m.urn for m in alerts] == ["tel:+355692220010"]


async def test_a_real_conversation_still_pages_real_coordinators(desk):
    await desk.add_coordinator("Real", "national", phone="+355692220009")
    sent = await desk.say("SOS")
    assert [m.urn for m in sent if m.kind == "alert"] == ["tel:+355692220009"]
