"""Follow-ups' registration: its per-turn handler, and the desk commands it answers via referral."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.engine import events as ev
from bot.engine.runner import Outcome
from bot.followups import handlers
from bot.handlers.registry import Handlers, Turn
from bot.i18n import Catalogs
from bot.referral.service import Referral

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Recorder:
    """Stands in for Followups: records the outcomes it is handed."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    async def after_events(
        self, uow: Any, contact: Any, case: Any, session: Any, events: Any, now: datetime
    ) -> None:
        self.seen.append((contact, case, session, list(events), now))

    async def command(self, *args: Any) -> None:
        """The desk's ORDER and PLAN."""


async def test_followups_read_each_turn_once_and_answer_order_and_plan() -> None:
    followups, referral, registry = Recorder(), Referral(Catalogs()), Handlers()
    handlers.register(registry, followups, referral)  # type: ignore[arg-type]
    assert referral.ctx.commands == {"order": followups.command, "plan": followups.command}
    events = [ev.FollowupStarted("protection_order", {}), ev.SessionEnded("completed")]
    turn = Turn(None, "contact", None, Outcome(None, events), NOW, case="case")  # type: ignore[arg-type]
    await registry.apply(turn)
    assert followups.seen == [("contact", "case", None, events, NOW)]
