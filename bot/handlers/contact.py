"""The person's contact row: the language she chose and the fields her conversation set."""

from __future__ import annotations

from bot.engine import events as ev
from bot.handlers.registry import Handlers, Turn


async def language_changed(turn: Turn, event: ev.LanguageChanged) -> None:
    """Her language, for this and every later conversation."""
    await turn.uow.contacts.set_language(turn.contact.id, event.language)


async def field_changed(turn: Turn, event: ev.FieldChanged) -> None:
    """A field of hers; written once, at the end of the turn."""
    turn.fields[event.name] = event.value
    turn.fields_changed = True


async def save_fields(turn: Turn) -> None:
    """Her fields, if the turn changed any."""
    if turn.fields_changed:
        await turn.uow.contacts.set_fields(turn.contact.id, turn.fields)


def register(handlers: Handlers) -> None:
    """The contact's handlers."""
    handlers.on(ev.LanguageChanged, language_changed)
    handlers.on(ev.FieldChanged, field_changed)
    handlers.after_events(save_fields)
