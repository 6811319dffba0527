"""Prometheus metrics: per-worker counters summed across `serve --workers N`, and DB totals."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily

from bot.store.db import Database

# prometheus_client's multiprocess mode: each worker writes its values to files here and
# /metrics, in whichever worker answers, reads them all (the variable must be set before
# prometheus_client is imported; the supervisor sets it for its workers).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

INBOUND = Counter(
    "helpline_inbound_messages_total",
    "Inbound messages handed to the pipeline, by channel and outcome",
    ["channel", "status"],
)
WEBHOOK_SECONDS = Histogram(
    "helpline_webhook_seconds",
    "Time from a webhook request to its answer, by path",
    ["path"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


# Labelled children by their labels: labels() takes a lock and checks its arguments each call
# (about 1 % of the server's CPU under load); there are only a few of each.
_inbound_children: dict[tuple[str, str], Any] = {}
_webhook_children: dict[str, Any] = {}


def count_inbound(channel: str, status: str) -> None:
    """One inbound message went through the pipeline with this outcome."""
    child = _inbound_children.get((channel, status))
    if child is None:
        child = _inbound_children[channel, status] = INBOUND.labels(channel, status)
    child.inc()


def observe_webhook(path: str, seconds: float) -> None:
    """One webhook request to this route took `seconds`."""
    child = _webhook_children.get(path)
    if child is None:
        child = _webhook_children[path] = WEBHOOK_SECONDS.labels(path)
    child.observe(seconds)


def time_webhook(request: web.Request, seconds: float) -> None:
    """One webhook request took `seconds` (bot/web/security.py's guard times them)."""
    # The route's own path only: unknown paths would make a label per scanner's guess.
    route = request.match_info.route.resource
    observe_webhook(route.canonical if route is not None else "other", seconds)


class _Totals:
    """Counts read from the database at scrape time (the same whichever worker answers)."""

    def __init__(self, alerts: dict[str, int], escalations: int) -> None:
        self.alerts, self.escalations = alerts, escalations

    def collect(self) -> Any:
        sent = CounterMetricFamily(
            "helpline_alerts_sent",
            "Alerts sent to coordinators (not demo), by kind; from the database",
            labels=["kind"],
        )
        for kind, n in sorted(self.alerts.items()):
            sent.add_metric([kind], n)
        yield sent
        yield CounterMetricFamily(
            "helpline_escalations",
            "Pages sent because nobody accepted in time (a case's later steps); from the database",
            value=self.escalations,
        )


async def render(db: Database) -> web.Response:
    """The /metrics response: process (or all workers') metrics, then the database totals."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    async with db.uow() as uow:
        alerts, escalations = await uow.stats.alert_totals()
    totals = CollectorRegistry(auto_describe=False)
    totals.register(_Totals(alerts, escalations))
    response = web.Response(body=body + generate_latest(totals))
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


def prepare_multiprocess_dir() -> Path:
    """Before starting workers: an empty directory for their metric files (a given one is
    emptied, as prometheus_client asks, so a restart does not add old counts)."""
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="helpline-metrics-"))
    if path.exists():
        for entry in path.iterdir():
            if entry.is_file():
                entry.unlink()
            else:
                shutil.rmtree(entry)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def worker_died(pid: int) -> None:
    """Forget a dead worker's live gauges (its counters stay counted)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
