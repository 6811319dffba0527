"""The handler registry: per-event handlers in registration order, then per-turn ones; hooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.engine import events as ev
from bot.engine.runner import Outcome
from bot.handlers.registry import Committed, Handlers, Turn
from tests.pipeline_harness import build_pipeline

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def turn_of(*events: ev.Event) -> Turn:
    """A turn of these events; the registry itself never touches the unit of work."""
    return Turn(uow=None, contact=None, stored=None, outcome=Outcome(None, list(events)), now=NOW)  # type: ignore[arg-type]


async def test_handlers_run_per_event_in_registration_order_then_once_a_turn() -> None:
    calls: list[str] = []
    handlers = Handlers()

    def named(name: str) -> Any:
        async def handler(turn: Turn, event: ev.Event | None = None) -> None:
            calls.append(f"{name}:{event.type if event else 'turn'}")

        return handler

    handlers.on(ev.LanguageChanged, named("first"))
    handlers.after_events(named("end"))
    handlers.on(ev.LanguageChanged, named("second"))
    handlers.on(ev.CaseOpened, named("case"))
    # Events nobody registered for (a field change here) pass through untouched.
    turn = turn_of(
        ev.LanguageChanged("en"),
        ev.FieldChanged("x", "y"),
        ev.CaseOpened({}),
        ev.LanguageChanged("sq"),
    )
    await handlers.apply(turn)
    assert calls == [
        "first:language_changed",
        "second:language_changed",
        "case:case_opened",
        "first:language_changed",
        "second:language_changed",
        "end:turn",
    ]


async def test_after_commit_hooks_run_in_order_with_what_was_committed() -> None:
    seen: list[tuple[str, Committed]] = []
    handlers = Handlers()
    handlers.after_commit(lambda done: seen.append(("wake", done)))
    handlers.after_commit(lambda done: seen.append(("hub", done)))
    done = Committed("sim:1", ({"type": "case_opened"},), "R-1234")
    handlers.committed(done)
    assert seen == [("wake", done), ("hub", done)]


def test_the_pipeline_registers_the_features_in_the_order_their_writes_need() -> None:
    """A session that ends by DIL: its timers go, referral tells the coordinator, then the
    outbox holds what waits for her (safe times), and the panel shows it last."""
    hub_events: list[Any] = []

    class Sink:
        def publish_event(self, urn: str, event: dict[str, Any]) -> None:
            hub_events.append(event)

    pipeline = build_pipeline(None, clock=lambda: NOW, hub=Sink(), on_commit=lambda: None)
    modules = [h.__module__ for h in pipeline.handlers._by_type[ev.SessionEnded.type]]
    assert modules == [
        "bot.handlers.sessions",
        "bot.referral.handlers",
        "bot.handlers.reply",
        "bot.handlers.hub",
    ]
    # Follow-ups answer the coordinator desk's ORDER and PLAN through referral's registry.
    assert set(pipeline.referral.ctx.commands) == {"order", "plan"}
