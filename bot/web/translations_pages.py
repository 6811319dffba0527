"""/admin/translations: Albanian and English side by side, overrides saved live, .po in and out."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.channels.sms_encoding import fold_albanian
from bot.i18n import LOCALES, Catalogs
from bot.i18n_tools import placeholder_problem
from bot.store.db import Database
from bot.web.flows_pages import sms_parts
from bot.web.kit import PREFIX, audit, deps, gettext, redirect, render, require_admin

MAX_TEXT = 2000  # characters of one text (an SMS of 13 parts; longer is a mistake)
MAX_PO = 1024 * 1024


async def load_overrides(db: Database, catalogs: Catalogs) -> None:
    """Layer the stored overrides over the shipped catalogs (takes effect at once)."""
    async with db.uow() as uow:
        found = await uow.translations.overrides()
    catalogs.set_overrides(found)


@dataclass(frozen=True, slots=True)
class Row:
    """One message id across the languages."""

    msgid: str
    texts: dict[str, str]
    shipped: dict[str, str]
    overridden: dict[str, bool]
    parts: dict[str, int]
    problems: list[str]

    @property
    def missing(self) -> bool:
        """A language has no text."""
        return any(not self.texts[loc] for loc in LOCALES)


def placeholders_problem(texts: dict[str, str], reference: dict[str, str]) -> list[str]:
    """What is wrong with the {placeholders} of a message's texts (empty when nothing)."""
    problems: list[str] = []
    names: dict[str, set[str]] = {}
    for locale, text in texts.items():
        if not text:
            continue
        used, problem = placeholder_problem(text)
        if problem:
            problems.append(f"{locale}: {problem}")
        else:
            names[locale] = used
    wanted: set[str] | None = None
    for locale in LOCALES:
        if reference.get(locale):
            wanted, _ = placeholder_problem(reference[locale])
            break
    for locale, used in names.items():
        if wanted is not None and used != wanted:
            show = " ".join(f"{{{n}}}" for n in sorted(wanted)) or "none"
            got = " ".join(f"{{{n}}}" for n in sorted(used)) or "none"
            problems.append(f"{locale}: placeholders {got}; the message needs {show}")
    return problems


def rows_of(catalogs: Catalogs) -> list[Row]:
    """Every message id, those missing a language or with a problem first."""
    rows = []
    for msgid in sorted(catalogs.ids()):
        texts = {loc: catalogs.raw(loc, msgid) or "" for loc in LOCALES}
        shipped = {loc: catalogs.shipped(loc, msgid) or "" for loc in LOCALES}
        rows.append(
            Row(
                msgid=msgid,
                texts=texts,
                shipped=shipped,
                overridden={loc: texts[loc] != shipped[loc] for loc in LOCALES},
                parts={
                    "sq": sms_parts(texts["sq"]),
                    "sq_folded": sms_parts(fold_albanian(texts["sq"])),
                    "en": sms_parts(texts["en"]),
                },
                problems=placeholders_problem(texts, shipped),
            )
        )
    rows.sort(key=lambda r: (not r.missing, not r.problems, r.msgid))
    return rows


async def list_page(request: web.Request) -> web.Response:
    """GET /admin/translations: missing first; filter by words or id."""
    require_admin(request)
    d = deps(request)
    rows = rows_of(d.catalogs)
    q = request.query.get("q", "").strip().lower()
    if q:
        rows = [
            r for r in rows if q in r.msgid.lower() or any(q in t.lower() for t in r.texts.values())
        ]
    if request.query.get("only") == "missing":
        rows = [r for r in rows if r.missing or r.problems]
    return render(request, "translations.html", rows=rows, q=q, only=request.query.get("only", ""))


async def edit_page(
    request: web.Request, *, error: list[str] | None = None, texts: Any = None
) -> web.Response:
    """GET /admin/translations/edit?id=MSGID: both languages side by side."""
    require_admin(request)
    d = deps(request)
    msgid = request.query.get("id", "")
    if msgid not in d.catalogs.ids():
        raise web.HTTPNotFound(text="no such message id")
    row = next(r for r in rows_of(d.catalogs) if r.msgid == msgid)
    return render(
        request,
        "translation_edit.html",
        status=422 if error else 200,
        row=row,
        texts=texts or row.texts,
        error=error or [],
    )


async def save(request: web.Request) -> web.StreamResponse:
    """POST /admin/translations/edit?id=MSGID: save both texts as overrides, checked first."""
    user = require_admin(request)
    d = deps(request)
    _ = gettext(request)
    msgid = request.query.get("id", "")
    if msgid not in d.catalogs.ids():
        raise web.HTTPNotFound(text="no such message id")
    form = await request.post()
    texts = {loc: str(form.get(loc, "")).replace("\r\n", "\n").strip() for loc in LOCALES}
    shipped = {loc: d.catalogs.shipped(loc, msgid) or "" for loc in LOCALES}
    problems = placeholders_problem(texts, shipped)
    for loc, text in texts.items():
        if len(text) > MAX_TEXT:
            problems.append(f"{loc}: " + _("longer than {n} characters").format(n=MAX_TEXT))
        if not text and shipped[loc]:
            problems.append(f"{loc}: " + _("empty; to go back to the shipped text, copy it in"))
    if problems:
        return await edit_page(request, error=problems, texts=texts)
    now = d.clock()
    async with d.db.uow() as uow:
        for loc, text in texts.items():
            await uow.translations.set_override(
                loc, msgid, text if text != shipped[loc] else None, user.id, now
            )
        await uow.commit()
    await load_overrides(d.db, d.catalogs)
    await audit(request, "translation_edited", msgid=msgid)
    raise redirect(f"{PREFIX}/translations/edit", id=msgid, ok="saved")


async def export_po(request: web.Request) -> web.Response:
    """GET /admin/translations/export/{locale}.po: every text as it is served now."""
    require_admin(request)
    locale = request.match_info["locale"]
    if locale not in LOCALES:
        raise web.HTTPNotFound()
    d = deps(request)
    catalog = Catalog(locale=locale, project="helpline", domain="messages")
    for msgid in sorted(d.catalogs.ids()):
        catalog.add(msgid, d.catalogs.raw(locale, msgid) or "")
    out = io.BytesIO()
    write_po(out, catalog, width=0, omit_header=False)
    return web.Response(
        body=out.getvalue(),
        content_type="text/x-gettext-translation",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="helpline-{locale}.po"'},
    )


async def import_po(request: web.Request) -> web.StreamResponse:
    """POST /admin/translations/import: a translator's .po; every text checked, or none saved."""
    user = require_admin(request)
    d = deps(request)
    _ = gettext(request)
    form = await request.post()
    locale = str(form.get("locale", ""))
    upload = form.get("file")
    if locale not in LOCALES or upload is None or not hasattr(upload, "file"):
        raise redirect(f"{PREFIX}/translations", ok="import_bad")
    data = upload.file.read(MAX_PO + 1)
    problems: list[str] = []
    if len(data) > MAX_PO:
        problems.append(_("The file is too large."))
        catalog = None
    else:
        try:
            catalog = read_po(io.BytesIO(data), locale=locale, abort_invalid=True)
        except Exception as exc:
            catalog = None
            problems.append(_("Not a .po file") + f": {type(exc).__name__}")
    changes: dict[str, str] = {}
    if catalog is not None:
        known = d.catalogs.ids()
        for message in catalog:
            if not isinstance(message.id, str) or not message.id or message.fuzzy:
                continue
            text = str(message.string or "").strip()
            if message.id not in known:
                problems.append(f"{message.id}: " + _("unknown message id"))
                continue
            if not text or text == (d.catalogs.raw(locale, message.id) or ""):
                continue
            shipped = {loc: d.catalogs.shipped(loc, message.id) or "" for loc in LOCALES}
            problems += [
                f"{message.id}: {p}" for p in placeholders_problem({locale: text}, shipped)
            ]
            changes[message.id] = text
    if problems:
        return render(
            request, "translations_import.html", status=422, problems=problems[:50], count=0
        )
    now = d.clock()
    async with d.db.uow() as uow:
        for msgid, text in changes.items():
            shipped_text = d.catalogs.shipped(locale, msgid) or ""
            await uow.translations.set_override(
                locale, msgid, text if text != shipped_text else None, user.id, now
            )
        await uow.commit()
    await load_overrides(d.db, d.catalogs)
    await audit(request, "translations_imported", locale=locale, count=len(changes))
    return render(request, "translations_import.html", problems=[], count=len(changes))


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/translations", list_page)
    router.add_get("/translations/edit", edit_page)
    router.add_post("/translations/edit", save)
    router.add_get("/translations/export/{locale}.po", export_po)
    router.add_post("/translations/import", import_po)
