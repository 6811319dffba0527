"""Follow-ups as the pipeline and the coordinator desk use them: orders registered, plans and
their check-ins scheduled, answers turned into alerts and notices, silence into a task.

Everything here runs inside the caller's unit of work (one transaction with the message or the
check-in that caused it); the sweep claims due check-ins and hands each to Pipeline.begin.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from bot import safe_times
from bot.engine import events as ev
from bot.engine.dates import parse_date
from bot.engine.normalise import normalise
from bot.engine.resumes import StartResume
from bot.engine.session import Session
from bot.followups import codewords
from bot.followups import plans as P
from bot.followups import texts as FT
from bot.referral import alerts
from bot.referral.context import Answers, Context, deliver
from bot.replies import can_write
from bot.store.db import UnitOfWork
from bot.store.records import Case, Checkin, Contact, Coordinator, Milestone, Plan

if TYPE_CHECKING:
    from bot.referral.commands import Command
    from bot.store.db import Database

log = logging.getLogger(__name__)

ORDER_FLOW = "order_checkin"
MILESTONE_FLOW = "milestone_checkin"
COMMANDS = ("order", "plan")  # the coordinator desk's commands follow-ups answer
TRIES = 2  # tries a day apart before the coordinator is asked to check on her
MILESTONE_WORDS = {
    "housing": ("housing", "banese", "banesa", "strehim", "shtepi", "house"),
    "job": ("job", "pune", "puna", "punesim", "work", "employment"),
    "training": ("training", "trajnim", "trajnimi", "kurs", "kursi", "course"),
    "income": ("income", "te ardhura", "ndihme ekonomike", "ndihma", "income support", "pagese"),
}


# Decides, under her lock and in the transaction, whether a check-in starts a conversation.
Prepare = Callable[[Any, Contact | None, datetime], Awaitable[StartResume | None]]


class Starter(Protocol):
    """What the sweep needs of the pipeline: its database, clock, and begin (to run a check-in)."""

    db: Database
    clock: Callable[[], datetime]

    async def begin(self, contact_id: int, prepare: Prepare) -> bool:
        """Run `prepare`, and the conversation it starts if any; True when one started."""
        ...


class Followups:
    """Orders, plans and check-ins (one per pipeline)."""

    def __init__(
        self,
        ctx: Context,
        *,
        cadence: Sequence[timedelta] = (),
        repeat: timedelta = timedelta(days=30),
        retry: timedelta = timedelta(days=1),
        quiet: timedelta = timedelta(minutes=30),
        lease: timedelta = timedelta(minutes=2),
        book: P.OrderBook | None = None,
        batch: int = 200,
        concurrency: int = 8,
    ) -> None:
        self.ctx = ctx
        self.cadence = tuple(cadence) or tuple(timedelta(days=d) for d in (1, 3, 7, 14, 30))
        self.repeat = repeat
        self.retry = retry  # between the two tries, and from the second to the silence task
        self.quiet = quiet  # a conversation this recent is in progress: the check-in waits
        self.lease = lease
        self.book = book or P.load_orders()
        self.batch = batch
        self.concurrency = concurrency  # check-ins run at once (PostgreSQL; keep < pool size)
        self.owner = f"{socket.gethostname()}:{id(self):x}"

    # -- registration ----------------------------------------------------------------------------

    async def _tz(self, uow: UnitOfWork, case: Case | None, country: str) -> str:
        places = await self.ctx.places(uow)
        place = places.get(case.municipality or "") if case else None
        return place.tz if place else P.COUNTRY_TZ.get(country, P.DEFAULT_TZ)

    async def register_order(
        self,
        uow: UnitOfWork,
        *,
        case: Case,
        contact_id: int,
        kind: P.OrderType,
        issued: date,
        ends: date | None,
        windows: Sequence[str] | None,
        by: int | None,
        now: datetime,
        in_force: bool = False,
    ) -> tuple[Any, Plan | None]:
        """Register (or correct) the order of a case and start its check-ins; windows None:
        she does not want check-ins, the order is recorded only. `in_force`: she says she has
        it now (her flow), so a legal default end already past counts from today."""
        last_day, is_default = P.order_end(
            issued, ends, kind, in_force_on=now.date() if in_force else None
        )
        order = await uow.followups.add_order(
            case_id=case.id,
            contact_id=contact_id,
            country=kind.country,
            kind=kind.key,
            issued_on=issued,
            ends_on=last_day,
            end_is_default=is_default,
            registered_by=by,
            now=now,
        )
        for old in await uow.followups.active_plans(case_id=case.id, kind="order"):
            await uow.followups.end_plan(old.id, "replaced", now)
        await uow.cases.add_event(
            case.id,
            "order_registered",
            {"kind": kind.key, "default_end": is_default, "by": "coordinator" if by else "flow"},
            now,
        )
        if windows is None:
            return order, None
        tz = await self._tz(uow, case, kind.country)
        plan = await uow.followups.add_plan(
            kind="order",
            contact_id=contact_id,
            case_id=case.id,
            order_id=order.id,
            windows=[w for w in windows if w in P.WINDOW_NAMES] or list(P.DEFAULT_WINDOWS),
            tz=tz,
            starts_at=now,
            ends_at=P.end_of_day(last_day, tz),
            now=now,
        )
        await self._schedule_next(uow, plan, now, now)
        return order, plan

    async def _schedule_next(
        self, uow: UnitOfWork, plan: Plan, after: datetime, now: datetime
    ) -> None:
        """The plan's next check-in after `after`, inside her windows; else its end marker."""
        nominal = P.next_nominal(plan.starts_at, self.cadence, self.repeat, after, plan.ends_at)
        while nominal is not None:
            due = P.snap(nominal, plan.windows, plan.tz, self.book)
            if plan.ends_at is None or due < plan.ends_at:
                await uow.followups.add_checkin(
                    plan_id=plan.id,
                    contact_id=plan.contact_id,
                    nominal_at=nominal,
                    due_at=due,
                    now=now,
                )
                return
            nominal = None  # the window opens after the order ends: no more check-ins
        if plan.ends_at is not None:
            # Nothing more to ask: a silent row closes the plan when the order ends.
            end = max(plan.ends_at, now)
            await uow.followups.add_checkin(
                plan_id=plan.id,
                contact_id=plan.contact_id,
                nominal_at=end,
                due_at=end,
                now=now,
                purpose="end",
            )

    async def add_milestone(
        self,
        uow: UnitOfWork,
        *,
        case: Case,
        contact: Contact,
        kind: str,
        due_on: date,
        by: int | None,
        now: datetime,
    ) -> Milestone:
        """A coordinator's milestone on a case; she is asked about it on its date."""
        found = await uow.followups.active_plans(case_id=case.id, kind="integration")
        if found:
            plan = found[0]
        else:
            orders = await uow.followups.active_plans(contact_id=contact.id, kind="order")
            windows = list(orders[-1].windows) if orders else _windows_of(contact)
            country = "XK" if (await self._tz(uow, case, "AL")) == "Europe/Belgrade" else "AL"
            plan = await uow.followups.add_plan(
                kind="integration",
                contact_id=contact.id,
                case_id=case.id,
                order_id=None,
                windows=windows,
                tz=await self._tz(uow, case, country),
                starts_at=now,
                ends_at=None,
                now=now,
            )
        milestone = await uow.followups.add_milestone(
            plan_id=plan.id, kind=kind, due_on=due_on, set_by=by, now=now
        )
        start = datetime.combine(due_on, datetime.min.time(), tzinfo=P.zone(plan.tz))
        nominal = max(start, now)
        await uow.followups.add_checkin(
            plan_id=plan.id,
            contact_id=contact.id,
            nominal_at=nominal,
            due_at=P.snap(nominal, plan.windows, plan.tz, self.book),
            now=now,
            milestone_id=milestone.id,
        )
        await uow.cases.add_event(case.id, "milestone_set", {"kind": kind}, now)
        return milestone

    # -- the coordinator's phone (ORDER / PLAN, parsed in bot/referral/commands.py) -------------

    async def command(
        self,
        uow: UnitOfWork,
        me: Coordinator,
        case: Case,
        cmd: Command,
        reply: Answers,
        now: datetime,
    ) -> None:
        """URDHER/ORDER R-4821 UM 01.11.2026 [31.10.2027]; PLAN R-4821 housing 15.12.2026."""
        contact = await uow.contacts.get(case.contact_id) if case.contact_id else None
        if contact is None:
            reply(FT.NO_CONTACT, ref=case.reference)
            return
        words = cmd.text.split()
        lang = me.language
        today = now.astimezone(P.zone(P.DEFAULT_TZ)).date()
        if cmd.action == "order":
            places = await self.ctx.places(uow)
            place = places.get(case.municipality or "")
            country = place.country if place else None
            kind = self.book.find(words[0], country) if words else None
            issued = parse_date(words[1], today) if len(words) > 1 else None
            ends = parse_date(words[2], today) if len(words) > 2 else None
            if kind is None or issued is None or (len(words) > 2 and ends is None):
                types = ", ".join(
                    t.words[0].upper()
                    for t in self.book.types.values()
                    if country is None or t.country == country
                )
                reply(FT.ORDER_HELP, ref=case.reference, types=types)
                return
            ends = _after_issue(issued, ends)
            current = await uow.followups.active_plans(case_id=case.id, kind="order")
            windows = list(current[-1].windows) if current else _windows_of(contact)
            order, plan = await self.register_order(
                uow,
                case=case,
                contact_id=contact.id,
                kind=kind,
                issued=issued,
                ends=ends,
                windows=windows,
                by=me.id,
                now=now,
            )
            names = (
                ", ".join(self.ctx.texts(lang, FT.WINDOW[w]) for w in plan.windows) if plan else ""
            )
            reply(
                FT.ORDER_SET,
                ref=case.reference,
                order=self.ctx.texts(lang, kind.label),
                issued=issued.strftime("%d.%m.%Y"),
                ends=order.ends_on.strftime("%d.%m.%Y"),
                windows=names or self.ctx.texts(lang, FT.WINDOWS_NONE),
            )
            if order.end_is_default:
                reply(FT.ORDER_DEFAULT, ref=case.reference)
            return
        kind_word = " ".join(words[:-1])
        milestone = _lookup_milestone(kind_word)
        due = parse_date(words[-1], today) if words else None
        if milestone is None or due is None:
            reply(FT.MILESTONE_HELP, ref=case.reference)
            return
        if due < today and words[-1].count(".") + words[-1].count("/") < 2:
            due = due.replace(year=due.year + 1)  # "15.12" without a year: the coming one
        await self.add_milestone(
            uow, case=case, contact=contact, kind=milestone, due_on=due, by=me.id, now=now
        )
        reply(
            FT.MILESTONE_SET,
            ref=case.reference,
            milestone=self.ctx.texts(lang, FT.MILESTONE_KIND[milestone]),
            date=due.strftime("%d.%m.%Y"),
        )

    # -- inside the pipeline's transaction -------------------------------------------------------

    async def after_events(
        self,
        uow: UnitOfWork,
        contact: Contact,
        case: Case | None,
        session: Session | None,
        events: Sequence[ev.Event],
        now: datetime,
    ) -> None:
        """What a conversation's events mean for follow-ups (registration, answers, exit)."""
        results = session.results if session is not None else {}
        # Danger said in the same answer paged already (naming a breach too): one page a turn.
        paged = any(isinstance(e, ev.ReferralRequested) and e.urgent for e in events)
        for event in events:
            if isinstance(event, ev.FollowupStarted) and event.plan == "protection_order":
                await self._from_flow(uow, contact, case, event.params, now)
            elif isinstance(event, ev.FollowupAnswered) and results.get("checkin_id"):
                checkin_id = int(results["checkin_id"])
                await self.answer(uow, contact, checkin_id, event.outcome, now, paged=paged)
                await self._without_code(uow, contact, results, now)
            elif isinstance(event, ev.SessionEnded) and event.reason == "exit":
                if results.get("checkin_id"):
                    # She saw it and left at once: answered, nothing more today.
                    await self.answer(uow, contact, int(results["checkin_id"]), "exit", now)

    async def _from_flow(
        self,
        uow: UnitOfWork,
        contact: Contact,
        case: Case | None,
        params: dict[str, Any],
        now: datetime,
    ) -> None:
        if case is None:
            log.warning("a flow started an order follow-up without a case; ignored")
            return
        places = await self.ctx.places(uow)
        place = places.get(case.municipality or "")
        kind = self.book.find(str(params.get("order") or ""), place.country if place else None)
        if kind is None:
            log.warning("a flow named an unknown order kind; ignored")
            return
        today = now.date()
        issued = _date(params.get("issued"), today) or today
        ends = _date(params.get("ends"), today)
        ends = _after_issue(issued, ends)
        window = params.get("window")
        windows = None if window in (None, "none", "") else [str(window)]
        # Code words: hers, chosen in the flow; kept encrypted on her contact row only.
        code = codewords.word_of(params.get("code_word"))
        distress = codewords.word_of(params.get("distress_word"))
        if distress == code:
            distress = None  # one word cannot mean both
        if code or distress:
            await uow.contacts.set_code_words(contact.id, code, distress)
        await self.register_order(
            uow,
            case=case,
            contact_id=contact.id,
            kind=kind,
            issued=issued,
            ends=ends,
            windows=windows,
            by=None,
            now=now,
            in_force=True,  # "do you already have an order?" - "yes"
        )

    async def answer(
        self,
        uow: UnitOfWork,
        contact: Contact,
        checkin_id: int,
        outcome: str,
        now: datetime,
        *,
        paged: bool = False,
    ) -> None:
        """She answered a check-in (or left it with DIL); `paged`: this turn paged already."""
        checkin = await uow.followups.get_checkin(checkin_id)
        if checkin is None:
            return
        plan = await uow.followups.get_plan(checkin.plan_id)
        if plan is None:
            return
        closed = await uow.followups.finish(checkin.id, outcome, now)
        if not closed and outcome not in ("breached", "talk", "problem", "stop"):
            return  # a late answer that changes nothing
        if not closed:
            await uow.followups.update_checkin(checkin.id, outcome=outcome, answered_at=now)
        case = await uow.cases.get(plan.case_id) if plan.case_id else None
        milestone = (
            await uow.followups.get_milestone(checkin.milestone_id)
            if checkin.milestone_id
            else None
        )
        if case is not None:
            await uow.cases.add_event(
                case.id,
                "followup_answered",
                {
                    "plan": plan.kind,
                    "outcome": outcome,
                    "milestone": milestone.kind if milestone else None,
                },
                now,
            )
        if outcome == "breached":
            await self._breach(uow, contact, case, now, page=not paged)
        elif outcome == "stop":
            await uow.followups.end_plan(plan.id, "stopped", now)
            await self._tell(uow, plan, case, FT.STOPPED, now, about=milestone)
            return
        elif outcome == "talk" and milestone is None:
            await self._talk(uow, plan, case, contact, now)
        if milestone is not None and outcome in FT.ANSWER:
            await uow.followups.answer_milestone(milestone.id, outcome, now)
            await self._tell_milestone(uow, plan, case, contact, milestone, outcome, now)
        if not closed or plan.status != "active":
            return
        if outcome == "not_now":
            # Ask again tomorrow, at her time; the plan goes on from there.
            await uow.followups.add_checkin(
                plan_id=plan.id,
                contact_id=contact.id,
                nominal_at=checkin.nominal_at,
                due_at=P.snap(now + self.retry, plan.windows, plan.tz, self.book),
                now=now,
                milestone_id=checkin.milestone_id,
            )
        elif plan.kind == "order":
            await self._schedule_next(uow, plan, max(now, checkin.nominal_at), now)

    # -- code words ------------------------------------------------------------------------------

    async def read_code_words(
        self, uow: UnitOfWork, contact: Contact, session: Session | None, text: str, now: datetime
    ) -> str:
        """A message of hers: note her code word in a check-in's answer, alert silently on her
        distress word (at any time), and hand the flow her words without them, so our reply
        looks as it would to an ordinary message."""
        results = session.results if session is not None else {}
        checkin_id = results.get("checkin_id")
        if not checkin_id and not contact.fields.get("code_words"):
            return text  # nearly everyone: no query
        code, distress = await uow.contacts.code_words(contact.id)
        if not (code or distress):
            return text
        reading = codewords.read(text, code, distress)
        if reading.gave_code and checkin_id:
            results["code_given"] = True
        if reading.gave_distress and not results.get("code_distress"):
            if checkin_id:
                results["code_distress"] = True
                checkin = await uow.followups.get_checkin(int(checkin_id))
                plan = await uow.followups.get_plan(checkin.plan_id) if checkin else None
                case = await uow.cases.get(plan.case_id) if plan and plan.case_id else None
            else:
                case = await uow.cases.open_for_contact(contact.id)
            await self._urgent(uow, contact, case, "distress_word", now)
        if checkin_id or not (reading.gave_code or reading.gave_distress):
            return reading.text
        # Outside a check-in a lone word is not an answer to anything: the flow gets nothing.
        rest = " ".join(w for w in text.split() if normalise(w) not in (code, distress))
        return rest

    async def _without_code(
        self, uow: UnitOfWork, contact: Contact, results: dict[str, Any], now: datetime
    ) -> None:
        """A check-in answered without her code word: someone else may hold her phone."""
        if results.get("code_given") or results.get("code_distress"):
            return
        code, _ = await uow.contacts.code_words(contact.id)
        if not code:
            return
        checkin = await uow.followups.get_checkin(int(results["checkin_id"]))
        plan = await uow.followups.get_plan(checkin.plan_id) if checkin else None
        if plan is None:
            return
        case = await uow.cases.get(plan.case_id) if plan.case_id else None
        if case is not None:
            await uow.cases.add_event(case.id, "code_word_missing", {"plan": plan.kind}, now)
        await self._tell(uow, plan, case, FT.NO_CODE, now, fallback="no_code_word", contact=contact)

    async def _breach(
        self, uow: UnitOfWork, contact: Contact, case: Case | None, now: datetime, page: bool
    ) -> None:
        """The order was breached: an urgent alert with the case's reference."""
        await self._urgent(uow, contact, case, "order_breached", now, page=page)

    async def _urgent(
        self,
        uow: UnitOfWork,
        contact: Contact,
        case: Case | None,
        flag: str,
        now: datetime,
        *,
        page: bool = True,
    ) -> None:
        """The case becomes urgent with a red flag (a breach, her distress word) and its
        coordinator is paged with its reference (alerts.request: a case paged earlier that
        nobody took is paged again); only without an open case of hers is a new one opened,
        linked to the closed one. `page` False: this turn paged already."""
        if case is None or case.status == "closed":
            case = await uow.cases.open_for_contact(contact.id) or await self._new_case(
                uow, contact, case, now
            )
        flags = [*case.flags, flag]
        case = await uow.cases.update(case.id, now, urgency="urgent", flags=flags)
        await uow.cases.add_event(case.id, "urgency_raised", {"reason": flag}, now)
        if page:
            await alerts.request(self.ctx, uow, case, True, flag, now)

    async def _new_case(
        self, uow: UnitOfWork, contact: Contact, old: Case | None, now: datetime
    ) -> Case:
        """A fresh case for a new request on a closed (or already paged) one, linked to it."""
        case = await uow.cases.open(contact.id, now)
        if old is not None:
            changes = {"municipality": old.municipality, "reporter": old.reporter}
            case = await uow.cases.update(
                case.id, now, **{k: v for k, v in changes.items() if v is not None}
            )
            await uow.cases.add_event(case.id, "followup_of", {"case_id": old.id}, now)
        return case

    async def _coordinator(
        self, uow: UnitOfWork, plan: Plan, case: Case | None, milestone: Milestone | None = None
    ) -> Coordinator | None:
        """Who hears about this plan: the case's coordinator, else who set the order/milestone."""
        if case is not None:
            assignment = await uow.alerts.assignment(case.id)
            if assignment is not None:
                found = await uow.coordinators.get(assignment.coordinator_id)
                if found is not None and found.active:
                    return found
        candidates: list[int] = []
        if milestone is not None and milestone.set_by:
            candidates.append(milestone.set_by)
        if plan.order_id:
            order = await uow.followups.get_order(plan.order_id)
            if order is not None and order.registered_by:
                candidates.append(order.registered_by)
        for coordinator_id in candidates:
            found = await uow.coordinators.get(coordinator_id)
            if found is not None and found.active:
                return found
        return None

    async def _tell(
        self,
        uow: UnitOfWork,
        plan: Plan,
        case: Case | None,
        msgid: str,
        now: datetime,
        *,
        about: Milestone | None = None,
        fallback: str | None = None,
        contact: Contact | None = None,
        **params: Any,
    ) -> bool:
        """A notice about the case to its coordinator; with none, a non-urgent request."""
        if case is None:
            return False
        coordinator = await self._coordinator(uow, plan, case, about)
        if coordinator is not None:
            text = self.ctx.texts(coordinator.language, msgid, ref=case.reference, **params)
            await deliver(uow, coordinator, text, now, case_id=case.id, kind="notice", state="info")
            return True
        if fallback and contact is not None:
            if case.status == "closed":
                case = await self._new_case(uow, contact, case, now)
            await alerts.request(self.ctx, uow, case, False, fallback, now)
        return False

    async def _talk(
        self, uow: UnitOfWork, plan: Plan, case: Case | None, contact: Contact, now: datetime
    ) -> None:
        """She wants to talk: a non-urgent request (a notice to her coordinator if she has one)."""
        if case is None:
            case = await self._new_case(uow, contact, None, now)
        await self._tell(uow, plan, case, FT.TALK, now, fallback="asked_person", contact=contact)

    async def _tell_milestone(
        self,
        uow: UnitOfWork,
        plan: Plan,
        case: Case | None,
        contact: Contact,
        milestone: Milestone,
        outcome: str,
        now: datetime,
    ) -> None:
        coordinator = await self._coordinator(uow, plan, case, milestone)
        lang = coordinator.language if coordinator else "sq"
        await self._tell(
            uow,
            plan,
            case,
            FT.MILESTONE,
            now,
            about=milestone,
            fallback="integration",
            contact=contact,
            **{
                "milestone": self.ctx.texts(lang, FT.MILESTONE_KIND[milestone.kind]),
                "date": milestone.due_on.strftime("%d.%m.%Y") if milestone.due_on else "",
                "answer": self.ctx.texts(lang, FT.ANSWER[outcome]),
            },
        )

    # -- the sweep -------------------------------------------------------------------------------

    async def sweep(self, starter: Starter, *, limit: int | None = None) -> int:
        """Claim due check-ins and run each once (SKIP LOCKED on PostgreSQL); how many ran."""
        ran = 0
        limit = limit or self.batch * 50
        while ran < limit:
            now = starter.clock()
            async with starter.db.uow() as uow:
                due = await uow.followups.claim_due(now, self.batch, self.lease, self.owner)
                await uow.commit()
            # Several at once on PostgreSQL (each its own transaction and connection; one
            # person's are serialised by her lock); SQLite has one writer anyway.
            width = self.concurrency if starter.db.dialect == "postgresql" else 1
            gate = asyncio.Semaphore(width)
            await asyncio.gather(*(self._run_gated(gate, starter, c) for c in due))
            ran += len(due)
            if len(due) < self.batch:
                break
        return ran

    async def _run_gated(self, gate: asyncio.Semaphore, starter: Starter, checkin: Checkin) -> None:
        async with gate:
            try:
                await self.run(starter, checkin)
            except Exception:
                log.exception("a follow-up check-in failed; it is retried after its lease")

    async def run(self, starter: Starter, checkin: Checkin) -> None:
        """One claimed check-in: send it, defer it, end the plan, or ask a coordinator."""
        if checkin.contact_id is None:  # she erased her data
            async with starter.db.uow() as uow:
                await uow.followups.update_checkin(checkin.id, status="cancelled")
                await uow.commit()
            return
        await starter.begin(checkin.contact_id, partial(self._prepare, checkin.id))

    async def _prepare(
        self, checkin_id: int, uow: UnitOfWork, contact: Contact | None, now: datetime
    ) -> StartResume | None:
        """Decide, under her lock, what a due check-in does; StartResume sends it."""
        fu = uow.followups
        if contact is None or not await fu.lock_contact(contact.id):
            await fu.update_checkin(checkin_id, status="cancelled")
            return None
        checkin = await fu.take(checkin_id, self.owner)
        if checkin is None:
            return None  # done meanwhile, or our lease ran out and another worker has it
        plan = await fu.get_plan(checkin.plan_id)
        if plan is None or plan.status != "active":
            await fu.update_checkin(checkin.id, status="cancelled")
            return None
        case = await uow.cases.get(plan.case_id) if plan.case_id else None
        if checkin.purpose == "end":
            await fu.finish(checkin.id, "ended", now)
            await fu.end_plan(plan.id, "ended", now)
            if plan.order_id:
                await fu.set_order_status(plan.order_id, "ended", now)
            if case is not None:
                await uow.cases.add_event(case.id, "followup_ended", {"plan": plan.kind}, now)
            return None
        if checkin.tries >= TRIES:
            await self._silent(uow, plan, case, contact, checkin, now)
            return None
        if not can_write(contact):
            # STOP at the carrier: nothing can reach her by SMS; the plan ends.
            await fu.finish(checkin.id, "unreachable", now)
            await fu.end_plan(plan.id, "stopped", now)
            return None
        if safe_times.reach(contact.fields).kind == "hold":
            # Safe times: she asked us to wait until she writes; ask again tomorrow, at her time.
            due = P.snap(now + self.retry, plan.windows, plan.tz, self.book)
            await fu.update_checkin(
                checkin.id, status="pending", due_at=due, deferrals=checkin.deferrals + 1
            )
            return None
        if await self._busy(uow, contact, checkin.id, now):
            due = P.snap(now + self.quiet, plan.windows, plan.tz, self.book)
            await fu.update_checkin(
                checkin.id, status="pending", due_at=due, deferrals=checkin.deferrals + 1
            )
            return None
        if not P.in_windows(now, plan.windows, plan.tz, self.book):
            # Due while the helpline was down, or a deferral ran past her window.
            due = P.snap(now, plan.windows, plan.tz, self.book)
            await fu.update_checkin(checkin.id, status="pending", due_at=due)
            return None
        tries = checkin.tries + 1
        nxt = now + self.retry
        if tries < TRIES:
            nxt = P.snap(nxt, plan.windows, plan.tz, self.book)
        await fu.update_checkin(
            checkin.id,
            status="pending",
            tries=tries,
            due_at=nxt,
            sent_at=checkin.sent_at or now,
        )
        milestone = await fu.get_milestone(checkin.milestone_id) if checkin.milestone_id else None
        results: dict[str, Any] = {"checkin_id": checkin.id, "try": tries}
        if milestone is not None:
            results["milestone"] = milestone.kind
        return StartResume(MILESTONE_FLOW if milestone else ORDER_FLOW, results)

    async def _busy(
        self, uow: UnitOfWork, contact: Contact, checkin_id: int, now: datetime
    ) -> bool:
        """A conversation is in progress: she wrote (or we asked) lately, or a coordinator's
        relay is open (her answer would go to the coordinator, not to the check-in)."""
        stored = await uow.sessions.get_active(contact.id)
        if stored is not None and stored.updated_at > now - self.quiet:
            if stored.state.get("results", {}).get("checkin_id") != checkin_id:
                return True
        return await uow.alerts.relay_for_contact(contact.id, now) is not None

    async def _silent(
        self,
        uow: UnitOfWork,
        plan: Plan,
        case: Case | None,
        contact: Contact,
        checkin: Checkin,
        now: datetime,
    ) -> None:
        """Two tries a day apart and no answer: a coordinator is asked to check on her."""
        await uow.followups.finish(checkin.id, "no_answer", now)
        milestone = (
            await uow.followups.get_milestone(checkin.milestone_id)
            if checkin.milestone_id
            else None
        )
        if case is None:
            case = await self._new_case(uow, contact, None, now)
        await uow.cases.add_event(case.id, "followup_silent", {"plan": plan.kind}, now)
        first = (checkin.sent_at or now).astimezone(P.zone(plan.tz)).strftime("%d.%m %H:%M")
        await self._tell(
            uow,
            plan,
            case,
            FT.SILENT,
            now,
            about=milestone,
            fallback="followup_no_answer",
            contact=contact,
            first=first,
        )
        if plan.kind == "order":
            await self._schedule_next(uow, plan, max(now, checkin.nominal_at), now)


def _after_issue(issued: date, ends: date | None) -> date | None:
    """An end before the issue date means the coming year's ("31.10" written without a year)."""
    if ends is None or ends >= issued:
        return ends
    try:
        return ends.replace(year=ends.year + 1)
    except ValueError:  # 29 February, and the coming year is not a leap year
        return ends.replace(year=ends.year + 1, day=28)


def _date(value: Any, today: date) -> date | None:
    """An ISO date from a flow's result (or a date as typed), None when unknown."""
    if value is None or value in ("", "unknown"):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return parse_date(str(value), today)


def _windows_of(contact: Contact) -> list[str]:
    """The time she said was safe in her first conversation, else any time of day."""
    chosen = contact.fields.get("safe_window")
    return [chosen] if chosen in ("morning", "afternoon", "evening") else ["any"]


def _lookup_milestone(typed: str) -> str | None:
    """housing, job, training or income from what a coordinator typed (sq or en)."""
    wanted = normalise(typed)
    for key, words in MILESTONE_WORDS.items():
        if wanted and wanted in {normalise(w) for w in (key, *words)}:
            return key
    return None
