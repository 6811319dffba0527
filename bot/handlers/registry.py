"""Handlers per event type, then per turn, in the transaction; hooks after commit (as mailroom)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bot.engine import events as ev
from bot.engine.frozen import quick_init
from bot.engine.runner import Outcome
from bot.engine.session import Session
from bot.store.records import Case, Contact, Handoff, StoredSession

if TYPE_CHECKING:
    from bot.store.db import UnitOfWork

E = TypeVar("E", bound=ev.Event)


@dataclass(slots=True)
class Turn:
    """One engine outcome being written in one transaction: what handlers read and add to."""

    uow: UnitOfWork
    contact: Contact
    stored: StoredSession | None  # the session as it was loaded (None: there was none)
    outcome: Outcome
    now: datetime
    session_id: int | None = None  # the row the outcome's session was saved to
    case: Case | None = None  # her open case; handlers replace it as they open or change it
    fields: dict[str, Any] = field(default_factory=dict)  # her contact fields, as changed
    outbox_kind: str = "reply"  # what the reply is queued as (a check-in: "followup")
    timer: bool = False  # a timer spoke: nobody asked just now (safe times apply)
    reply_at: datetime | None = None  # a reply over the per-sender limit waits for its slot
    fields_changed: bool = False
    messages: list[ev.MsgCreated] = field(default_factory=list)  # the reply, rendered last
    lines: list[str] = field(default_factory=list)  # lines put before the reply (services)
    notes: list[str] = field(default_factory=list)  # lines put after it (what FSHI can't reach)
    erase: bool = False  # she asked to be forgotten: everything goes at the end of the turn
    hub_events: list[dict[str, Any]] = field(default_factory=list)  # shown after commit
    # The sender of this process, when the reply goes to it in hand (bot/pipeline.py).
    handoff: Handoff | None = None
    claim: bool = True  # something of this turn waits for the sender's claim

    @property
    def session(self) -> Session | None:
        """The session the engine returned (None: the conversation left no state)."""
        return self.outcome.session

    @property
    def case_reference(self) -> str | None:
        """Her open case's reference, if there is one."""
        return self.case.reference if self.case is not None else None


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Committed:
    """What a committed transaction leaves for the hooks: whose it was and what to show."""

    urn: str = ""  # "" for work of no one person (referral sweeps and timers)
    hub_events: tuple[dict[str, Any], ...] = ()
    case_reference: str | None = None
    claim: bool = True  # something committed waits for the outbox sender's claim


EventHandler = Callable[[Turn, Any], Awaitable[None]]
TurnHandler = Callable[[Turn], Awaitable[None]]
CommitHook = Callable[[Committed], None]


class Handlers:
    """Handlers and hooks, run in the order features registered them (a case opens, then pages)."""

    def __init__(self) -> None:
        self._by_type: dict[str, list[EventHandler]] = {}
        self._per_turn: list[TurnHandler] = []
        self._after_commit: list[CommitHook] = []

    def on(self, kind: type[E], handler: Callable[[Turn, E], Awaitable[None]]) -> None:
        """Run `handler` for every event of this type, inside the transaction."""
        self._by_type.setdefault(kind.type, []).append(handler)

    def after_events(self, handler: TurnHandler) -> None:
        """Run `handler` once a turn, after every event's handlers, inside the transaction."""
        self._per_turn.append(handler)

    def after_commit(self, hook: CommitHook) -> None:
        """Run `hook` after each commit (never after a rollback); it must not raise."""
        self._after_commit.append(hook)

    def handles(self, kind: type[ev.Event]) -> bool:
        """True when some feature registered for this event type."""
        return bool(self._by_type.get(kind.type))

    async def apply(self, turn: Turn) -> None:
        """Every event through its handlers, in order, then the per-turn handlers."""
        for event in turn.outcome.events:
            for handler in self._by_type.get(event.type, ()):
                await handler(turn, event)
        for per_turn in self._per_turn:
            await per_turn(turn)

    def committed(self, done: Committed) -> None:
        """The after-commit hooks, in order."""
        for hook in self._after_commit:
            hook(done)
