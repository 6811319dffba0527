"""/admin/flows: list, diagram, YAML editor validated as you type, try, publish, history, revert."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.channels.sms_encoding import fold_albanian, segments
from bot.engine import ContactView, MsgResume, Session, StartResume, resume
from bot.engine.definition import Flow
from bot.engine.events import MsgCreated
from bot.flows.library import FlowLibrary
from bot.flows.loader import FlowError, Problem, lint, message_ids, parse_flow, version_of
from bot.i18n import LOCALES, Catalogs
from bot.rendering import render as render_messages
from bot.store.db import Database, UnitOfWork
from bot.store.records import Publication
from bot.web import auth
from bot.web.flow_diagram import render_svg
from bot.web.kit import (
    PREFIX,
    TOKEN,
    audit,
    deps,
    redirect,
    render,
    require_admin,
)

log = logging.getLogger(__name__)

MAX_SOURCE = 200_000  # characters of YAML one flow may have
SAMPLE_VALUE = "R-4821"  # what a {placeholder} is counted as in segment counts
TRIAL_LIMIT = 200  # sandbox conversations kept in memory
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


@dataclass(slots=True)
class Checked:
    """What the validator says about a source: the flow, or why not; warnings either way."""

    flow: Flow | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the source could be published."""
        return self.flow is not None and not self.problems


def check_source(name: str, source: str, flows: FlowLibrary, catalogs: Catalogs) -> Checked:
    """The server's own validator on an edited source, plus the lint warnings."""
    file = f"{name}.yaml"
    if len(source) > MAX_SOURCE:
        return Checked(None, [Problem(file, 1, f"over {MAX_SOURCE} characters")])
    try:
        flow = parse_flow(file, source, expected_name=name)
    except FlowError as exc:
        return Checked(None, exc.problems)
    known = set(flows.current)
    problems = [
        Problem(
            file, node.line, f"node {node.id}: enters flow {node.enter!r}, which does not exist"
        )
        for node in flow.nodes.values()
        if node.enter is not None and node.enter not in known
    ]
    warnings = lint(flow)
    for locale in LOCALES:
        for node in flow.nodes.values():
            for msgid in message_ids(node):
                if catalogs.raw(locale, msgid) is None:
                    warnings.append(
                        Problem(file, node.line, f"node {node.id}: {msgid} has no {locale} text")
                    )
    return Checked(flow, problems, warnings)


def sms_parts(text: str) -> int:
    """SMS parts of a text as sent, placeholders counted as a case reference."""
    return segments(_PLACEHOLDER.sub(SAMPLE_VALUE, text)) if text else 0


def segment_table(flow: Flow, catalogs: Catalogs) -> list[dict[str, Any]]:
    """Each message of the flow with its SMS parts in Albanian (and folded) and English."""
    rows = []
    seen: set[str] = set()
    for node in flow.nodes.values():
        for msgid in message_ids(node):
            if msgid in seen:
                continue
            seen.add(msgid)
            sq = catalogs.raw("sq", msgid) or ""
            en = catalogs.raw("en", msgid) or ""
            rows.append(
                {
                    "msgid": msgid,
                    "node": node.id,
                    "sq": sms_parts(sq),
                    "sq_folded": sms_parts(fold_albanian(sq)),
                    "en": sms_parts(en),
                    "missing": [loc for loc, t in (("sq", sq), ("en", en)) if not t],
                }
            )
    return rows


def unreachable_nodes(warnings: list[Problem]) -> set[str]:
    """Node ids the lint says are never reached."""
    found = set()
    for w in warnings:
        m = re.match(r"node (\S+) is never reached", w.message)
        if m:
            found.add(m.group(1))
    return found


async def apply_publications(
    db: Database, flows: FlowLibrary, now: datetime, *, record_files: bool
) -> None:
    """Serve the newest publication of each flow; files changed since then are published first.

    A flow file whose version the database first saw after the last publication was deployed
    later: it wins, and is recorded as a publication so the history shows it. `record_files`
    (start-up): workers starting at once take turns, so each file is recorded once.
    """
    async with db.uow() as uow:
        if record_files:
            await uow.publications.lock_for_files()  # before reading what is published
        current = await uow.publications.current()
        for name, source in list(flows.sources.items()):
            file_version = version_of(source)
            pub = current.get(name)
            if record_files:
                saved_at = dict(await uow.flows.versions(name)).get(file_version)
                if pub is None or (
                    pub.version != file_version
                    and saved_at is not None
                    and saved_at > pub.published_at
                ):
                    await uow.publications.publish(name, file_version, now, None, note="files")
                    continue
            if pub is None or pub.version == flows.current[name].version:
                continue
            stored = await uow.flows.get(name, pub.version)
            if stored is None:
                log.error("flow %s@%s was published but is not stored", name, pub.version)
                continue
            try:
                serve(flows, name, stored)
            except FlowError as exc:
                log.error("published flow %s@%s no longer loads: %s", name, pub.version, exc)
        await _apply_understanding(uow, flows, current.get(UNDERSTANDING), now, record_files)
        await uow.commit()


# understanding.yaml is published like a flow, under this name (no flow may have it: the loader
# reads that file as data, never as a flow).
UNDERSTANDING = "understanding"


async def _apply_understanding(
    uow: UnitOfWork,
    flows: FlowLibrary,
    pub: Publication | None,
    now: datetime,
    record_files: bool,
) -> None:
    """Serve the newest published understanding.yaml, unless the file shipped after it."""
    served = version_of(flows.understanding_source)
    if record_files:
        await uow.flows.save(UNDERSTANDING, served, flows.understanding_source, now)
        saved_at = dict(await uow.flows.versions(UNDERSTANDING)).get(served)
        if pub is not None and pub.version != served and saved_at and saved_at > pub.published_at:
            await uow.publications.publish(UNDERSTANDING, served, now, None, note="files")
            return
    if pub is None or pub.version == served:
        return
    stored = await uow.flows.get(UNDERSTANDING, pub.version)
    if stored is None:
        log.error("understanding %s was published but is not stored", pub.version)
        return
    try:
        flows.serve_understanding(stored)
    except FlowError as exc:
        log.error("published understanding %s no longer loads: %s", pub.version, exc)


def serve(flows: FlowLibrary, name: str, source: str) -> Flow:
    """Make a source the current version of a flow in this process (older ones stay loaded)."""
    flow = flows.add_version(name, source)
    # One assignment each: the pipeline reads these between awaits, never half-changed.
    flows.current = {**flows.current, name: flow}
    flows.sources = {**flows.sources, name: source}
    return flow


# -- pages -----------------------------------------------------------------------------------


def _flow_or_404(request: web.Request) -> tuple[str, Flow]:
    name = request.match_info["name"]
    flows = deps(request).flows
    if name not in flows.current:
        raise web.HTTPNotFound(text="no such flow")
    return name, flows.current[name]


async def list_page(request: web.Request) -> web.Response:
    """GET /admin/flows."""
    require_admin(request)
    d = deps(request)
    async with d.db.uow() as uow:
        pubs = await uow.publications.current()
    rows = []
    for name, flow in sorted(d.flows.current.items()):
        checked = check_source(name, d.flows.sources[name], d.flows, d.catalogs)
        rows.append(
            {
                "name": name,
                "title": flow.title or name,
                "version": flow.version,
                "nodes": len(flow.nodes),
                "warnings": len(checked.warnings),
                "published_at": pubs[name].published_at if name in pubs else None,
            }
        )
    return render(request, "flows.html", rows=rows)


async def flow_page(request: web.Request) -> web.Response:
    """GET /admin/flows/{name}: diagram, editor, segment counts, warnings, try panel."""
    require_admin(request)
    d = deps(request)
    name, flow = _flow_or_404(request)
    source = d.flows.sources[name]
    checked = check_source(name, source, d.flows, d.catalogs)
    return render(
        request,
        "flow.html",
        name=name,
        flow=flow,
        source=source,
        diagram=render_svg(flow, unreachable_nodes(checked.warnings)),
        warnings=checked.warnings,
        segments=segment_table(flow, d.catalogs),
        error="",
    )


def _checked_json(checked: Checked, catalogs: Catalogs) -> dict[str, Any]:
    flow = checked.flow
    return {
        "ok": checked.ok,
        "version": flow.version if flow else None,
        "problems": [
            {"file": p.file, "line": p.line, "message": p.message} for p in checked.problems
        ],
        "warnings": [
            {"file": p.file, "line": p.line, "message": p.message} for p in checked.warnings
        ],
        "segments": segment_table(flow, catalogs) if flow else [],
        "diagram": render_svg(flow, unreachable_nodes(checked.warnings)) if flow else None,
    }


async def check_api(request: web.Request) -> web.Response:
    """POST /admin/flows/{name}/check: validate the editor's text as the admin types."""
    require_admin(request)
    d = deps(request)
    name, _ = _flow_or_404(request)
    body = await request.json()
    source = str(body.get("source", ""))
    return web.json_response(
        _checked_json(check_source(name, source, d.flows, d.catalogs), d.catalogs)
    )


class _Overlay:
    """The live flows with one draft in front (the engine's FlowSource, for the sandbox)."""

    def __init__(self, flows: FlowLibrary, draft: Flow) -> None:
        self.flows, self.draft = flows, draft

    def get(self, name: str, version: str | None = None) -> Flow:
        if name == self.draft.name and version in (None, self.draft.version):
            return self.draft
        return self.flows.get(name, version)


TRIALS = web.AppKey("flow_trials", dict)  # sandbox conversations: (session, fields) by browser


async def try_api(request: web.Request) -> web.Response:
    """POST /admin/flows/{name}/try: talk to the draft in a sandbox (nothing stored, no alerts)."""
    require_admin(request)
    d = deps(request)
    name, _ = _flow_or_404(request)
    body = await request.json()
    checked = check_source(name, str(body.get("source", "")), d.flows, d.catalogs)
    if not checked.ok or checked.flow is None:
        return web.json_response({"ok": False, "problems": [str(p) for p in checked.problems]})
    language = body.get("language") if body.get("language") in LOCALES else "sq"
    trials = request.app[TRIALS]
    key = f"{auth.token_hash(request[TOKEN])[:16]}:{name}"
    env = dataclasses.replace(d.pipeline.env(d.clock()), flows=_Overlay(d.flows, checked.flow))
    text = str(body.get("text", ""))[:1600]
    state = trials.get(key)
    if body.get("restart") or state is None:
        session, fields = None, {}
        res: Any = StartResume(flow=name)
    else:
        session, fields = state
        res = MsgResume(text=text, button=body.get("button") or None)
    contact = ContactView(language=language, fields=fields, channel="sms")
    try:
        outcome = resume(session, res, contact, env)
    except Exception as exc:  # the draft may loop or break: say so, never crash the page
        return web.json_response({"ok": False, "problems": [f"{type(exc).__name__}: {exc}"]})
    for event in outcome.events:
        if event.type == "field_changed":
            fields = {**fields, event.name: event.value}  # type: ignore[attr-defined]
    if len(trials) > TRIAL_LIMIT:
        trials.pop(next(iter(trials)))
    trials[key] = (outcome.session, fields)
    msgs = [e for e in outcome.events if isinstance(e, MsgCreated)]
    rendered = render_messages(msgs, d.catalogs.text, SAMPLE_VALUE)
    return web.json_response(
        {
            "ok": True,
            "reply": rendered.text if rendered else "",
            "buttons": [{"label": b.label, "value": b.value} for b in rendered.buttons]
            if rendered
            else [],
            "parts": sms_parts(rendered.text) if rendered else 0,
            "events": [e.type for e in outcome.events if e.type != "msg_created"],
            "ended": outcome.session is None
            or not isinstance(outcome.session, Session)
            or not outcome.session.waiting,
        }
    )


async def publish(request: web.Request) -> web.StreamResponse:
    """POST /admin/flows/{name}/publish: a valid source becomes the new version; else the error."""
    user = require_admin(request)
    d = deps(request)
    name, flow = _flow_or_404(request)
    form = await request.post()
    source = str(form.get("source", "")).replace("\r\n", "\n")
    checked = check_source(name, source, d.flows, d.catalogs)
    if not checked.ok or checked.flow is None:
        # The old version keeps serving; the admin sees what is wrong, with their text kept.
        return render(
            request,
            "flow.html",
            status=422,
            name=name,
            flow=flow,
            source=source,
            diagram=render_svg(flow),
            warnings=checked.warnings,
            segments=segment_table(flow, d.catalogs),
            error=checked.problems,
        )
    new = checked.flow
    if new.version == flow.version:
        raise redirect(f"{PREFIX}/flows/{name}", ok="unchanged")
    await _publish(request, name, source, user.id, note=str(form.get("note", ""))[:200] or None)
    raise redirect(f"{PREFIX}/flows/{name}", ok="published")


async def _publish(
    request: web.Request, name: str, source: str, user_id: int, note: str | None
) -> None:
    d = deps(request)
    now = d.clock()
    version = version_of(source)
    async with d.db.uow() as uow:
        await uow.flows.save(name, version, source, now)
        await uow.publications.publish(name, version, now, user_id, note=note)
        await uow.commit()
    serve(d.flows, name, source)
    await audit(request, "flow_published", flow=name, version=version)


async def history_page(request: web.Request) -> web.Response:
    """GET /admin/flows/{name}/history: every publication, with diffs and revert."""
    require_admin(request)
    d = deps(request)
    name, flow = _flow_or_404(request)
    async with d.db.uow() as uow:
        pubs = await uow.publications.history(name)
        users = {u.id: u.username for u in await uow.accounts.list_users()}
    a, b = request.query.get("a"), request.query.get("b")
    diff: list[tuple[str, str]] = []
    if a and b:
        async with d.db.uow() as uow:
            old, new = await uow.flows.get(name, a), await uow.flows.get(name, b)
        if old is None or new is None:
            raise web.HTTPNotFound(text="no such version")
        diff = diff_lines(old, new, a, b)
    return render(
        request,
        "flow_history.html",
        name=name,
        flow=flow,
        pubs=pubs,
        users=users,
        diff=diff,
        a=a or "",
        b=b or "",
    )


def diff_lines(old: str, new: str, a: str, b: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs: add, del, hunk or same."""
    out = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=a, tofile=b, lineterm="", n=3
    ):
        kind = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else "same"
        )
        out.append((kind, line))
    return out


async def revert(request: web.Request) -> web.StreamResponse:
    """POST /admin/flows/{name}/revert: publish an older version again."""
    user = require_admin(request)
    d = deps(request)
    name, _ = _flow_or_404(request)
    form = await request.post()
    version = str(form.get("version", ""))
    async with d.db.uow() as uow:
        source = await uow.flows.get(name, version)
    if source is None:
        raise web.HTTPNotFound(text="no such version")
    checked = check_source(name, source, d.flows, d.catalogs)
    if not checked.ok:
        raise redirect(f"{PREFIX}/flows/{name}/history", ok="revert_failed")
    await _publish(request, name, source, user.id, note=f"revert to {version}")
    raise redirect(f"{PREFIX}/flows/{name}/history", ok="reverted")


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/flows", list_page)
    router.add_get("/flows/{name}", flow_page)
    router.add_post("/flows/{name}/check", check_api)
    router.add_post("/flows/{name}/try", try_api)
    router.add_post("/flows/{name}/publish", publish)
    router.add_get("/flows/{name}/history", history_page)
    router.add_post("/flows/{name}/revert", revert)
