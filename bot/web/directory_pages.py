"""/admin/directory: the services directory, edited entry by entry or as CSV (validated whole)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aiohttp import web

from bot.referral import directory
from bot.store.records import Municipality, Service
from bot.web.kit import PREFIX, audit, deps, redirect, render, require_admin

MAX_CSV = 2 * 1024 * 1024


async def _load(request: web.Request) -> tuple[list[Service], dict[str, Municipality]]:
    d = deps(request)
    async with d.db.uow() as uow:
        items = await uow.services.list_all()
        places = {m.slug: m for m in await uow.municipalities.list_all()}
    return items, places


async def page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    """GET /admin/directory: every entry, filterable by municipality and kind."""
    require_admin(request)
    items, places = await _load(request)
    place, kind = request.query.get("municipality", ""), request.query.get("kind", "")
    indexed = [
        (i, s)
        for i, s in enumerate(items)
        if (not place or s.municipality == place) and (not kind or s.kind == kind)
    ]
    try:
        editing = int(request.query.get("edit", ""))
    except ValueError:
        editing = -1
    return render(
        request,
        "directory.html",
        status=status,
        items=indexed,
        places=sorted(places.values(), key=lambda m: (m.country, m.name)),
        names={s: m.name for s, m in places.items()},
        kinds=directory.KINDS,
        countries=directory.COUNTRIES,
        editing=items[editing] if 0 <= editing < len(items) else None,
        editing_index=editing,
        error=error,
    )


async def _save_all(request: web.Request, items: list[Service], what: str) -> None:
    """Validate the whole directory with the CSV importer's rules, then replace it."""
    _, places = await _load(request)
    checked = directory.parse_csv(directory.to_csv(items), municipalities=places, source="entry")
    d = deps(request)
    async with d.db.uow() as uow:
        await uow.services.replace_all(checked)
        await uow.commit()
    await audit(request, what, entries=len(checked))


def _from_form(form: Mapping[str, object]) -> Service:
    return Service(
        country=str(form.get("country", "")).strip(),
        municipality=str(form.get("municipality", "")).strip(),
        kind=str(form.get("kind", "")).strip(),
        name=str(form.get("name", "")).strip(),
        phone=str(form.get("phone", "")).strip(),
        hours=str(form.get("hours", "")).strip() or None,
        notes=str(form.get("notes", "")).strip() or None,
        serves=tuple(s.strip() for s in str(form.get("serves", "")).split(";") if s.strip()),
    )


async def save_entry(request: web.Request) -> web.StreamResponse:
    """POST /admin/directory/save: change entry `index`, or add one (index -1)."""
    require_admin(request)
    form = dict(await request.post())
    items, _ = await _load(request)
    entry = _from_form(form)
    try:
        index = int(str(form.get("index", "-1")))
    except ValueError:
        index = -1
    if 0 <= index < len(items):
        items[index] = replace(entry)
    else:
        items.append(entry)
    try:
        await _save_all(request, items, "directory_edited")
    except directory.DirectoryError as exc:
        return await page(request, error=exc.problem, status=422)
    raise redirect(f"{PREFIX}/directory", ok="saved")


async def remove_entry(request: web.Request) -> web.StreamResponse:
    """POST /admin/directory/{index}/remove."""
    require_admin(request)
    items, _ = await _load(request)
    index = int(request.match_info["index"])
    if 0 <= index < len(items):
        del items[index]
        await _save_all(request, items, "directory_edited")
    raise redirect(f"{PREFIX}/directory", ok="saved")


async def export_csv(request: web.Request) -> web.Response:
    """GET /admin/directory.csv."""
    require_admin(request)
    items, _ = await _load(request)
    return web.Response(
        text=directory.to_csv(items),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="services.csv"'},
    )


async def import_csv(request: web.Request) -> web.StreamResponse:
    """POST /admin/directory/import: a whole CSV; a bad row imports nothing."""
    require_admin(request)
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return await page(request, error="no file", status=422)
    data = upload.file.read(MAX_CSV + 1)
    if len(data) > MAX_CSV:
        return await page(request, error="file too large", status=422)
    _, places = await _load(request)
    try:
        items = directory.parse_csv(
            data.decode("utf-8"), municipalities=places, source=upload.filename or "upload.csv"
        )
    except (UnicodeDecodeError, directory.DirectoryError) as exc:
        return await page(request, error=str(exc), status=422)
    await _save_all(request, items, "directory_imported")
    raise redirect(f"{PREFIX}/directory", ok="saved")


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/directory", page)
    router.add_post("/directory/save", save_entry)
    router.add_post(r"/directory/{index:\d+}/remove", remove_entry)
    router.add_get("/directory.csv", export_csv)
    router.add_post("/directory/import", import_csv)
