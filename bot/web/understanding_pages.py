"""/admin/understanding: how the helpline reads what people write (understanding.yaml), edited,
checked, tried on a message and published like a flow; a mistake keeps the old one serving."""

from __future__ import annotations

import json

from aiohttp import web

from bot.flows.loader import FlowError, version_of
from bot.understanding_cli import KINDS, Reader
from bot.web.flows_pages import UNDERSTANDING
from bot.web.kit import PREFIX, audit, deps, redirect, render, require_admin

# What a message can be tried as (a menu needs options: the flows' pages try those).
TRY_KINDS = tuple(k for k in KINDS if k != "menu")


def _reading(request: web.Request, kind: str, text: str) -> str:
    """What the helpline, as it serves now, makes of `text` asked as `kind`."""
    d = deps(request)
    reader = Reader(d.pipeline.env(d.clock()), d.flows)
    return json.dumps(reader.read(kind, text), ensure_ascii=False)


async def page(request: web.Request) -> web.Response:
    """GET /admin/understanding: the file as served, a form to try a message."""
    require_admin(request)
    d = deps(request)
    source = d.flows.understanding_source
    return render(
        request, "understanding.html", source=source, version=version_of(source),
        kinds=TRY_KINDS, problems=None, tried=None,
    )  # fmt: skip


async def try_message(request: web.Request) -> web.Response:
    """POST /admin/understanding/try: the reading of one message, on the page."""
    require_admin(request)
    d = deps(request)
    form = await request.post()
    kind = str(form.get("kind", "first"))
    text = str(form.get("text", ""))[:1600]
    if kind not in TRY_KINDS or not text.strip():
        raise web.HTTPBadRequest(text="choose a kind and write a message")
    source = d.flows.understanding_source
    return render(
        request, "understanding.html", source=source, version=version_of(source),
        kinds=TRY_KINDS, problems=None, tried=(kind, text, _reading(request, kind, text)),
    )  # fmt: skip


async def publish(request: web.Request) -> web.StreamResponse:
    """POST /admin/understanding/publish: a valid file serves from now on; else the errors."""
    user = require_admin(request)
    d = deps(request)
    form = await request.post()
    source = str(form.get("source", "")).replace("\r\n", "\n")
    try:
        d.flows.check_understanding(source)
    except FlowError as exc:
        # The old file keeps serving; the admin sees what is wrong, with their text kept.
        return render(
            request, "understanding.html", status=422, source=source,
            version=version_of(d.flows.understanding_source), kinds=TRY_KINDS,
            problems=exc.problems, tried=None,
        )  # fmt: skip
    version = version_of(source)
    if version == version_of(d.flows.understanding_source):
        raise redirect(f"{PREFIX}/understanding", ok="unchanged")
    now = d.clock()
    async with d.db.uow() as uow:
        await uow.flows.save(UNDERSTANDING, version, source, now)
        await uow.publications.publish(UNDERSTANDING, version, now, user.id, note=None)
        await uow.commit()
    d.flows.serve_understanding(source)
    await audit(request, "understanding_published", version=version)
    raise redirect(f"{PREFIX}/understanding", ok="published")


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/understanding", page)
    router.add_post("/understanding/try", try_message)
    router.add_post("/understanding/publish", publish)
