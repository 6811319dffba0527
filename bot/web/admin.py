"""/admin: assembles the admin sub-app from the pages, and keeps it in step with other workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.web import (
    audit_pages,
    cases_pages,
    directory_pages,
    flows_pages,
    keys,
    login_pages,
    rota_pages,
    stats_pages,
    translations_pages,
    understanding_pages,
    whatsapp_pages,
)
from bot.web.flows_pages import apply_publications
from bot.web.kit import ADMIN_BODY_MAX, PREFIX, guard
from bot.web.translations_pages import load_overrides

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "admin_static"
SYNC_SECONDS = 15  # how often a worker picks up what another worker published
PAGES = (
    audit_pages,
    login_pages,
    flows_pages,
    translations_pages,
    rota_pages,
    directory_pages,
    cases_pages,
    stats_pages,
    understanding_pages,
    whatsapp_pages,
)
PARENT = web.AppKey("admin_parent", web.Application)
SYNC_TASK = web.AppKey("admin_sync", asyncio.Task[None])


async def _sync_once(app: web.Application, state: dict[str, Any]) -> None:
    """Apply overrides and publications another worker saved (cheap when nothing changed)."""
    parent: web.Application = state["parent"]
    db, flows, catalogs = parent[keys.DB], parent[keys.FLOWS], parent[keys.CATALOGS]
    async with db.uow() as uow:
        last = await uow.publications.last_id()
    if last != state.get("publication"):
        await apply_publications(db, flows, parent[keys.CLOCK](), record_files=False)
        state["publication"] = last
    await load_overrides(db, catalogs)


async def _on_startup(app: web.Application) -> None:
    """Layer the stored overrides and publications over what the files ship, then keep in sync."""
    parent = app[PARENT]
    db = parent[keys.DB]
    await apply_publications(db, parent[keys.FLOWS], parent[keys.CLOCK](), record_files=True)
    await load_overrides(db, parent[keys.CATALOGS])
    state: dict[str, Any] = {"parent": parent}
    async with db.uow() as uow:
        state["publication"] = await uow.publications.last_id()

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


def setup_admin(parent: web.Application) -> web.Application:
    """Mount the admin UI at /admin (the parent's runtime must have started first)."""
    admin = web.Application(middlewares=[guard], client_max_size=ADMIN_BODY_MAX)
    admin[PARENT] = parent
    admin[flows_pages.TRIALS] = {}
    for module in PAGES:
        module.add_routes(admin.router)
    admin.router.add_static("/static", STATIC)
    admin.on_startup.append(_on_startup)
    admin.on_shutdown.append(_on_shutdown)
    parent.add_subapp(PREFIX, admin)
    return admin
