"""The simulator's live panel: the events it shows, gathered in the turn, published after commit."""

from __future__ import annotations

from typing import Any, Protocol

from bot.engine import events as ev
from bot.handlers.registry import Committed, Handlers, Turn

# Events the simulator shows beside the chat; messages themselves arrive through the outbox.
HUB_EVENTS: tuple[type[ev.Event], ...] = (
    ev.CaseOpened,
    ev.CaseUpdated,
    ev.RiskAssessed,
    ev.UrgencyRaised,
    ev.ReferralRequested,
    ev.ConsentRecorded,
    ev.LanguageChanged,
    ev.KeywordMatched,
    ev.SessionEnded,
    ev.FollowupStarted,
    ev.FollowupAnswered,
    ev.ErasureRequested,
    ev.InputRejected,
)


class EventSink(Protocol):
    """Where engine events are published after commit (the simulator's hub)."""

    def publish_event(self, urn: str, event: dict[str, Any]) -> object:
        """Hand one event to whoever watches this URN (what it returns is not used)."""
        ...


async def gather(turn: Turn, event: ev.Event) -> None:
    """The event as the panel shows it, with the reference of the case it concerns."""
    data = event.to_dict()
    if turn.case is not None:
        data.setdefault("reference", turn.case.reference)
    turn.hub_events.append(data)


def register(handlers: Handlers, hub: EventSink) -> None:
    """Last of all: each event is gathered after its other handlers (the case is opened)."""
    for kind in HUB_EVENTS:
        handlers.on(kind, gather)

    def publish(done: Committed) -> None:
        for event in done.hub_events:
            hub.publish_event(done.urn, event)

    handlers.after_commit(publish)
