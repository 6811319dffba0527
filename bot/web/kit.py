"""What every admin page shares: the helpline's parts, rendering, redirects, roles, audit, CSRF.

Pages import this kit, never bot/web/admin.py (which only assembles them into the sub-app) nor
bot/app.py (which builds the whole application): data flows one way, app → admin → pages → kit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from aiohttp import web

from bot.config import Settings
from bot.flows.library import FlowLibrary
from bot.i18n import Catalogs
from bot.pipeline import Pipeline
from bot.store.db import Database
from bot.store.records import AdminUser
from bot.web import auth, keys
from bot.web.ui_texts import UI_LANGUAGES, translator

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
PREFIX = "/admin"
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
    pipeline: Pipeline


def deps(request: web.Request) -> Deps:
    """The helpline's parts, from the parent application."""
    cfg = request.config_dict
    return Deps(
        settings=cfg[keys.SETTINGS],
        db=cfg[keys.DB],
        flows=cfg[keys.FLOWS],
        catalogs=cfg[keys.CATALOGS],
        clock=cfg[keys.CLOCK],
        pipeline=cfg[keys.PIPELINE],
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
            user = await uow.admin_sessions.user(
                auth.token_hash(token), now, started_after=auth.oldest_session(now)
            )
            if user is not None:
                await uow.admin_sessions.touch(auth.token_hash(token), now, auth.expiry(now))
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
