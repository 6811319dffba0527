"""What follow-ups do with a conversation's events: register an order, take a check-in's answer."""

from __future__ import annotations

from bot.followups.service import COMMANDS, Followups
from bot.handlers.registry import Handlers, Turn
from bot.referral.service import Referral


def register(handlers: Handlers, followups: Followups, referral: Referral) -> None:
    """Follow-ups' per-turn handler, and the desk commands it answers (ORDER, PLAN)."""
    for action in COMMANDS:
        referral.add_command(action, followups.command)

    async def after_events(turn: Turn) -> None:
        # An order registered, a check-in answered or left with DIL.
        await followups.after_events(
            turn.uow, turn.contact, turn.case, turn.session, turn.outcome.events, turn.now
        )

    handlers.after_events(after_events)
