"""/admin: the admin sub-app (sign-in, roles, CSRF, templates in the user's language)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from aiohttp import web

from bot.config import Settings
from bot.flows.library import FlowLibrary
from bot.i18n import Catalogs
from bot.store.db import Database
from bot.store.repos.admin import AdminUser
from bot.store.repos.audit import AuditFilter
from bot.web import auth
from bot.web.ui_texts import UI_LANGUAGES, translator

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "admin_static"
PREFIX = "/admin"
SYNC_SECONDS = 15  # how often a worker picks up what another worker published
PUBLIC = ("/admin/login", "/admin/static/")

# What a redirect's ?ok=KEY says on the next page.
NOTICES = {
    "saved": "Saved.",
    "published": "Published: new conversations use the new version; those under way keep theirs.",
    "unchanged": "Nothing changed: this is the version already serving.",
    "reverted": "Reverted: the older version is serving again.",
    "revert_failed": "That version no longer passes the checks; it was not published.",
    "import_bad": "Choose a language and a .po file.",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN_BODY_MAX = 2 * 1024 * 1024  # bytes an admin's POST may carry
USER = web.RequestKey("admin_user", AdminUser)
TOKEN = web.RequestKey("admin_token", str)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Deps:
    """What the admin pages use of the running helpline."""

    settings: Settings
    db: Database
    flows: FlowLibrary
    catalogs: Catalogs
    clock: Callable[[], datetime]
    pipeline: Any


def deps(request: web.Request) -> Deps:
    """The helpline's parts, from the parent application."""
    from bot import app as main  # the parent module imports this one: look its keys up late

    cfg = request.config_dict
    return Deps(
        settings=cfg[main.SETTINGS],
        db=cfg[main.DB],
        flows=cfg[main.FLOWS],
        catalogs=cfg[main.CATALOGS],
        clock=cfg[main.CLOCK],
        pipeline=cfg[main.PIPELINE],
    )


def current_user(request: web.Request) -> AdminUser:
    """The signed-in user (the middleware let the request through)."""
    return request[USER]


def language_of(request: web.Request) -> str:
    """The UI language: the user's, else the browser's first known one, else Albanian."""
    user = request.get(USER)
    if user is not None:
        return user.language
    asked = request.query.get("lang", "")
    if asked in UI_LANGUAGES:
        return asked
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in UI_LANGUAGES:
            return code
    return "sq"


def gettext(request: web.Request) -> Callable[[str], str]:
    """`_` for this request's language."""
    return translator(language_of(request))


def csrf_for(request: web.Request) -> str:
    """The CSRF token forms on this page carry."""
    bound = request.get(TOKEN) or request.cookies.get(auth.PRE_COOKIE) or ""
    return auth.csrf_token(deps(request).settings.secret_key, bound)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A page from templates/, in the user's language, with the CSRF token for its forms."""
    user = request.get(USER)
    csrf = context.pop("csrf_override", None) or csrf_for(request)
    page = _env.get_template(template).render(
        _=gettext(request),
        lang=language_of(request),
        user=user,
        csrf=csrf,
        path=request.path,
        query=request.query,
        notice=gettext(request)(NOTICES.get(request.query.get("ok", ""), "")) or "",
        **context,
    )
    return web.Response(text=page, content_type="text/html", status=status)


def redirect(location: str, **params: str) -> web.HTTPSeeOther:
    """303 to a page (after a form), with a notice key in the query."""
    query = urlencode({k: v for k, v in params.items() if v})
    return web.HTTPSeeOther(location + ("?" + query if query else ""))


def require_admin(request: web.Request) -> AdminUser:
    """The user, when they are an admin; 403 otherwise."""
    user = current_user(request)
    if not user.is_admin:
        raise web.HTTPForbidden(text=gettext(request)("This page is for admins only."))
    return user


async def audit(
    request: web.Request, action: str, *, case_id: int | None = None, **data: Any
) -> None:
    """Record who looked at or did something sensitive, in its own transaction."""
    d = deps(request)
    async with d.db.uow() as uow:
        await uow.audit.add(
            action,
            now=d.clock(),
            case_id=case_id,
            admin_user_id=current_user(request).id,
            data=data,
        )
        await uow.commit()


def _same_origin(request: web.Request) -> bool:
    """A post that names its origin must name ours (a second line behind the token).

    Under the site-wide Referrer-Policy no-referrer (bot/web/security.py) browsers send
    "Origin: null" even from our own pages; the token alone decides those.
    """
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is signed in; sign-in required except for the sign-in page; CSRF on every POST."""
    if request.method == "POST":
        # The server's limit is for webhooks (64 KB); an admin's form may carry a whole file
        # (understanding.yaml is about 50 KB, more once url-encoded). The sign-in form was read
        # already, under the server's limit (bot/web/security.py): it stays as it is.
        with contextlib.suppress(RuntimeError):
            request = request.clone(client_max_size=ADMIN_BODY_MAX)
    d = deps(request)
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        now = d.clock()
        async with d.db.uow() as uow:
            user = await uow.admin.session_user(
                auth.token_hash(token), now, started_after=auth.oldest_session(now)
            )
            if user is not None:
                await uow.admin.touch_session(auth.token_hash(token), now, auth.expiry(now))
                await uow.commit()
        if user is not None:
            request[USER], request[TOKEN] = user, token
    public = request.path.startswith(PUBLIC)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        form_token = request.headers.get("X-CSRF-Token")
        if form_token is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form_token = (await request.post()).get("csrf")  # type: ignore[assignment]
        bound = request.get(TOKEN) if not public else request.cookies.get(auth.PRE_COOKIE)
        if not _same_origin(request) or not auth.csrf_ok(
            d.settings.secret_key, bound, form_token if isinstance(form_token, str) else None
        ):
            text = gettext(request)(
                "This form has expired. Go back, reload the page and try again."
            )
            return web.Response(status=403, text=text)
    if USER not in request and not public:
        if request.method == "GET":
            raise web.HTTPSeeOther(f"{PREFIX}/login?" + urlencode({"next": request.path_qs}))
        raise web.HTTPForbidden(text="sign in first")
    try:
        response = await handler(request)
    except (web.HTTPForbidden, web.HTTPNotFound) as exc:
        if USER not in request:
            raise
        # The user keeps their menu and language; the reason is the handler's own words.
        _ = gettext(request)
        title = _("Not allowed") if exc.status == 403 else _("Not found")
        return render(request, "error.html", status=exc.status, title=title, reason=exc.text or "")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


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
        entries, next_before = [], None
        if ok:
            entries, next_before = await uow.audit.page(where, before_id=before, size=AUDIT_PAGE)
        actions = await uow.audit.actions()
        user_list = await uow.admin.list_users()
        coordinator_list = await uow.coordinators.list_all(include_removed=True)
        references = await uow.admin.references(e.case_id for e in entries if e.case_id)
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
        users = await uow.admin.list_users()
    return render(request, "users.html", users=users)


async def _sync_once(app: web.Application, state: dict[str, Any]) -> None:
    """Apply overrides and publications another worker saved (cheap when nothing changed)."""
    from bot.web.flows_pages import apply_publications
    from bot.web.translations_pages import load_overrides

    parent = state["parent"]
    from bot import app as main

    db, flows, catalogs = parent[main.DB], parent[main.FLOWS], parent[main.CATALOGS]
    async with db.uow() as uow:
        last = await uow.admin.last_publication_id()
    if last != state.get("publication"):
        await apply_publications(db, flows, parent[main.CLOCK](), record_files=False)
        state["publication"] = last
    await load_overrides(db, catalogs)


async def _on_startup(app: web.Application) -> None:
    """Layer the stored overrides and publications over what the files ship, then keep in sync."""
    from bot import app as main
    from bot.web.flows_pages import apply_publications
    from bot.web.translations_pages import load_overrides

    parent = app[PARENT]
    db = parent[main.DB]
    await apply_publications(db, parent[main.FLOWS], parent[main.CLOCK](), record_files=True)
    await load_overrides(db, parent[main.CATALOGS])
    state: dict[str, Any] = {"parent": parent}
    async with db.uow() as uow:
        state["publication"] = await uow.admin.last_publication_id()

    async def loop() -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            try:
                await _sync_once(app, state)
            except Exception as exc:  # keep serving what we have; try again next round
                log.warning("admin sync failed: %s", type(exc).__name__)

    app[SYNC_TASK] = asyncio.create_task(loop(), name="admin-sync")


async def _on_shutdown(app: web.Application) -> None:
    task = app.get(SYNC_TASK)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


PARENT = web.AppKey("admin_parent", web.Application)
SYNC_TASK = web.AppKey("admin_sync", asyncio.Task)


def setup_admin(parent: web.Application) -> web.Application:
    """Mount the admin UI at /admin (the parent's runtime must have started first)."""
    from bot.web import (
        cases_pages,
        directory_pages,
        flows_pages,
        login_pages,
        rota_pages,
        stats_pages,
        translations_pages,
        understanding_pages,
        whatsapp_pages,
    )

    admin = web.Application(middlewares=[guard], client_max_size=ADMIN_BODY_MAX)
    admin[PARENT] = parent
    admin[flows_pages.TRIALS] = {}
    admin.router.add_get("", dashboard)  # /admin itself
    admin.router.add_get("/", dashboard)
    admin.router.add_get("/audit", audit_page)
    admin.router.add_get("/users", users_page)
    for module in (
        login_pages,
        flows_pages,
        translations_pages,
        rota_pages,
        directory_pages,
        cases_pages,
        stats_pages,
        understanding_pages,
        whatsapp_pages,
    ):
        module.add_routes(admin.router)
    admin.router.add_static("/static", STATIC)
    admin.on_startup.append(_on_startup)
    admin.on_shutdown.append(_on_shutdown)
    parent.add_subapp(PREFIX, admin)
    return admin
