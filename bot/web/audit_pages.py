"""/admin's own pages: the start page, the audit log and the accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.store.records import AuditEntry
from bot.store.repos.audit import AuditFilter
from bot.web.kit import PREFIX, current_user, deps, gettext, render, require_admin


async def dashboard(request: web.Request) -> web.StreamResponse:
    """The start page: admins to the statistics, coordinators to their cases."""
    user = current_user(request)
    raise web.HTTPSeeOther(f"{PREFIX}/stats" if user.is_admin else f"{PREFIX}/cases")


AUDIT_PAGE = 100


def _audit_filter(query: Any, case_id: int | None) -> tuple[AuditFilter, int | None, bool]:
    """The audit page's filters and page cursor from the query string; False when one is bad
    (`case_id` is the id of the reference asked for, None when there is no such case)."""
    ok = True

    def day(name: str) -> datetime | None:
        nonlocal ok
        value = query.get(name, "").strip()
        if not value:
            return None
        try:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            ok = False
            return None

    kind, _, ident = query.get("who", "").partition(":")
    if query.get("who") and not (kind in ("u", "c") and ident.isdigit()):
        ok = False
    if query.get("case", "").strip() and case_id is None:
        ok = False
    before = query.get("before", "")
    if before and not before.isdigit():
        ok = False
    until = day("to")
    where = AuditFilter(
        admin_user_id=int(ident) if kind == "u" and ident.isdigit() else None,
        coordinator_id=int(ident) if kind == "c" and ident.isdigit() else None,
        action=query.get("action") or None,
        case_id=case_id,
        since=day("from"),
        until=until + timedelta(days=1) if until else None,
    )
    return where, int(before) if before.isdigit() else None, ok


async def audit_page(request: web.Request) -> web.Response:
    """The audit log, newest first, in pages, with filters (admins only)."""
    require_admin(request)
    _ = gettext(request)
    d = deps(request)
    q = request.query
    reference = q.get("case", "").strip().upper()
    async with d.db.uow() as uow:
        case = await uow.cases.get_by_reference(reference) if reference else None
        where, before, ok = _audit_filter(q, case.id if case else None)
        entries: list[AuditEntry] = []
        next_before: int | None = None
        if ok:
            entries, next_before = await uow.audit.page(where, before_id=before, size=AUDIT_PAGE)
        actions = await uow.audit.actions()
        user_list = await uow.accounts.list_users()
        coordinator_list = await uow.coordinators.list_all(include_removed=True)
        references = await uow.cases.references(e.case_id for e in entries if e.case_id)
    users = {u.id: u.username for u in user_list}
    coordinators = {c.id: c.name for c in coordinator_list}
    rows = [
        {
            "id": e.id,
            "at": e.at,
            "who": users.get(e.admin_user_id or -1)
            or coordinators.get(e.coordinator_id or -1)
            or "—",
            "via": "web" if e.admin_user_id else "phone",
            "action": e.action,
            "case_id": e.case_id,
            "reference": references.get(e.case_id or -1, f"#{e.case_id}"),
            "detail": ", ".join(f"{k}={v}" for k, v in sorted(e.data.items()) if k != "text"),
        }
        for e in entries
    ]
    kept = {k: v for k, v in q.items() if k != "before" and v}
    return render(
        request,
        "audit.html",
        status=200 if ok else 400,
        rows=rows,
        error=_("Check the filters: dates are written YYYY-MM-DD, and the case must exist.")
        if not ok
        else "",
        actions=actions,
        who_choices=[(f"u:{u.id}", u.username) for u in user_list]
        + [(f"c:{c.id}", c.name) for c in coordinator_list],
        next_url=f"{PREFIX}/audit?" + urlencode({**kept, "before": next_before})
        if next_before is not None
        else "",
        first_url=f"{PREFIX}/audit?" + urlencode(kept) if before is not None else "",
    )


async def users_page(request: web.Request) -> web.Response:
    """The accounts (admins only; they are made with `helpline admin add`)."""
    require_admin(request)
    d = deps(request)
    async with d.db.uow() as uow:
        users = await uow.accounts.list_users()
    return render(request, "users.html", users=users)


def add_routes(router: web.UrlDispatcher) -> None:
    """The start page, /admin/audit and /admin/users."""
    router.add_get("", dashboard)  # /admin itself
    router.add_get("/", dashboard)
    router.add_get("/audit", audit_page)
    router.add_get("/users", users_page)
