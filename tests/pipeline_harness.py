"""The one way tests build a pipeline and an outbox sender (wired as app.py wires them), and a
harness: a pipeline on a real database with a recording channel and a hand-moved clock."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.data import load_municipalities
from bot.data.numbers import load_numbers
from bot.engine.env import Place
from bot.flows.library import FlowLibrary
from bot.i18n import Catalogs
from bot.messages import Inbound, Outbound, SendResult
from bot.outbox import OutboxSender
from bot.pacing import Pacer
from bot.pipeline import EventSink, Pipeline, Translator, places_from
from bot.referral.service import Referral
from bot.store.repositories import Municipality

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def shipped_flows(flows_dir: Path = ROOT / "bot" / "flows") -> FlowLibrary:
    """The flows of a directory (the shipped ones by default), loaded and checked."""
    flows = FlowLibrary(flows_dir)
    result = flows.reload()
    assert result.ok, result.problems
    return flows


def build_pipeline(
    db: Any,
    *,
    clock: Callable[[], datetime],
    flows: FlowLibrary | None = None,
    catalogs: Translator | None = None,
    places: Sequence[Place] | None = None,
    numbers: Mapping[str, Mapping[str, str]] | None = None,
    hub: EventSink | None = None,
    **options: Any,
) -> Pipeline:
    """A pipeline as app.py builds it: the shipped flows, catalogs, municipalities and numbers
    unless given; `options` are Pipeline's own (referral, followups, trigger_flow...)."""
    return Pipeline(
        db,
        flows if flows is not None else shipped_flows(),
        catalogs if catalogs is not None else Catalogs(),
        places=(
            places
            if places is not None
            else places_from([Municipality(**m) for m in load_municipalities()])
        ),
        numbers=numbers if numbers is not None else load_numbers(),
        clock=clock,
        hub=hub,
        **options,
    )


def build_sender(
    db: Any, channels: Mapping[str, Any], clock: Callable[[], datetime], **options: Any
) -> OutboxSender:
    """An outbox sender as app.py builds it (referral's hook on sent rows), never paced."""
    options.setdefault("pacer", Pacer.off())
    options.setdefault("on_sent", (Referral.on_sent,))
    return OutboxSender(db, channels, clock, **options)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class RecordingChannel:
    """A channel that keeps what it was asked to send, and can be told to fail."""

    name: str = "simulator"
    sent: list[Outbound] = field(default_factory=list)
    fail_next: int = 0

    async def send(self, msg: Outbound) -> SendResult:
        if self.fail_next:
            self.fail_next -= 1
            return SendResult(ok=False, retry=True, error="test failure")
        self.sent.append(msg)
        return SendResult(ok=True, external_id=f"x{len(self.sent)}")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class Harness:
    """Pipeline + sender over one database; `say` sends a message and returns the replies."""

    def __init__(
        self,
        db,
        flows_dir: Path = ROOT / "bot" / "flows",
        clock: Clock | None = None,
        trigger_flow: str = "first_contact",
        hub: EventSink | None = None,
        hand_over: bool = True,
    ):
        """`hand_over=False`: replies wait, pending, for a claim (tests of senders of their
        own), instead of going to `self.sender` in hand as app.py wires it."""
        self.trigger_flow = trigger_flow
        self.hand_over = hand_over
        self.wakes = 0  # commits that asked the sender to claim (app.py: sender.wake)
        self.db = db
        self.clock = clock or Clock()
        self.flows = shipped_flows(flows_dir)
        self.catalogs = Catalogs()
        self.channel = RecordingChannel()
        self.sender = build_sender(db, {"simulator": self.channel, "sms": self.channel}, self.clock)
        self.hub = hub
        self.events: list[tuple[str, dict]] = []
        self.pipeline: Pipeline | None = None
        self._ids = itertools.count(1)

    async def start(self) -> Harness:
        async with self.db.uow() as uow:
            rows = [Municipality(**m) for m in load_municipalities()]
            await uow.municipalities.upsert_all(rows)
            await uow.commit()
        self.pipeline = build_pipeline(
            self.db,
            flows=self.flows,
            catalogs=self.catalogs,
            places=places_from(rows),
            clock=self.clock,
            hub=self.hub or self,  # the events recorded here unless a real hub is given
            trigger_flow=self.trigger_flow,
            on_commit=self._wake,
            hand_to=self.sender if self.hand_over else None,  # as app.py wires them
        )
        return self

    def _wake(self) -> None:
        self.wakes += 1
        self.sender.wake()

    def publish_event(self, urn: str, event: dict) -> None:
        self.events.append((urn, event))

    def inbound(self, text: str, urn: str = "sim:test1", external_id: str | None = None, **kw):
        return Inbound(
            channel=kw.pop("channel", "simulator"),
            urn=urn,
            text=text,
            external_id=external_id or f"m{next(self._ids)}",
            received_at=self.clock(),
            **kw,
        )

    async def say(self, text: str, urn: str = "sim:test1", **kw) -> list[str]:
        """Send one message, deliver the outbox, return the texts that went out."""
        before = len(self.channel.sent)
        await self.pipeline.receive(self.inbound(text, urn, **kw))
        while await self.sender.drain_once():
            pass
        return [m.text for m in self.channel.sent[before:]]
