"""Who is on duty at a time: always, a window, or weekly local hours across midnight and DST.

Shift kinds:
- `always`: on duty at any time.
- `window`: from `starts_at` to `ends_at` (UTC instants; times typed without an offset are read
  in the municipality's local time when the shift is added).
- `weekly`: on the given weekdays from `start_time` to `end_time` local time, in `tz`. An end at
  or before the start means the shift ends the next day (22:00-06:00). Local times are turned
  into instants on each day, so a shift keeps its wall-clock hours across daylight-saving
  changes (a 22:00-06:00 shift lasts 7 hours on the spring night and 9 on the autumn night).
  A start in the spring gap (02:30 on the last Sunday of March) begins when the clocks have
  moved on (03:30); a time that occurs twice in autumn means its first occurrence.

Digests: non-urgent cases reach a coordinator at the start of their next shift, or at once when
they are in a shift; coordinators who are always on duty or have no shifts get them in working
hours (09:00-17:00 local, Monday to Friday).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.store.records import DutyShift

DEFAULT_TZ = "Europe/Tirane"
COUNTRY_TZ = {"AL": "Europe/Tirane", "XK": "Europe/Belgrade"}
WORK_START, WORK_END = time(9, 0), time(17, 0)
WORK_DAYS = frozenset(range(5))
LOOKAHEAD_DAYS = 15  # weekly shifts repeat within a week; two cover any DST change

DAY_NAMES = {
    "mon": 0, "monday": 0, "hen": 0, "hene": 0,
    "tue": 1, "tuesday": 1, "mar": 1, "marte": 1,
    "wed": 2, "wednesday": 2, "mer": 2, "merkure": 2,
    "thu": 3, "thursday": 3, "enj": 3, "enjte": 3,
    "fri": 4, "friday": 4, "pre": 4, "premte": 4,
    "sat": 5, "saturday": 5, "sht": 5, "shtune": 5,
    "sun": 6, "sunday": 6, "die": 6, "diel": 6,
}  # fmt: skip
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_days(text: str) -> tuple[int, ...]:
    """Weekdays from "mon-fri", "sat,sun", "daily", "weekdays" (Monday = 0); ValueError if bad."""
    value = text.strip().lower().replace("ë", "e")
    if value in ("daily", "all", "every"):
        return tuple(range(7))
    if value in ("weekdays", "workdays"):
        return tuple(range(5))
    if value == "weekend":
        return (5, 6)
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in value.split(","))):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"unknown day in {text!r}: use mon,tue,... or ranges like mon-fri")
        start = DAY_NAMES[first]
        end = DAY_NAMES[last] if last else start
        span = (end - start) % 7
        days.update((start + i) % 7 for i in range(span + 1))
    if not days:
        raise ValueError(f"no days in {text!r}")
    return tuple(sorted(days))


def parse_hhmm(text: str) -> str:
    """A local time "HH:MM" (24-hour), normalised to two digits; ValueError if bad."""
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(f"not a time of day: {text!r} (use HH:MM, e.g. 08:00 or 22:30)")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def zone_name(municipality: str, municipality_tz: dict[str, str] | None = None) -> str:
    """The time zone of a municipality slug; the national duty keeps Albania's time."""
    return (municipality_tz or {}).get(municipality, DEFAULT_TZ)


def localize(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time on a day (gap: moved forward; fold: first)."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    return local.astimezone(UTC)


def parse_local(text: str, tz_name: str) -> datetime:
    """An ISO date-time; without an offset it is local time in `tz_name`. Returned in UTC."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value.astimezone(UTC)


def _weekly_spans(
    shift: DutyShift, around: datetime, days: int
) -> Iterable[tuple[datetime, datetime]]:
    """Occurrences of a weekly shift starting from the day before `around`, for `days` days."""
    tz = ZoneInfo(shift.tz)
    assert shift.start_time and shift.end_time
    first = around.astimezone(tz).date() - timedelta(days=1)
    overnight = shift.end_time <= shift.start_time
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        if day.weekday() not in shift.days:
            continue
        start = localize(day, shift.start_time, tz)
        end = localize(day + timedelta(days=1) if overnight else day, shift.end_time, tz)
        yield start, end


def on_duty(shift: DutyShift, at: datetime) -> bool:
    """True when this shift covers the instant `at`."""
    if shift.kind == "always":
        return True
    if shift.kind == "window":
        return bool(shift.starts_at and shift.ends_at and shift.starts_at <= at < shift.ends_at)
    if shift.kind == "weekly":
        return any(start <= at < end for start, end in _weekly_spans(shift, at, 2))
    return False


def is_on_duty(shifts: Iterable[DutyShift], at: datetime) -> bool:
    """True when any of a coordinator's shifts covers `at`."""
    return any(on_duty(s, at) for s in shifts)


def next_shift_start(shifts: Iterable[DutyShift], after: datetime) -> datetime | None:
    """The first start of a window or weekly shift after `after`, if any."""
    starts: list[datetime] = []
    for shift in shifts:
        if shift.kind == "window" and shift.starts_at and shift.starts_at > after:
            starts.append(shift.starts_at)
        elif shift.kind == "weekly":
            starts.extend(s for s, _ in _weekly_spans(shift, after, LOOKAHEAD_DAYS) if s > after)
    return min(starts, default=None)


def working_hours_start(after: datetime, tz_name: str) -> datetime:
    """`after` itself within working hours, else the next 09:00 local on a weekday."""
    tz = ZoneInfo(tz_name)
    local = after.astimezone(tz)
    if local.weekday() in WORK_DAYS and WORK_START <= local.time() < WORK_END:
        return after
    day = local.date()
    for offset in range(8):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() not in WORK_DAYS:
            continue
        start = localize(candidate, WORK_START.strftime("%H:%M"), tz)
        if start > after:
            return start
    raise AssertionError("a working day always comes within a week")


def digest_due(shifts: Iterable[DutyShift], tz_name: str, now: datetime) -> datetime:
    """When a non-urgent case should reach a coordinator: in a shift now, or at the next one."""
    timed = [s for s in shifts if s.kind in ("window", "weekly")]
    if timed:
        if is_on_duty(timed, now):
            return now
        start = next_shift_start(timed, now)
        if start is not None:
            return start
    return working_hours_start(now, tz_name)
