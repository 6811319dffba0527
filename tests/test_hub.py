"""The hub: frames reach the subscribers of their URN only; slow readers lose the oldest frames."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from bot.hub import Hub
from bot.messages import Button


async def test_a_subscriber_gets_messages_and_events_for_its_urn_in_order():
    hub = Hub()
    async with hub.subscribe("sim:a") as sub:
        assert (
            hub.publish_message(
                "sim:a", "Hello", [Button("Po", "yes"), {"label": "Jo", "value": "no"}]
            )
            == 1
        )
        hub.publish_event(
            "sim:a", {"type": "risk_assessed", "level": "high", "score": 12, "flags": ["weapon"]}
        )
        assert await sub.get() == {
            "type": "message",
            "text": "Hello",
            "buttons": [{"label": "Po", "value": "yes"}, {"label": "Jo", "value": "no"}],
        }
        assert await sub.get() == {
            "type": "event",
            "event": "risk_assessed",
            "level": "high",
            "score": 12,
            "flags": ["weapon"],
        }


async def test_other_urns_and_late_subscribers_see_nothing():
    hub = Hub()
    assert hub.publish_message("sim:nobody", "lost") == 0  # no subscribers: nothing kept
    async with hub.subscribe("sim:a") as a, hub.subscribe("sim:b") as b:
        hub.publish_message("sim:b", "for b")
        assert a.pending() == 0
        assert (await b.get())["text"] == "for b"
    late = hub.subscribe("sim:nobody")
    assert late.pending() == 0
    late.close()


async def test_every_subscriber_of_a_urn_gets_the_frame():
    hub = Hub()
    async with hub.subscribe("sim:a") as one, hub.subscribe("sim:a") as two:
        assert hub.subscribers("sim:a") == 2
        assert hub.publish_event("sim:a", {"type": "case_opened", "reference": "R-4821"}) == 2
        for sub in (one, two):
            assert await sub.get() == {
                "type": "event",
                "event": "case_opened",
                "reference": "R-4821",
            }


async def test_a_full_queue_drops_the_oldest_and_counts_it_without_blocking():
    before = REGISTRY.get_sample_value("helpline_hub_dropped_total") or 0.0
    hub = Hub(queue_size=3)
    async with hub.subscribe("sim:slow") as sub:
        for n in range(5):
            hub.publish_message("sim:slow", f"m{n}")  # synchronous: it cannot wait on a reader
        assert sub.pending() == 3
        assert [(await sub.get())["text"] for _ in range(3)] == ["m2", "m3", "m4"]
        assert sub.dropped == 2
        assert hub.dropped == 2
    after = REGISTRY.get_sample_value("helpline_hub_dropped_total")
    assert after == before + 2


async def test_closing_ends_iteration_and_unsubscribes():
    hub = Hub()
    sub = hub.subscribe("sim:a")
    hub.publish_message("sim:a", "one")

    got_one = asyncio.Event()

    async def read_all() -> list[str]:
        """Read texts until the subscription closes."""
        texts = []
        async for frame in sub:
            texts.append(frame["text"])
            got_one.set()  # the reader next blocks on the empty queue, before the test resumes
        return texts

    reader = asyncio.create_task(read_all())
    await got_one.wait()
    sub.close()
    assert await reader == ["one"]
    assert hub.subscribers("sim:a") == 0
    assert hub.publish_message("sim:a", "two") == 0
    assert await sub.get() is None


async def test_leaving_the_context_unsubscribes_even_on_error():
    hub = Hub()
    with pytest.raises(RuntimeError):
        async with hub.subscribe("sim:a"):
            assert hub.subscribers("sim:a") == 1
            raise RuntimeError("boom")
    assert hub.subscribers("sim:a") == 0


async def test_a_waiting_reader_wakes_when_closed_even_with_a_full_queue():
    hub = Hub(queue_size=1)
    sub = hub.subscribe("sim:a")
    hub.publish_message("sim:a", "pending")
    sub.close()
    assert await sub.get() is None  # the sentinel took the last slot: closing wins over pending


def test_the_queue_size_must_be_positive():
    with pytest.raises(ValueError):
        Hub(queue_size=0)
