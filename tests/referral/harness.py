"""A pipeline with the referral desk on a real database: recording channels, a hand-moved clock."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from bot.engine.env import Place
from bot.messages import Inbound, Outbound, SendResult
from bot.referral.service import Referral
from bot.store.records import Coordinator, Municipality
from tests.pipeline_harness import Clock, build_pipeline, build_sender, shipped_flows

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).parent / "flows"
LOCALES = ROOT / "bot" / "locales"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Tirana
SURVIVOR = "tel:+355691110001"

MUNICIPALITIES = [
    Municipality("tirane", "Tiranë", "AL", "Tiranë", "Europe/Tirane", ("tirana",)),
    Municipality("durres", "Durrës", "AL", "Durrës", "Europe/Tirane", ("durresi",)),
    Municipality("shkoder", "Shkodër", "AL", "Shkodër", "Europe/Tirane", ("shkodra",)),
    Municipality("vau-i-dejes", "Vau i Dejës", "AL", "Shkodër", "Europe/Tirane", ()),
    Municipality("has", "Has", "AL", "Kukës", "Europe/Tirane", ()),
    Municipality("prishtine", "Prishtinë", "XK", "Prishtinë", "Europe/Belgrade", ("prishtina",)),
    Municipality("kllokot", "Kllokot", "XK", "Gjilan", "Europe/Belgrade", ("klokot",)),
]
NUMBERS = {
    "AL": {"emergency": "112", "police": "129", "line": "116 117"},
    "XK": {"emergency": "112", "police": "192", "line": "0800 11112"},
    "default": {"emergency": "112", "police": "129 / 192", "line": "116 117"},
}


class PoCatalogs:
    """The shipped .po catalogs read directly (ids stand in for texts they lack)."""

    def __init__(self) -> None:
        self.texts: dict[str, dict[str, str]] = {}
        for lang in ("sq", "en"):
            with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
                catalog = read_po(f)
            self.texts[lang] = {m.id: m.string for m in catalog if m.id and m.string}

    def text(self, locale: str, msgid: str, params: Mapping[str, Any] | None = None) -> str:
        template = self.texts.get(locale, {}).get(msgid, msgid)
        return template.format_map(dict(params or {})) if params else template


@dataclass
class RecordingChannel:
    """A channel that keeps what it sends; `down` makes every send fail the way it says."""

    name: str
    sent: list[Outbound] = field(default_factory=list)
    down: str | None = None  # None | "unreachable" | "transient"

    async def send(self, msg: Outbound) -> SendResult:
        if self.down == "unreachable":
            return SendResult(ok=False, error="30006", contact_state="unreachable")
        if self.down == "transient":
            return SendResult(ok=False, retry=True, error="30003")
        self.sent.append(msg)
        return SendResult(ok=True, external_id=f"{self.name}-{len(self.sent)}")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def places_of(rows: list[Municipality]) -> list[Place]:
    """Municipalities as the engine matches them."""
    return [
        Place(m.slug, m.name, m.country, (m.name, m.slug, m.slug.replace("-", " "), *m.aliases))
        for m in rows
    ]


class Desk:
    """Pipeline + referral + sender over one database."""

    def __init__(self, db: Any, *, clock: Clock | None = None, **referral: Any) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.flows = shipped_flows(FLOWS)
        self.catalogs = PoCatalogs()
        self.channels = {n: RecordingChannel(n) for n in ("sms", "telegram", "simulator")}
        self.sender = build_sender(db, self.channels, self.clock)
        self.referral = Referral(self.catalogs, **referral)
        self.pipeline = build_pipeline(
            db,
            flows=self.flows,
            catalogs=self.catalogs,
            places=places_of(MUNICIPALITIES),
            numbers=NUMBERS,
            clock=self.clock,
            referral=self.referral,
        )
        self._ids = itertools.count(1)

    async def start(self) -> Desk:
        async with self.db.uow() as uow:
            await uow.municipalities.upsert_all(MUNICIPALITIES)
            await uow.commit()
        return self

    async def add_coordinator(
        self,
        name: str,
        municipality: str,
        *,
        phone: str | None = None,
        chat: str | None = None,
        lang: str = "sq",
        role: str = "coordinator",
        duty: str | None = "always",
        demo: bool = False,
        whatsapp: bool = False,
    ) -> Coordinator:
        async with self.db.uow() as uow:
            c = await uow.coordinators.add(
                name=name,
                municipality=municipality,
                phone=phone,
                telegram_chat_id=chat,
                language=lang,
                role=role,
                now=self.clock(),
                demo=demo,
                whatsapp=whatsapp,
            )
            if duty == "always":
                await uow.coordinators.add_shift(
                    c.id, kind="always", tz="Europe/Tirane", now=self.clock()
                )
            await uow.commit()
        return c

    def inbound(self, text: str, urn: str, **kw: Any) -> Inbound:
        channel = kw.pop("channel", None) or ("telegram" if urn.startswith("telegram:") else "sms")
        return Inbound(
            channel=channel,
            urn=urn,
            text=text,
            external_id=f"m{next(self._ids)}",
            received_at=self.clock(),
            **kw,
        )

    async def say(self, text: str, urn: str = SURVIVOR, **kw: Any) -> list[Outbound]:
        """One message in; everything the sender then delivered (to anybody)."""
        await self.pipeline.receive(self.inbound(text, urn, **kw))
        return await self.drain()

    async def drain(self) -> list[Outbound]:
        before = {n: len(c.sent) for n, c in self.channels.items()}
        while await self.sender.drain_once():
            pass
        return [m for n, c in self.channels.items() for m in c.sent[before[n] :]]

    async def tick(self, delta: timedelta = timedelta(0)) -> list[Outbound]:
        """Move the clock, run the sweeps, deliver."""
        self.clock.advance(delta)
        await self.pipeline.sweep_fires()
        return await self.drain()

    def to(self, urn: str, sent: list[Outbound]) -> list[str]:
        return [m.text for m in sent if m.urn == urn]


def coordinator_urns(c: Coordinator) -> list[str]:
    return [u for u in (c.telegram_urn, c.sms_urn) if u]
