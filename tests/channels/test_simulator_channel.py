"""The simulator channel: sends reach the hub, SMS cost is reported, the way from the pipeline."""

from __future__ import annotations

import pytest

from bot.channels.base import Channel
from bot.channels.simulator import SimulatorChannel
from bot.hub import Hub
from bot.messages import Button, Outbound
from tests.pipeline_harness import Harness, build_sender
from tests.store.fixtures import (  # noqa: F401
    crypto,
    db,
    db_url,
    now,
    postgres_url,
    sqlite_template,
)


def outbound(text: str = "A jeni mirë?", **kw) -> Outbound:
    """An outbound simulator message to sim:one."""
    return Outbound(outbox_id=1, channel="simulator", urn="sim:one", text=text, **kw)


async def test_send_publishes_text_and_buttons_to_the_urn():
    hub = Hub()
    channel = SimulatorChannel(hub)
    assert isinstance(channel, Channel)
    assert channel.name == "simulator"
    await channel.start()
    async with hub.subscribe("sim:one") as sub, hub.subscribe("sim:other") as other:
        result = await channel.send(outbound(buttons=(Button("Po", "yes"), Button("Jo", "no"))))
        assert result.ok
        assert result.segments == 1
        assert await sub.get() == {
            "type": "message",
            "text": "A jeni mirë?",
            "buttons": [{"label": "Po", "value": "yes"}, {"label": "Jo", "value": "no"}],
        }
        assert other.pending() == 0
    await channel.stop()


async def test_each_send_gets_its_own_external_id_even_with_nobody_watching():
    channel = SimulatorChannel(Hub())
    first, second = await channel.send(outbound()), await channel.send(outbound())
    assert first.ok and second.ok  # a closed page misses it, as a phone that is off would
    assert first.external_id and second.external_id and first.external_id != second.external_id


async def test_a_delete_request_publishes_nothing():
    hub = Hub()
    async with hub.subscribe("sim:one") as sub:
        result = await SimulatorChannel(hub).send(outbound("", kind="delete"))
        assert result.ok
        assert sub.pending() == 0


@pytest.mark.parametrize(("text", "parts"), [("a" * 160, 1), ("a" * 161, 2), ("ë" * 71, 2)])
async def test_send_reports_what_the_text_would_cost_as_sms(text: str, parts: int):
    result = await SimulatorChannel(Hub()).send(outbound(text))
    assert result.segments == parts


async def test_replies_and_events_reach_the_page_from_the_pipeline_through_the_outbox(db):
    hub = Hub()
    harness = await Harness(db, hub=hub).start()  # the real hub, not the harness's recorder
    sender = build_sender(db, {"simulator": SimulatorChannel(hub)}, harness.clock)
    harness.pipeline.hand_to = sender  # the sender that delivers, as app.py wires it
    async with hub.subscribe("sim:page") as page:
        # "ok" says no language: the language menu is asked, with buttons.
        await harness.pipeline.receive(harness.inbound("ok", urn="sim:page"))
        assert await sender.drain_once() == 1
        question = await page.get()
        assert question["type"] == "message"
        values = [b["value"] for b in question["buttons"]]
        assert {"sq", "en"} <= set(values)

        label = question["buttons"][values.index("sq")]["label"]
        await harness.pipeline.receive(
            harness.inbound(label, urn="sim:page", button="sq", channel="simulator")
        )
        event = await page.get()  # events are published at commit, before the outbox sends
        assert event == {"type": "event", "event": "language_changed", "language": "sq"}
        assert await sender.drain_once() >= 1
        reply = await page.get()
        assert reply["type"] == "message" and reply["text"]
    async with db.uow() as uow:
        stats = await uow.outbox.stats(harness.clock())
    assert not stats.get("pending")
