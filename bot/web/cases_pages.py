"""/admin/cases: the list with filters, a case's page (personal data only when asked, audited)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.engine.definition import SERVICES
from bot.referral import cases as case_rules
from bot.store.models import CASE_STATUSES, RISK_LEVELS, URGENCIES
from bot.store.records import Case
from bot.web import auth
from bot.web.kit import PREFIX, audit, current_user, deps, gettext, redirect, render

log = logging.getLogger(__name__)

MAX_NOTE = 2000
MIN_REASON = 5  # characters: a reason to see personal data, not a keystroke
# Event data keys that hold a person's words: shown only after "show personal data".
PERSONAL_KEYS = ("text", "urn", "phone", "name", "message")


def _date(value: str) -> datetime | None:
    """A yyyy-mm-dd filter value as the start of that day in UTC, or None."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def local(at: datetime | None, tz: str = "Europe/Tirane") -> str:
    """A stored UTC time as local time, to the minute."""
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if at else ""


async def list_page(request: web.Request) -> web.Response:
    """GET /admin/cases: newest first; a coordinator sees their municipality only."""
    user = current_user(request)
    d = deps(request)
    q = request.query
    scope = auth.case_scope(user)
    municipality = scope if scope is not None else (q.get("municipality") or None)
    until = _date(q.get("to", ""))
    async with d.db.uow() as uow:
        found = await uow.cases.find(
            municipality=municipality,
            status=q.get("status") if q.get("status") in CASE_STATUSES else None,
            urgency=q.get("urgency") if q.get("urgency") in URGENCIES else None,
            risk_level=q.get("risk") if q.get("risk") in RISK_LEVELS else None,
            since=_date(q.get("from", "")),
            until=until + timedelta(days=1) if until else None,
            reference=q.get("ref") or None,
        )
        places = {m.slug: m.name for m in await uow.municipalities.list_all()}
    return render(
        request,
        "cases.html",
        cases=found,
        places=places,
        local=local,
        statuses=CASE_STATUSES,
        urgencies=URGENCIES,
        risks=RISK_LEVELS,
    )


async def _case_or_404(request: web.Request) -> Case:
    """The case, if this user may see it; otherwise 404 (and the attempt is audited)."""
    user = current_user(request)
    d = deps(request)
    try:
        case_id = int(request.match_info["case_id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such case") from None
    async with d.db.uow() as uow:
        case = await uow.cases.in_scope(case_id, auth.case_scope(user))
        exists = case is not None or await uow.cases.get(case_id) is not None
    if case is None:
        if exists:
            # Another municipality's case: the same answer as a missing one, and recorded.
            await audit(request, "case_access_refused", case_id=case_id)
        raise web.HTTPNotFound(text=gettext(request)("No such case, or not yours to see."))
    return case


async def _page(
    request: web.Request,
    case: Case,
    *,
    revealed: bool = False,
    error: str = "",
    status: int = 200,
) -> web.Response:
    d = deps(request)
    async with d.db.uow() as uow:
        events = await case_rules.timeline(uow, case.id)
        alerts = await uow.alerts.for_case(case.id)
        coordinators = {c.id: c.name for c in await uow.coordinators.list_all(include_removed=True)}
        users = {u.id: u.username for u in await uow.accounts.list_users()}
        plans = await uow.followups.plans_of_case(case.id)
        checkins = {p.id: await uow.followups.open_checkins(p.id) for p in plans}
        places = {m.slug: m for m in await uow.municipalities.list_all()}
        personal: dict[str, Any] = {}
        if revealed and case.contact_id is not None:
            contact = await uow.contacts.get(case.contact_id)
            if contact is not None:
                personal = {
                    "urn": contact.urn,
                    "channel": contact.channel,
                    "messages": await uow.messages.list_for_contact(case.contact_id, limit=100),
                }
    tz = places[case.municipality].tz if case.municipality in places else "Europe/Tirane"
    timeline = []
    for e in events:
        shown = {k: v for k, v in e.data.items() if revealed or k not in PERSONAL_KEYS}
        who = coordinators.get(shown.pop("coordinator_id", None) or -1) or users.get(
            shown.pop("admin_user_id", None) or -1, ""
        )
        hidden = not revealed and any(k in e.data for k in PERSONAL_KEYS)
        timeline.append(
            {"at": local(e.at, tz), "kind": e.kind, "who": who, "data": shown, "hidden": hidden}
        )
    referrals = [e for e in events if e.kind == "referred"]
    return render(
        request,
        "case.html",
        status=status if status != 200 else 422 if error else 200,
        case=case,
        place=places.get(case.municipality or ""),
        timeline=timeline,
        alerts=alerts,
        coordinators=coordinators,
        plans=plans,
        checkins=checkins,
        referrals=referrals,
        revealed=revealed,
        personal=personal,
        local=lambda at: local(at, tz),
        gbv_types=case_rules.GBV_TYPES,
        outcomes=case_rules.OUTCOMES,
        services=SERVICES,
        error=error,
    )


async def case_page(request: web.Request) -> web.Response:
    """GET /admin/cases/{id}: figures and timeline; personal data hidden."""
    case = await _case_or_404(request)
    await audit(request, "case_viewed", case_id=case.id)
    return await _page(request, case)


async def reveal(request: web.Request) -> web.Response:
    """POST /admin/cases/{id}/reveal: show the person's address and words, and record it."""
    case = await _case_or_404(request)
    form = await request.post()
    reason = " ".join(str(form.get("reason", "")).split())[:200]
    if len(reason) < MIN_REASON:
        # Nothing shown and nothing recorded: the audit log must say why data was seen.
        _ = gettext(request)
        return await _page(
            request, case, error=_("Say why you need the personal data (a few words)."), status=400
        )
    await audit(request, "case_personal_data_viewed", case_id=case.id, reason=reason)
    return await _page(request, case, revealed=True)


async def act(request: web.Request) -> web.StreamResponse:
    """POST /admin/cases/{id}/{action}: note, type, refer, close (the referral rules apply)."""
    case = await _case_or_404(request)
    user = current_user(request)
    d = deps(request)
    _ = gettext(request)
    action = request.match_info["action"]
    form = await request.post()
    now = d.clock()
    try:
        async with d.db.uow() as uow:
            if action == "note":
                text = str(form.get("text", "")).strip()
                if not text or len(text) > MAX_NOTE:
                    raise ValueError(_("A note needs 1 to 2000 characters."))
                await case_rules.add_note(uow, case, None, text, now)  # type: ignore[arg-type]
            elif action == "type":
                await case_rules.set_type(uow, case, None, str(form.get("type", "")), now)  # type: ignore[arg-type]
            elif action == "refer":
                await case_rules.refer(uow, case, None, str(form.get("service", "")), now)  # type: ignore[arg-type]
            elif action == "close":
                await case_rules.close(uow, case, None, str(form.get("outcome", "")), now)
            else:
                raise web.HTTPNotFound()
            await uow.audit.add(
                f"case_{action}", now=now, case_id=case.id, admin_user_id=user.id, data={}
            )
            await uow.commit()
    except (ValueError, case_rules.InvalidTransition, case_rules.NoConsent) as exc:
        return await _page(request, case, error=str(exc))
    raise redirect(f"{PREFIX}/cases/{case.id}", ok="saved")


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/cases", list_page)
    router.add_get("/cases/{case_id}", case_page)
    router.add_post("/cases/{case_id}/reveal", reveal)
    router.add_post("/cases/{case_id}/{action}", act)
