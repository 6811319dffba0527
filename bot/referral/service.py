"""The referral desk as the pipeline uses it: calls run in the caller's transaction, but for fires.

run_fire and sweep open their own units of work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.messages import Inbound
from bot.referral import alerts, desk, directory
from bot.referral import texts as T
from bot.referral.context import Context, DeskCommand, on_sent
from bot.referral.texts import Texts, Translator
from bot.store.db import Database, UnitOfWork
from bot.store.records import Case, Contact, Coordinator, Fire, Service

log = logging.getLogger(__name__)

FIRE_KINDS = frozenset({alerts.FIRE_ESCALATE})


class Referral:
    """Coordinators' commands, alerts and escalation, relays, and services for the person."""

    fire_kinds = FIRE_KINDS
    # The outbox sender's hook (OutboxSender(on_sent=...)): alerts sent another way.
    on_sent = staticmethod(on_sent)

    def __init__(
        self,
        catalogs: Translator,
        *,
        ack_timeout: timedelta = timedelta(minutes=5),
        relay_window: timedelta = timedelta(hours=24),
        include_sample_services: bool = False,
    ) -> None:
        self.ctx = Context(
            texts=Texts(catalogs),
            ack_timeout=ack_timeout,
            relay_window=relay_window,
            include_sample_services=include_sample_services,
        )
        self._seed: list[Service] | None = None

    def add_command(self, action: str, run: DeskCommand) -> None:
        """Another feature handles coordinators' `action` commands (follow-ups: order, plan)."""
        self.ctx.commands[action] = run

    # -- inside the pipeline's transaction -----------------------------------------------------

    async def coordinator_for(self, uow: UnitOfWork, urn: str) -> Coordinator | None:
        """The active coordinator writing from this URN, if it is one."""
        return await uow.coordinators.find_by_urn(urn)

    async def handle_coordinator(
        self,
        uow: UnitOfWork,
        coordinator: Coordinator,
        contact: Contact,
        inbound: Inbound,
        now: datetime,
    ) -> None:
        """A coordinator's message is a command (accept, relay, note...); replies via the outbox."""
        await desk.handle(self.ctx, uow, coordinator, contact, inbound, now)

    async def relay_inbound(
        self,
        uow: UnitOfWork,
        contact: Contact,
        text: str,
        now: datetime,
        *,
        flows_too: bool,
    ) -> bool:
        """Pass the person's words to their coordinator if a relay is open; True: skip flows.

        Only for a person with an open case (the pipeline skips the others): a relay is a
        worked case's, and a worked case is open."""
        return await desk.relay_in(self.ctx, uow, contact, text, now, flows_too=flows_too)

    async def on_referral_requested(
        self,
        uow: UnitOfWork,
        case: Case,
        urgent: bool,
        reason: str,
        now: datetime,
        *,
        also: Sequence[str] = (),
    ) -> None:
        """A flow asked for a coordinator: page now (urgent) or queue for a digest; `also`:
        more red flags of the same turn, named in the same page."""
        await alerts.request(self.ctx, uow, case, urgent, reason, now, also=also)

    async def on_person_left(
        self, uow: UnitOfWork, contact_id: int, reason: str, now: datetime
    ) -> None:
        """Quick exit ("exit") or erasure ("erased"): tell the coordinator, hold the relay."""
        await desk.person_left(self.ctx, uow, contact_id, reason, now)

    async def service_lines(
        self, uow: UnitOfWork, municipality: str | None, kind: str, language: str | None
    ) -> list[str]:
        """The nearest services of a kind for the person, as lines in their language."""
        items = await uow.services.list_all(kind=kind)
        if not items:
            # An empty directory (never imported): the shipped national numbers still help.
            if self._seed is None:
                self._seed = directory.load_seed()
            items = [s for s in self._seed if s.kind == kind]
        places = await self.ctx.places(uow)
        found = directory.nearest(
            items,
            municipality,
            kind,
            places,
            include_samples=self.ctx.include_sample_services,
        )
        if not found:
            return []
        t = self.ctx.texts
        # A neutral first line: it is what shows on a locked screen.
        lines = [t(language, T.SERVICES_HEADER)]
        for f in found:
            s = f.service
            if s.hours:
                hours = directory.hours_words(s.hours, lambda m, **p: t(language, m, **p))
                lines.append(
                    t(language, T.SERVICE_LINE_HOURS, name=s.name, phone=s.phone, hours=hours)
                )
            else:
                lines.append(t(language, T.SERVICE_LINE, name=s.name, phone=s.phone))
        return lines

    # -- own transactions ----------------------------------------------------------------------

    async def run_fire(self, db: Database, fire: Fire, now: datetime) -> None:
        """An escalation timer came due."""
        async with db.uow() as uow:
            case_id = (fire.payload or {}).get("case_id")
            if fire.kind == alerts.FIRE_ESCALATE and case_id is not None:
                await alerts.escalate(self.ctx, uow, int(case_id), now)
            await uow.fires.done(fire.id)
            await uow.commit()

    async def sweep(self, db: Database, now: datetime) -> int:
        """Send due digests, re-send failed alerts the other way, escalate dead pages."""
        async with db.uow() as uow:
            done = await alerts.sweep(self.ctx, uow, now)
            await uow.commit()
        return done
