"""/admin/login, /admin/logout, /admin/language: signing in and out, the UI language."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import TypedDict

from aiohttp import web

from bot.web import auth
from bot.web.kit import PREFIX, TOKEN, current_user, deps, gettext, redirect, render
from bot.web.limits import client_address
from bot.web.ui_texts import UI_LANGUAGES

log = logging.getLogger(__name__)


class CookieFlags(TypedDict):
    """The flags every /admin cookie is set with."""

    httponly: bool
    samesite: str
    secure: bool
    path: str


def _cookie_flags(request: web.Request) -> CookieFlags:
    """HttpOnly, SameSite=Strict, Secure over HTTPS; only sent to /admin."""
    secure = request.secure or deps(request).settings.public_url.startswith("https://")
    return {"httponly": True, "samesite": "Strict", "secure": secure, "path": PREFIX}


def _safe_next(target: str | None) -> str:
    """Only a path inside /admin (no open redirect to another site)."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return PREFIX + "/"


async def login_form(
    request: web.Request,
    *,
    error: str = "",
    status: int = 200,
    username: str = "",
    next_page: str | None = None,
) -> web.Response:
    """The sign-in page; sets the pre-session cookie its CSRF token is bound to."""
    pre = request.cookies.get(auth.PRE_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status=status,
        error=error,
        next=_safe_next(next_page or request.query.get("next")),
        username=username,
        csrf_override=auth.csrf_token(deps(request).settings.secret_key, pre),
    )
    response.set_cookie(auth.PRE_COOKIE, pre, max_age=3600, **_cookie_flags(request))
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/login."""
    if TOKEN in request:
        raise web.HTTPSeeOther(PREFIX + "/")
    return await login_form(request)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /admin/login: check the password, within the attempt limits, and start a session."""
    d = deps(request)
    _ = gettext(request)
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()
    password = str(form.get("password", ""))
    now = d.clock()
    keys = auth.login_keys(
        d.db.crypto.lookup_hash, username, client_address(request, d.settings.trusted_proxies)
    )
    async with d.db.uow() as uow:
        since = now - auth.LOGIN_WINDOW
        refused = auth.locked(
            await uow.failures.count_since(keys.user, since),
            await uow.failures.count_since(keys.address, since),
        )
        user = await uow.accounts.user_by_name(username) if auth.valid_username(username) else None
    if refused:
        minutes = int(auth.LOGIN_WINDOW / timedelta(minutes=1))
        return await login_form(
            request,
            error=_("Too many failed attempts. Wait {minutes} minutes and try again.").format(
                minutes=minutes
            ),
            status=429,
            username=username,
            next_page=str(form.get("next", "")),
        )
    # argon2 runs on the pool's threads, outside any unit of work: on SQLite a unit of work
    # holds the process's write lock, which every webhook needs too.
    pool = auth.password_pool()
    try:
        good = await pool.verify(user.password_hash if user else None, password)
        rehashed = (
            await pool.rehash(password)
            if good and user is not None and auth.needs_rehash(user.password_hash)
            else None
        )
    except auth.HasherBusy:
        log.warning("sign-in refused: %d sign-ins are being checked already", pool.in_flight)
        return await login_form(
            request,
            error=_("Too many people are signing in at once. Try again in a minute."),
            status=503,
            username=username,
            next_page=str(form.get("next", "")),
        )
    now = d.clock()
    async with d.db.uow() as uow:
        if user is None or not good or not user.active:
            await uow.failures.add([keys.user, keys.address], now)
            await uow.failures.purge(now - auth.LOGIN_WINDOW * 4)
            await uow.commit()
            return await login_form(
                request,
                error=_("Wrong user name or password."),
                status=401,
                username=username,
                next_page=str(form.get("next", "")),
            )
        token = auth.new_token()
        old = request.cookies.get(auth.SESSION_COOKIE)
        if old:  # signing in again in this browser: the old session ends here
            await uow.admin_sessions.end(auth.token_hash(old))
        await uow.failures.clear(keys.user)
        await uow.admin_sessions.purge(now)
        await uow.admin_sessions.add(auth.token_hash(token), user.id, now, auth.expiry(now))
        changes: dict[str, object] = {"last_login_at": now}
        if rehashed is not None:
            changes["password_hash"] = rehashed
        await uow.accounts.update_user(user.id, **changes)
        await uow.audit.add("admin_signed_in", now=now, admin_user_id=user.id)
        await uow.commit()
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))
    # A new token at every sign-in: a cookie planted before it cannot be ridden (fixation).
    # No max-age: gone when the browser closes; the server ends it after SESSION_IDLE anyway.
    response.set_cookie(auth.SESSION_COOKIE, token, **_cookie_flags(request))
    response.del_cookie(auth.PRE_COOKIE, path=PREFIX)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /admin/logout: end this browser's session."""
    d = deps(request)
    async with d.db.uow() as uow:
        await uow.admin_sessions.end(auth.token_hash(request[TOKEN]))
        await uow.commit()
    response = redirect(PREFIX + "/login")
    response.del_cookie(auth.SESSION_COOKIE, path=PREFIX)
    raise response


async def set_language(request: web.Request) -> web.StreamResponse:
    """POST /admin/language: the user's UI language (kept with the user)."""
    form = await request.post()
    language = str(form.get("language", ""))
    if language not in UI_LANGUAGES:
        raise web.HTTPBadRequest(text="unknown language")
    d = deps(request)
    async with d.db.uow() as uow:
        await uow.accounts.update_user(current_user(request).id, language=language)
        await uow.commit()
    raise web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/login", login_page)
    router.add_post("/login", login)
    router.add_post("/logout", logout)
    router.add_post("/language", set_language)
