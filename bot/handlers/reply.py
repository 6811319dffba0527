"""The reply: the engine's messages rendered as one, queued to her when it is safe to send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import safe_times
from bot.engine import events as ev
from bot.handlers.registry import Handlers, Turn
from bot.rendering import Rendered, Translate, render, with_lines
from bot.replies import can_write, provider_meta, queue_to_person

if TYPE_CHECKING:
    from bot.store.db import UnitOfWork

# Municipalities by slug (their time zones), read through the caller's unit of work.
Places = Callable[["UnitOfWork"], Awaitable[Mapping[str, Any]]]


class Reply:
    """Collects the turn's messages and queues them as one reply after every other handler."""

    def __init__(self, translate: Translate, places: Places) -> None:
        self.translate = translate
        self.places = places

    async def msg_created(self, turn: Turn, event: ev.MsgCreated) -> None:
        """One more message for the reply."""
        turn.messages.append(event)

    async def session_ended(self, turn: Turn, event: ev.SessionEnded) -> None:
        """Safe times: after DIL nothing more goes to her until she writes again."""
        if event.reason == "exit":
            await turn.uow.outbox.hold(turn.contact.id)

    async def queue(self, turn: Turn) -> None:
        """Render the messages (with any lines before them) and queue the reply."""
        rendered = render(turn.messages, self.translate, turn.case_reference)
        rendered = with_lines(rendered, turn.lines)
        if rendered is None or not can_write(turn.contact):
            return
        if turn.notes:
            rendered = Rendered("\n".join((rendered.text, *turn.notes)), rendered.buttons)
        session = turn.session
        language = (session.language if session else None) or turn.contact.language
        # What a timer says waits for her safe time; a reply over the per-sender limit waits
        # for its slot; any other reply goes at once.
        due = await self._safe_time(turn) if turn.timer else turn.reply_at or turn.now
        await queue_to_person(
            turn.uow,
            turn.contact,
            rendered.text,
            kind=turn.outbox_kind,
            due_at=due,
            now=turn.now,
            buttons=rendered.buttons,
            # WhatsApp: what the helpline starts may go as an approved template outside her
            # 24 hours (a check-in as its question; anything else announced, then held).
            meta=provider_meta(turn.contact, turn.outbox_kind, turn.timer, language, turn.now),
            handoff=turn.handoff,
        )

    async def _safe_time(self, turn: Turn) -> datetime:
        """Safe times: when a message nobody just asked for may go to her."""
        places = await self.places(turn.uow)
        tz = safe_times.zone_of(turn.fields.get("municipality"), places, turn.contact.urn)
        return safe_times.send_at(turn.fields, tz, turn.now)

    def register(self, handlers: Handlers) -> None:
        """The reply's handlers (after referral's: the person left first, then the hold)."""
        handlers.on(ev.MsgCreated, self.msg_created)
        handlers.on(ev.SessionEnded, self.session_ended)
        handlers.after_events(self.queue)
