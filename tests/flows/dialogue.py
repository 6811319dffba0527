"""Run the shipped flows as a person would, with real catalogs, and read the bot's replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.engine import ContactView, MsgResume, Session, TimeoutResume, resume
from bot.engine import events as ev
from bot.i18n import Catalogs
from bot.rendering import render
from tests.pipeline_harness import build_pipeline, shipped_flows

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)

_library = shipped_flows(ROOT / "bot" / "flows")
_catalogs = Catalogs()
# The pipeline builds the engine's world; borrow it so tests see exactly what production sees.
_pipeline = build_pipeline(None, flows=_library, catalogs=_catalogs, clock=lambda: NOW)


class Dialogue:
    """One person talking to the shipped flows; `say` returns the reply as they would read it."""

    def __init__(self, language: str | None = None, fields: dict | None = None) -> None:
        self.contact = ContactView(language=language, fields=fields or {}, channel="sms")
        self.session: Session | None = None
        self.events: list[ev.Event] = []
        self.all_events: list[ev.Event] = []
        self.now = NOW
        self.case_reference = "R-1234"

    def _run(self, res) -> str:
        env = _pipeline.env(self.now)
        outcome = resume(self.session, res, self.contact, env)
        self.session, self.events = outcome.session, outcome.events
        self.all_events += outcome.events
        for event in outcome.events:  # what the pipeline would write back to the contact
            if isinstance(event, ev.LanguageChanged):
                self.contact = ContactView(event.language, self.contact.fields, "sms")
            if isinstance(event, ev.FieldChanged):
                fields = {**self.contact.fields, event.name: event.value}
                self.contact = ContactView(self.contact.language, fields, "sms")
        messages = [e for e in outcome.events if isinstance(e, ev.MsgCreated)]
        rendered = render(messages, _catalogs.text, self.case_reference)
        return rendered.text if rendered else ""

    def say(self, text: str, button: str | None = None) -> str:
        """The person writes; the bot's whole reply comes back."""
        return self._run(MsgResume(text, button))

    def timeout(self, after: timedelta) -> str:
        """Time passes until the waiting question times out."""
        self.now += after
        return self._run(TimeoutResume(self.session.wait_seq))

    def types(self) -> list[str]:
        """Types of the last call's events."""
        return [e.type for e in self.events]

    def seen(self, event_type: str) -> list[ev.Event]:
        """Every event of a type so far."""
        return [e for e in self.all_events if e.type == event_type]

    @property
    def ended(self) -> str | None:
        """Why the conversation ended, or None while it goes on."""
        return (
            self.session.ended_reason if self.session and self.session.status == "ended" else None
        )

    @property
    def node(self) -> tuple[str, str] | None:
        """(flow, node) the session waits at."""
        if not self.session or not self.session.frames:
            return None
        frame = self.session.frames[-1]
        return frame.flow, frame.node


def text(language: str, msgid: str, **params) -> str:
    """A catalog text, for building expected replies."""
    return _catalogs.text(language, msgid, params or None)
