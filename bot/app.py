"""Builds the aiohttp application: keys, lifetimes of database, channels, sender and scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot import language
from bot import metrics as prom
from bot.channels.simulator import SimulatorChannel
from bot.config import Settings
from bot.data import load_municipalities
from bot.data.numbers import load_numbers
from bot.engine import keywords
from bot.engine.routers import index_places
from bot.flows.library import FlowLibrary
from bot.followups.scheduler import Scheduler
from bot.followups.service import Followups
from bot.hub import Hub
from bot.i18n import Catalogs
from bot.messages import Inbound, StatusUpdate
from bot.outbox import OutboxSender
from bot.pacing import Pacer
from bot.pipeline import Pipeline, places_from
from bot.referral.service import Referral
from bot.retention import schedule_retention
from bot.store.crypto import DecryptionError
from bot.store.db import Database
from bot.store.leader import Leader
from bot.store.opening import OldSchema, open_database
from bot.store.repositories import Municipality
from bot.web.admin import setup_admin
from bot.web.keys import (
    CATALOGS,
    CHANNELS,
    CLOCK,
    DB,
    FLOWS,
    HUB,
    LEADER,
    PIPELINE,
    SCHEDULER,
    SENDER,
    SETTINGS,
)
from bot.web.limits import ReplyLimiter
from bot.web.security import setup_security
from bot.web.simulator import setup_simulator
from bot.workers import StartupWatch

log = logging.getLogger(__name__)

KEYS_CHECK_SECONDS = 5.0  # /healthz answers within a monitor's timeout even when writes queue
# The step start-up is in, for `serve`'s watch (bot/workers.py StartupWatch); build_app's own
# never fires.
STARTUP = web.AppKey("startup", StartupWatch)


def utcnow() -> datetime:
    """The real clock (tests pass their own)."""
    return datetime.now(UTC)


class StartupError(RuntimeError):
    """The helpline cannot start; the message says what to fix."""


async def ensure_municipalities(db: Database) -> list[Municipality]:
    """The municipalities in the database, loading the shipped list into an empty one."""
    async with db.uow() as uow:
        rows = await uow.municipalities.list_all()
        if not rows:
            rows = [Municipality(**m) for m in load_municipalities()]
            await uow.municipalities.upsert_all(rows)
            await uow.commit()
    return rows


async def store_flow_versions(db: Database, flows: FlowLibrary, now: datetime) -> None:
    """Keep every served flow version, so conversations pinned to it survive a change."""
    async with db.uow() as uow:
        for name, source in flows.sources.items():
            await uow.flows.save(name, flows.get(name).version, source, now)
        await uow.commit()


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    settings, clock = app[SETTINGS], app[CLOCK]
    step = app[STARTUP].at
    if settings.dev_keys:
        log.warning(
            "using development keys from %s; set HELPLINE_DATA_KEYS and HELPLINE_SECRET_KEY "
            "in production",
            settings.var_dir / "dev-keys.json",
        )
    step("checking the database's schema")
    try:
        db = await open_database(settings, newest_schema=True)
    except OldSchema as exc:
        raise StartupError(str(exc)) from None
    step("loading the flows")
    flows = FlowLibrary(settings.flows_dir)
    loaded = flows.reload()
    if not loaded.ok:
        await db.dispose()
        problems = "\n".join(str(p) for p in loaded.problems)
        raise StartupError(f"the flows have errors, fix them and start again:\n{problems}")
    step("storing the flow versions")
    await store_flow_versions(db, flows, clock())
    step("loading the language models")
    language.warm_up()  # before the first message, not during it
    step("loading the municipalities")
    places = places_from(await ensure_municipalities(db))
    catalogs = Catalogs()
    channels = app[CHANNELS]
    pacer = Pacer.configured({"sms": settings.sms_rate, "telegram": settings.telegram_rate})
    sender = OutboxSender(
        db,
        channels,
        clock,
        lease=settings.outbox_lease,
        pacer=pacer,
        retry_base=settings.outbox_retry_base.total_seconds(),
        retry_max=settings.outbox_retry_max.total_seconds(),
        on_sent=(Referral.on_sent,),  # referral: an alert sent another way stops retrying
    )
    # Several workers share the database: one of them, elected, runs the sweeps that must run
    # once (jobs wrap themselves in app[LEADER].only); on SQLite the one process leads.
    leader = Leader(
        settings.database_url,
        retry=settings.leader_retry.total_seconds(),
        name=f"worker {os.getpid()}",
    )
    referral = Referral(
        catalogs, ack_timeout=settings.ack_timeout, include_sample_services=settings.demo
    )
    pipeline = Pipeline(
        db,
        flows,
        catalogs,
        places=places,
        numbers=load_numbers(),
        session_ttl=settings.session_ttl,
        clock=clock,
        hub=app[HUB],
        on_commit=sender.wake,
        hand_to=sender,
        referral=referral,
        leads=lambda: leader.is_leader,
        reply_limit=ReplyLimiter(settings.rate_per_sender).reserve,
        followups=Followups(
            referral.ctx,
            cadence=settings.followup_cadence,
            repeat=settings.followup_repeat,
            retry=settings.followup_retry,
            quiet=settings.followup_quiet,
            lease=settings.followup_lease,
        ),
    )
    index_places(pipeline.places)  # the list it matches against: before the first answer
    keywords.warm_up(flows.keywords)  # their tables too: before the first message
    app[LEADER] = leader
    app[DB], app[FLOWS], app[CATALOGS] = db, flows, catalogs
    app[PIPELINE], app[SENDER] = pipeline, sender
    # Channels start only now: Telegram's poller hands updates to app[PIPELINE] at once.
    for name, channel in channels.items():
        step(f"starting the {name} channel")
        await channel.start()
    sender_task = asyncio.create_task(sender.run(), name="outbox-sender")
    leader_task = asyncio.create_task(leader.run(), name="leader-election")
    # Follow-ups: the sweep of due timers (referral escalation among them) and check-ins.
    scheduler = Scheduler(pipeline, interval=settings.sweep_interval)
    app[SCHEDULER] = scheduler
    # Security: the daily retention purge (HELPLINE_RETENTION_DAYS), in the leader only.
    schedule_retention(
        scheduler, db, settings.retention_days, clock, leads=lambda: leader.is_leader
    )
    scheduler.start()
    log.info("helpline ready (flows: %s)", ", ".join(sorted(flows.current)))
    # What runs next: the admin pages' start-up (bot/web/admin.py), then serving_app's.
    step("applying the stored publications and translations (admin start-up)")
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
        leader.stop()  # let go of housekeeping at once: another worker takes it over
        with contextlib.suppress(Exception):
            await asyncio.wait_for(leader_task, timeout=5)
        sender.stop()
        try:
            await asyncio.wait_for(sender_task, timeout=15)
        except TimeoutError:
            log.warning("the outbox sender did not finish in time; its rows will be retried")
            sender_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender_task
        for channel in channels.values():
            await channel.stop()
        await db.dispose()


def serving_app(settings: Settings, watch: StartupWatch | None = None) -> web.Application:
    """The application `helpline serve` runs: build_app, and its start-up's objects frozen;
    `watch` is told each step of its start-up."""
    if watch is not None:
        watch.at("building the application")
    app = build_app(settings)
    if watch is not None:
        app[STARTUP] = watch
    app.on_startup.append(_freeze_heap)  # after _runtime's start-up (cleanup_ctx runs first)
    return app


async def _freeze_heap(app: web.Application) -> None:
    app[STARTUP].at("freezing start-up's objects")
    # What start-up built (flows, the understanding lexicon, catalogs, SQLAlchemy's tables and
    # compiled statements) lives as long as the process. Frozen, a full collection no longer
    # walks it: under load those took 80-120 ms with the event loop stopped, which was the
    # tail of the reply latency (bench/load.py, paced p99). Only the server process does this:
    # tests build many apps in one process, and what is frozen is never collected.
    refreeze_heap()
    # A flow published since start-up replaces frozen objects, which the collector would never
    # free if they hold cycles: once a night, at a quiet hour, everything is looked at again.
    app[SCHEDULER].add_daily(_refreeze, at="04:30", id="refreeze-heap")
    app[STARTUP].at("opening the port")  # the last of start-up: aiohttp's sites start next


async def _refreeze() -> None:
    refreeze_heap()


def refreeze_heap() -> None:
    """Collect everything, then freeze what is left (long-lived) out of the collector's sight."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info("long-lived objects frozen for the collector: %d", gc.get_freeze_count())


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, takes writes and the keys read what it holds; else 503."""
    db = request.app[DB]
    database = await db.ping()
    keys = await keys_status(db) if database else "unknown"
    writes = await writes_ok(request.app)
    ok = database and keys == "ok" and writes
    return web.json_response(
        {"ok": ok, "database": database, "keys": keys, "writes": writes},
        status=200 if ok else 503,
    )


async def keys_status(db: Database) -> str:
    """ "ok" when HELPLINE_DATA_KEYS decrypt the oldest and newest stored address (or nothing
    is stored yet), "mismatch" when one does not: a lost or wrong key, every person a stranger."""
    try:
        async with asyncio.timeout(KEYS_CHECK_SECONDS), db.uow() as uow:
            samples = await uow.contacts.key_samples()
    except Exception:  # the database went away between the ping and this: the ping says so
        return "unknown"
    for token in samples:
        try:
            db.crypto.decrypt(token)
        except DecryptionError:
            log.error("healthz: stored data cannot be decrypted with HELPLINE_DATA_KEYS")
            return "mismatch"
    return "ok"


async def writes_ok(app: web.Application) -> bool:
    """False while writes fail (a full disk, a read-only database): see Database.writes_ok."""
    return await app[DB].writes_ok()


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics in the text format (all workers' under `serve --workers N`)."""
    return await prom.render(request.app[DB])


def counted_receive(app: web.Application) -> Callable[[Inbound], Awaitable[Any]]:
    """What channels hand messages to: the pipeline, each message counted by outcome."""

    # The channel's handler awaits this one coroutine, which awaits the pipeline: no layer
    # between them that only passes the message on. Never refused for its sender: the
    # pipeline keeps the message and limits the replies.
    async def receive(inbound: Inbound) -> Any:
        try:
            handled = await app[PIPELINE].receive(inbound)
        except Exception:
            prom.count_inbound(inbound.channel, "error")
            raise
        prom.count_inbound(inbound.channel, getattr(handled, "status", "processed"))
        return handled

    return receive


async def index(request: web.Request) -> web.Response:
    """The root leads to the simulator (or, when it is off, to the admin UI)."""
    raise web.HTTPFound("/simulator" if request.app[SETTINGS].simulator else "/admin")


def build_channels(app: web.Application, settings: Settings) -> dict[str, Any]:
    """The channels this configuration turns on; a channel without credentials is off."""

    receive = counted_receive(app)

    async def on_status(update: StatusUpdate) -> None:
        await app[PIPELINE].record_status(update)

    async def on_opt_out(urn: str, opted_out: bool) -> bool:
        return await app[PIPELINE].set_opt_out(urn, opted_out)

    async def last_heard(urn: str) -> datetime | None:
        return await app[PIPELINE].last_heard(urn)

    class Nudges:
        """WhatsApp's one "a message waits for you" a day, kept by the pipeline (the database)."""

        async def claim_nudge(self, urn: str, now: datetime) -> bool:
            return await app[PIPELINE].claim_nudge(urn, now)

        async def release_nudge(self, urn: str, now: datetime) -> None:
            await app[PIPELINE].release_nudge(urn, now)

    channels: dict[str, Any] = {"simulator": SimulatorChannel(app[HUB])}
    twilio: list[Any] = []
    if settings.sms_enabled:
        from bot.channels.twilio_sms import TwilioSmsChannel

        channels["sms"] = TwilioSmsChannel(
            settings, receive=receive, on_status=on_status, on_opt_out=on_opt_out
        )
        twilio.append(channels["sms"])
    if settings.whatsapp_enabled:
        from bot.channels.twilio_whatsapp import TwilioWhatsAppChannel

        channels["whatsapp"] = TwilioWhatsAppChannel(
            settings,
            receive=receive,
            on_status=on_status,
            on_opt_out=on_opt_out,
            last_inbound=last_heard,
            nudges=Nudges(),
        )
        twilio.append(channels["whatsapp"])
    if twilio:
        from bot.channels.twilio_sms import link

        link(twilio)  # one pair of webhooks for both: a whatsapp: sender goes to WhatsApp
    if settings.telegram_enabled:
        from bot.channels.telegram import TelegramChannel

        channels["telegram"] = TelegramChannel(settings, receive=receive)
    for channel in channels.values():
        if hasattr(channel, "routes"):
            app.router.add_routes(channel.routes())
    return channels


def build_app(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> web.Application:
    """The helpline's web application; nothing starts until the app runs."""
    app = web.Application(client_max_size=64 * 1024)
    # Headers, CSP, cookies, per-address limits, timeouts, and the webhooks' timing.
    setup_security(app, settings, observe=prom.time_webhook)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[STARTUP] = StartupWatch(None)
    app[HUB] = Hub()
    app.cleanup_ctx.append(_runtime)

    app[CHANNELS] = build_channels(app, settings)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)

    async def demo_phone() -> dict[str, str] | None:
        """The demo coordinator the simulator's coordinator phone belongs to, if there is one."""
        async with app[DB].uow() as uow:
            demo = [c for c in await uow.coordinators.list_all() if c.demo]
        if not demo:
            return None
        return {"urn": demo[0].simulator_urn or "", "name": demo[0].name}

    if settings.simulator:  # off: /simulator and its socket do not exist (404)
        setup_simulator(app, hub=app[HUB], receive=counted_receive(app), demo_phone=demo_phone)
    setup_admin(app)  # /admin: after the runtime's start-up, which the sub-app's builds on
    return app
