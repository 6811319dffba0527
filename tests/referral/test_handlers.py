"""Referral's event handlers: what each engine event asks of the referral desk, and when not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.engine import events as ev
from bot.engine.runner import Outcome
from bot.handlers.registry import Handlers, Turn
from bot.referral import handlers
from bot.store.records import Case, Contact

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONTACT = Contact(7, "tel:+355691110001", "sms", "en", {}, False, False, NOW, NOW)
CASE = Case(
    3, "R-7KX9M2PQ", 7, "tirane", "normal", None, None, (), None, None, "new", {}, NOW, NOW, None
)


class Recorder:
    """Stands in for Referral: records what the handlers ask of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def on_referral_requested(
        self,
        uow: Any,
        case: Case,
        urgent: bool,
        reason: str,
        now: datetime,
        *,
        also: tuple[str, ...] = (),
    ) -> None:
        self.calls.append(("page", case.id, urgent, reason, *also))

    async def on_person_left(self, uow: Any, contact_id: int, reason: str, now: datetime) -> None:
        self.calls.append(("left", contact_id, reason))

    async def service_lines(
        self, uow: Any, municipality: str | None, kind: str, language: str | None
    ) -> list[str]:
        self.calls.append(("services", municipality, kind, language))
        return [f"{kind} line"]


@pytest.mark.parametrize(
    ("event", "case", "calls", "lines"),
    [
        (ev.ReferralRequested("danger", True), CASE, [("page", 3, True, "danger")], []),
        (ev.ReferralRequested("danger", True), None, [], []),  # no case: nothing to page about
        (
            ev.ConsentRecorded("shelter", True),
            CASE,
            [("services", "tirane", "shelter", "en")],
            ["shelter line"],
        ),
        (ev.ConsentRecorded("shelter", False), CASE, [], []),
        (ev.SessionEnded("exit"), None, [("left", 7, "exit")], []),
        (ev.SessionEnded("completed"), CASE, [], []),
        (ev.ErasureRequested(), None, [("left", 7, "erased")], []),
    ],
)
async def test_referral_handlers(
    event: ev.Event, case: Case | None, calls: list[Any], lines: list[str]
) -> None:
    referral = Recorder()
    registry = Handlers()
    handlers.register(registry, referral)  # type: ignore[arg-type]
    turn = Turn(None, CONTACT, None, Outcome(None, [event]), NOW, case=case)  # type: ignore[arg-type]
    await registry.apply(turn)
    assert referral.calls == calls
    assert turn.lines == lines
