"""/admin/stats: charts of the case figures, and the anonymised CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.web.charts import bar_chart, weekly_chart
from bot.web.kit import audit, deps, gettext, render, require_admin
from bot.web.stats import SUPPRESS_BELOW, Summary, csv_export, summarise

PERIODS = {"12w": 12 * 7, "26w": 26 * 7, "52w": 52 * 7, "all": None}


async def _summary(request: web.Request) -> tuple[Summary, dict[str, str], str]:
    d = deps(request)
    period = request.query.get("period", "12w")
    if period not in PERIODS:
        period = "12w"
    days = PERIODS[period]
    since = d.clock() - timedelta(days=days) if days else None
    async with d.db.uow() as uow:
        figures = await uow.stats.case_figures(since=since)
        outcomes = await uow.stats.followup_outcomes()
        names = {m.slug: m.name for m in await uow.municipalities.list_all()}
    return summarise(figures, outcomes), names, period


async def stats_page(request: web.Request) -> web.Response:
    """GET /admin/stats: cases per week by municipality, risk, types, acceptance, follow-ups."""
    require_admin(request)
    _ = gettext(request)
    summary, names, period = await _summary(request)
    names = {**names, "unknown": _("unknown"), "national": _("national")}
    weekly = weekly_chart(
        summary.weeks,
        summary.per_week,
        summary.municipalities,
        names,
        title=_("Cases per week by municipality"),
        other=_("other"),
    )

    def bars(table: dict[str, int], title: str) -> str:
        items = sorted(table.items(), key=lambda kv: -kv[1])
        return bar_chart([(_(k), float(v)) for k, v in items], title=title)

    accept = [
        (_("median (p50)"), round(summary.p50, 1)) if summary.p50 is not None else None,
        (_("90th percentile (p90)"), round(summary.p90, 1)) if summary.p90 is not None else None,
    ]
    return render(
        request,
        "stats.html",
        summary=summary,
        period=period,
        periods=list(PERIODS),
        weekly=weekly,
        risk=bars(summary.risk, _("Risk levels")),
        types=bars(summary.types, _("Incident types")),
        accept=bar_chart(
            [a for a in accept if a is not None], title=_("Minutes to acceptance"), unit=" min"
        ),
        escalation=bar_chart(
            [
                (_("cases escalated"), float(summary.escalated_cases)),
                (_("escalation pages"), float(summary.escalations)),
            ],
            title=_("Escalations"),
        ),
        followups=bars(summary.followups, _("Follow-up outcomes")) if summary.followups else "",
        suppress_below=SUPPRESS_BELOW,
    )


async def stats_csv(request: web.Request) -> web.Response:
    """GET /admin/stats.csv: aggregates only, counts under 5 suppressed."""
    require_admin(request)
    summary, _, period = await _summary(request)
    await audit(request, "stats_exported", period=period)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return web.Response(
        text=csv_export(summary),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="helpline-stats-{stamp}.csv"'},
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/stats", stats_page)
    router.add_get("/stats.csv", stats_csv)
