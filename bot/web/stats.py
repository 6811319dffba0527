"""Statistics from case figures: per week and municipality, risk, types, acceptance, suppression."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.store.records import CaseFigures

SUPPRESS_BELOW = 5  # counts from 1 to 4 are not exported: a small place's case could be named
SUPPRESSED = "<5"
# Every other exported count is rounded to the nearest multiple of this. Suppressing 1 to 4 alone
# is not enough: a hidden cell is the total (or another table over the same cases) minus the
# shown ones, and two periods subtract to the cases between them. Rounded counts subtract to a
# range of +-2 a cell, never to an exact small number.
ROUND_TO = 5
LOCAL = ZoneInfo("Europe/Tirane")  # weeks begin on Monday, local time (Albania and Kosovo share it)


def week_of(at: datetime) -> date:
    """The Monday (local time) of the week a time falls in."""
    day = at.astimezone(LOCAL).date()
    return day - timedelta(days=day.weekday())


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (p in 0..100) of the values, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def suppress(count: int) -> int | str:
    """A count as it may be exported: 0 stays, 1 to 4 become "<5", others round to base 5."""
    if count <= 0:
        return 0
    if count < SUPPRESS_BELOW:
        return SUPPRESSED
    return ROUND_TO * ((count + ROUND_TO // 2) // ROUND_TO)  # halves up: 7 -> 5, 8 -> 10


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything the statistics page shows."""

    total: int
    weeks: list[date]
    per_week: dict[date, dict[str, int]]  # week -> municipality -> cases
    municipalities: list[str]  # by cases, most first
    risk: dict[str, int]
    types: dict[str, int]
    urgency: dict[str, int]
    accept_minutes: list[float]
    p50: float | None
    p90: float | None
    escalated_cases: int
    escalations: int
    followups: dict[str, int]


def summarise(figures: Iterable[CaseFigures], followups: Mapping[str, int]) -> Summary:
    """Aggregate case figures; no person appears in the result, only counts."""
    figures = list(figures)
    per_week: dict[date, Counter[str]] = defaultdict(Counter)
    places: Counter[str] = Counter()
    for f in figures:
        place = f.municipality or "unknown"
        per_week[week_of(f.created_at)][place] += 1
        places[place] += 1
    weeks = sorted(per_week)
    if weeks:  # show empty weeks too: a gap is information
        filled, day = [], weeks[0]
        while day <= weeks[-1]:
            filled.append(day)
            day += timedelta(days=7)
        weeks = filled
    minutes = [
        (f.accepted_at - f.created_at).total_seconds() / 60
        for f in figures
        if f.accepted_at is not None and f.accepted_at >= f.created_at
    ]
    return Summary(
        total=len(figures),
        weeks=weeks,
        per_week={w: dict(per_week.get(w, {})) for w in weeks},
        municipalities=[m for m, _ in places.most_common()],
        risk=dict(Counter(f.risk_level or "not_assessed" for f in figures)),
        types=dict(Counter(f.category or "not_set" for f in figures)),
        urgency=dict(Counter(f.urgency for f in figures)),
        accept_minutes=minutes,
        p50=percentile(minutes, 50),
        p90=percentile(minutes, 90),
        escalated_cases=sum(1 for f in figures if f.escalations > 0),
        escalations=sum(f.escalations for f in figures),
        followups=dict(followups),
    )


def csv_export(summary: Summary) -> str:
    """Anonymised aggregates as CSV (metric, group, period, count): 1 to 4 as "<5", the rest
    rounded to base 5, so no count below 5 can be worked out from totals or two periods."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["metric", "group", "week", "count"])
    for week in summary.weeks:
        for place, n in sorted(summary.per_week[week].items()):
            writer.writerow(["cases", place, week.isoformat(), suppress(n)])
    for metric, table in (
        ("risk_level", summary.risk),
        ("incident_type", summary.types),
        ("urgency", summary.urgency),
        ("followup_outcome", summary.followups),
    ):
        for group, n in sorted(table.items()):
            writer.writerow([metric, group, "", suppress(n)])
    writer.writerow(["escalated_cases", "all", "", suppress(summary.escalated_cases)])
    # Percentiles over fewer than SUPPRESS_BELOW cases would describe single cases.
    enough = len(summary.accept_minutes) >= SUPPRESS_BELOW
    for name, value in (("p50", summary.p50), ("p90", summary.p90)):
        shown = f"{value:.1f}" if enough and value is not None else SUPPRESSED if value else ""
        writer.writerow([f"minutes_to_acceptance_{name}", "all", "", shown])
    return out.getvalue()
