"""Engine messages (ids, params, options) to the text and buttons a person receives."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.engine.events import MsgCreated
from bot.engine.frozen import quick_init
from bot.messages import Button

CASE_REFERENCE = "@case.reference"
Translate = Callable[[str, str, Mapping[str, Any] | None], str]


@quick_init  # built on every message: see bot/engine/frozen.py
@dataclass(frozen=True, slots=True)
class Rendered:
    """One outgoing message: the texts of one engine call joined, with the last buttons."""

    text: str
    buttons: tuple[Button, ...]


def render(
    messages: Sequence[MsgCreated], translate: Translate, case_reference: str | None
) -> Rendered | None:
    """Join one engine call's messages into one text, so SMS parts can't arrive out of order."""
    if not messages:
        return None
    parts: list[str] = []
    buttons: tuple[Button, ...] = ()
    for msg in messages:
        params = {
            k: (case_reference or "") if v == CASE_REFERENCE else ("" if v is None else v)
            for k, v in msg.params.items()
        }
        text = translate(msg.language, msg.text, params)
        if msg.options:
            labels = [(o, translate(msg.language, o.label, None)) for o in msg.options]
            # Lists made in C rather than generators resumed an option at a time.
            text += "\n" + "\n".join([f"{o.number}. {label}" for o, label in labels])
            buttons = tuple([Button(label, o.value) for o, label in labels])
        parts.append(text)
    return Rendered("\n\n".join(parts), buttons)


def with_lines(rendered: Rendered | None, lines: Sequence[str]) -> Rendered | None:
    """A reply with lines before it, such as services (a question and its options stay last)."""
    if not lines:
        return rendered
    extra = "\n".join(lines)
    if rendered is None:
        return Rendered(extra, ())
    buttons: tuple[Button, ...] = rendered.buttons
    return Rendered(f"{extra}\n\n{rendered.text}", buttons)
