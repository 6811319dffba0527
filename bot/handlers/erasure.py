"""FSHI: the person's data erased at the end of the turn, and what providers keep deleted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bot.channels.base import Recall
from bot.engine import events as ev
from bot.handlers.registry import Handlers, Turn
from bot.rendering import Translate

# A chat whose provider deletes messages of any age: longer than any conversation is kept.
NO_WINDOW = timedelta(days=3650)


class Erasure:
    """Erases who asked; each channel's Recall says what its provider lets us delete."""

    def __init__(self, recalls: Mapping[str, Recall], translate: Translate) -> None:
        self.recalls = dict(recalls)
        self.translate = translate

    async def erasure_requested(self, turn: Turn, event: ev.ErasureRequested) -> None:
        """Erase at the end of the turn, once her confirmation is queued (with what her
        channel keeps on her phone all the same, if it does)."""
        turn.erase = True
        recall = self.recalls.get(turn.contact.channel)
        if recall is not None and recall.note is not None:
            session = turn.session
            language = (session.language if session else None) or turn.contact.language or "sq"
            turn.notes.append(self.translate(language, recall.note, None))

    async def erase(self, turn: Turn) -> None:
        """Delete what providers keep, note it in the audit log, and forget her."""
        if not turn.erase:
            return
        uow, contact, now = turn.uow, turn.contact, turn.now
        await self.unsay(turn)
        # Security: who asked is gone after this; the audit keeps that it happened, when,
        # on which channel and to how many cases (figures only).
        await uow.audit.add(
            "contact_erased",
            now=now,
            case_id=turn.case.id if turn.case is not None else None,
            data={"by": "person", "channel": contact.channel},
        )
        # Last, so the confirmation is already queued: the outbox keeps only what it needs to
        # send it, and everything else about the person goes.
        await uow.contacts.erase(contact.id, now)

    async def unsay(self, turn: Turn) -> None:
        """Queue deleting her messages where her channel's provider keeps them."""
        uow, contact, now = turn.uow, turn.contact, turn.now
        recall = self.recalls.get(contact.channel)
        if recall is None:
            return
        ids: list[Any]
        if recall.ids == "chat":
            window = recall.window if recall.window is not None else NO_WINDOW
            ids = await uow.messages.chat_message_ids(contact.id, now - window)
        else:
            ids = await uow.messages.provider_ids(contact.id)
        if ids:
            await uow.outbox.add(
                contact_id=contact.id,
                channel=contact.channel,
                urn=contact.urn,
                text="",
                kind="delete",
                due_at=now + recall.delay,
                now=now,
                meta={recall.meta_key: ids},
            )

    def register(self, handlers: Handlers) -> None:
        """Erasure's handlers (its per-turn handler must be the last one that writes)."""
        handlers.on(ev.ErasureRequested, self.erasure_requested)
        handlers.after_events(self.erase)
