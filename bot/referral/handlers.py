"""Referral's event handlers: page a coordinator, tell them she left, the services she chose."""

from __future__ import annotations

from bot.engine import events as ev
from bot.handlers.registry import Handlers, Turn
from bot.referral.service import Referral

BREACHED = "order_breached"  # the red flag of a check-in answered "breached" (bot/followups)


def register(handlers: Handlers, referral: Referral) -> None:
    """Referral's handlers (after case bookkeeping's: they read the case it opened)."""

    async def referral_requested(turn: Turn, event: ev.ReferralRequested) -> None:
        # Page the on-duty coordinator (or queue a digest), in the same transaction; a breach
        # she reports in the same answer (a check-in) is named in that one page.
        if turn.case is not None:
            breached = any(
                isinstance(e, ev.FollowupAnswered) and e.outcome == "breached"
                for e in turn.outcome.events
            )
            await referral.on_referral_requested(
                turn.uow,
                turn.case,
                event.urgent,
                event.reason,
                turn.now,
                also=(BREACHED,) if breached else (),
            )

    async def consent_recorded(turn: Turn, event: ev.ConsentRecorded) -> None:
        # The nearest services of that kind, in her language, before the reply.
        if turn.case is None or not event.given:
            return
        session = turn.session
        language = (session.language if session else None) or turn.contact.language
        turn.lines += await referral.service_lines(
            turn.uow, turn.case.municipality, event.service, language
        )

    async def session_ended(turn: Turn, event: ev.SessionEnded) -> None:
        # DIL: the coordinator stops relaying.
        if event.reason == "exit":
            await referral.on_person_left(turn.uow, turn.contact.id, "exit", turn.now)

    async def erasure_requested(turn: Turn, event: ev.ErasureRequested) -> None:
        await referral.on_person_left(turn.uow, turn.contact.id, "erased", turn.now)

    handlers.on(ev.ReferralRequested, referral_requested)
    handlers.on(ev.ConsentRecorded, consent_recorded)
    handlers.on(ev.SessionEnded, session_ended)
    handlers.on(ev.ErasureRequested, erasure_requested)
