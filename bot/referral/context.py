"""What the referral code shares: texts, timings, municipalities, messages to coordinators."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot import safe_times
from bot.referral import rota
from bot.referral import texts as T
from bot.referral.commands import Command
from bot.referral.texts import PLACE_UNKNOWN, Texts
from bot.store.db import UnitOfWork
from bot.store.records import Case, Coordinator, Municipality, OutboxItem

log = logging.getLogger(__name__)

OK_BUTTON_LIMIT = 5  # Telegram shows buttons in rows; a digest offers at most this many


@dataclass(frozen=True, slots=True)
class Route:
    """One way to reach a coordinator."""

    channel: str
    urn: str
    failing: bool  # it failed to reach them lately


@dataclass(frozen=True, slots=True)
class Sent:
    """A message queued for a coordinator."""

    channel: str
    outbox_id: int


# A coordinator's command another feature handles (follow-ups: ORDER, PLAN), called with
# (uow, coordinator, case, command, reply, now) for a case of theirs that is open.
DeskCommand = Callable[
    [UnitOfWork, Coordinator, Case, Command, "Answers", datetime], Awaitable[None]
]


class Answers(Protocol):
    """How a desk command answers the coordinator (desk.Reply); a protocol, as the desk
    builds on this module."""

    def __call__(self, msgid: str, **params: Any) -> None:
        """Add one answer."""
        ...


@dataclass
class Context:
    """Configuration and caches of the referral code (one per pipeline)."""

    texts: Texts
    ack_timeout: timedelta = timedelta(minutes=5)
    relay_window: timedelta = timedelta(hours=24)
    include_sample_services: bool = False
    # Commands of other features by action (follow-ups registers ORDER and PLAN).
    commands: dict[str, DeskCommand] = field(default_factory=dict)
    _places: dict[str, Municipality] = field(default_factory=dict)

    async def places(self, uow: UnitOfWork) -> dict[str, Municipality]:
        """Municipalities by slug (read once; the list changes with a deploy, not per message)."""
        if not self._places:
            self._places = {m.slug: m for m in await uow.municipalities.list_all()}
        return self._places

    def place_name(self, places: dict[str, Municipality], slug: str | None, lang: str) -> str:
        """A municipality's name, or "unknown" in the reader's language."""
        place = places.get(slug or "")
        return place.name if place else self.texts(lang, PLACE_UNKNOWN)

    def zone(self, places: dict[str, Municipality], slug: str) -> str:
        """The time zone of a coordinator's municipality (the national duty: Tirana's)."""
        return rota.zone_name(slug, {s: m.tz for s, m in places.items()})


async def routes(uow: UnitOfWork, coordinator: Coordinator, now: datetime) -> list[Route]:
    """Ways to reach a coordinator: Telegram before SMS, a channel that failed lately last."""
    if coordinator.demo:
        # Only the simulator's phone: a demo row's number could belong to anybody.
        return [Route("simulator", coordinator.simulator_urn or "", False)]
    found = [
        Route(channel, urn, coordinator.failing_channel == channel)
        for channel, urn in (
            ("telegram", coordinator.telegram_urn),
            ("whatsapp", coordinator.whatsapp_urn),
            ("sms", coordinator.sms_urn),
        )
        if urn
    ]
    return sorted(found, key=lambda r: r.failing)


def _alert_template(language: str, buttons: Sequence[dict[str, str]]) -> dict[str, Any]:
    """WhatsApp: a page (one case to accept) may go as the approved alert template when the
    coordinator has not written there for 24 hours; anything else fails there and goes by
    their other channel (alerts.fall_back)."""
    refs = [b["value"].removeprefix("OK ") for b in buttons if b["value"].startswith("OK ")]
    if len(refs) != 1:
        return {}
    return safe_times.template(safe_times.TPL_COORDINATOR_ALERT, language, ref=refs[0])


async def _open(uow: Any, urn: str, now: datetime) -> bool:
    """True while WhatsApp lets us write freely to this coordinator (they wrote in 24 hours)."""
    contact = await uow.contacts.find_by_urn(urn)
    return safe_times.window_open(contact.last_seen_at if contact else None, now)


async def send(
    uow: UnitOfWork,
    coordinator: Coordinator,
    text: str,
    now: datetime,
    *,
    buttons: Sequence[dict[str, str]] = (),
    avoid: str | None = None,
    supersedes: int | None = None,
) -> Sent | None:
    """Queue a message to a coordinator on their preferred channel (not `avoid`); once it is
    sent, the outbox row `supersedes` (the same message another way) is no longer retried."""
    options = [r for r in await routes(uow, coordinator, now) if r.channel != avoid]
    template = _alert_template(coordinator.language, buttons)
    if not template and len(options) > 1:
        # WhatsApp outside their 24 hours takes only the page's template: anything else (a
        # relay, a notice, a digest) goes their other way rather than fail there.
        options = [r for r in options if r.channel != "whatsapp" or await _open(uow, r.urn, now)]
    if not options:
        log.warning("coordinator %s has no way to be reached", coordinator.id)
        return None
    route = options[0]
    outbox_id = await uow.outbox.add(
        # No contact row: a foreign key to the coordinator's contact would make this
        # transaction wait on (and can deadlock with) one handling their own message.
        contact_id=None,
        channel=route.channel,
        urn=route.urn,
        text=text,
        buttons=list(buttons),
        kind="alert",
        due_at=now,
        now=now,
        meta={"coordinator": coordinator.id}
        | ({"supersedes": supersedes} if supersedes is not None else {})
        | (template if route.channel == "whatsapp" else {}),
    )
    return Sent(route.channel, outbox_id)


async def on_sent(uow: Any, item: OutboxItem) -> None:
    """The outbox's on_sent hook: once an alert went another way (`supersedes`), stop the first."""
    superseded = (item.meta or {}).get("supersedes")
    if isinstance(superseded, int):
        await uow.alerts.supersede(superseded, item.channel)


async def deliver(
    uow: UnitOfWork,
    coordinator: Coordinator,
    text: str,
    now: datetime,
    *,
    case_id: int,
    kind: str,
    state: str,
    step: int = 0,
    buttons: Sequence[dict[str, str]] = (),
) -> int | None:
    """Send a coordinator a message about a case, recorded as an alert; the alert's id."""
    sent = await send(uow, coordinator, text, now, buttons=buttons)
    if sent is None:
        return None
    return await uow.alerts.add(
        case_id=case_id,
        coordinator_id=coordinator.id,
        kind=kind,
        state=state,
        step=step,
        due_at=now,
        now=now,
        channel=sent.channel,
        outbox_id=sent.outbox_id,
        sent_at=now,
    )


async def reach_note(ctx: Context, uow: UnitOfWork, case: Case, lang: str) -> str:
    """Safe times: the line telling a coordinator texting is unsafe and when the person can be
    reached; empty when texting is fine."""
    contact = await uow.contacts.get(case.contact_id) if case.contact_id is not None else None
    found = safe_times.reach(contact.fields if contact is not None else {})
    if found.kind == "window":
        name = found.window or "any"
        start, end = safe_times.hours(name)
        window = ctx.texts(lang, T.WINDOW_NAMES[name])
        return ctx.texts(lang, T.REACH_WINDOW, window=window, start=start, end=end)
    if found.kind == "hold":
        return ctx.texts(lang, T.REACH_HOLD)
    return ""
