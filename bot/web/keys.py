"""The aiohttp AppKeys of the running helpline's parts: bot/app.py sets them, the web reads them.

Not bot/keys.py (encryption keys). They live here, below both, so that the admin pages can
read the helpline's parts without importing bot/app.py, which imports the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.flows.library import FlowLibrary
from bot.followups.scheduler import Scheduler
from bot.hub import Hub
from bot.i18n import Catalogs
from bot.outbox import OutboxSender
from bot.pipeline import Pipeline
from bot.store.db import Database
from bot.store.leader import Leader

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
DB = web.AppKey("db", Database)
FLOWS = web.AppKey("flows", FlowLibrary)
CATALOGS = web.AppKey("catalogs", Catalogs)
HUB = web.AppKey("hub", Hub)
PIPELINE = web.AppKey("pipeline", Pipeline)
SENDER = web.AppKey("sender", OutboxSender)
LEADER = web.AppKey("leader", Leader)
SCHEDULER = web.AppKey("scheduler", Scheduler)  # add periodic jobs with add_job / add_daily
CHANNELS = web.AppKey("channels", dict[str, Any])  # by channel name: "sms", "telegram", …
