"""When a message the helpline starts may go to her: at once, when her safe window opens, or only
once she writes again; the windows and time zones (pure: no I/O besides reading the data file).

Below referral, follow-ups, the pipeline and the store, which all ask it; it asks none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

ORDERS_FILE = Path(__file__).resolve().parent / "data" / "orders.yaml"  # its `windows:` here
DEFAULT_TZ = "Europe/Tirane"
COUNTRY_TZ = {"AL": "Europe/Tirane", "XK": "Europe/Belgrade"}
DEFAULT_WINDOWS = ("any",)  # any time of day, never at night
WINDOW_NAMES = ("morning", "afternoon", "evening", "any", "night")

FIELD = "safe_window"  # set by first_contact's when_safe question (and "now" when it is safe)
WINDOWS = ("morning", "afternoon", "evening")
NO_WINDOW = "any"  # "I'll write myself": nothing the helpline starts until she writes again
# A due time no clock reaches: the outbox keeps the row until she writes (OutboxRepo.release).
# Not datetime.max: a driver adding a time zone offset to it would overflow.
HELD = datetime(9999, 1, 1, tzinfo=UTC)
# Outbox kinds that go to her (alerts go to coordinators, deletions are not messages).
TO_HER = ("reply", "followup")


class OrdersDataError(ValueError):
    """bot/data/orders.yaml is wrong; the message names the entry and the problem."""


@dataclass(frozen=True, slots=True)
class Window:
    """A time of day in local time; `end` before `start` runs past midnight."""

    name: str
    start: time
    end: time


def _hhmm(value: Any, where: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise OrdersDataError(f"{where}: {value!r} is not a time like 08:00") from None


class HasWindows(Protocol):
    """Anything holding the check-in windows by name (plans.OrderBook does)."""

    @property
    def windows(self) -> Mapping[str, Window]:
        """Windows by name: morning, afternoon, evening, any, night."""
        ...


@dataclass(frozen=True, slots=True)
class WindowBook:
    """The windows of bot/data/orders.yaml alone."""

    windows: dict[str, Window]


def parse_windows(data: Mapping[str, Any], file: str) -> dict[str, Window]:
    """The `windows:` of the orders file's data; OrdersDataError names the entry and problem."""
    windows: dict[str, Window] = {}
    for name, span in (data.get("windows") or {}).items():
        where = f"{file}: windows.{name}"
        if name not in WINDOW_NAMES:
            raise OrdersDataError(f"{where}: windows are {', '.join(WINDOW_NAMES)}")
        if not isinstance(span, list) or len(span) != 2:
            raise OrdersDataError(f'{where}: expected [start, end] like ["08:00", "12:00"]')
        windows[name] = Window(name, _hhmm(span[0], where), _hhmm(span[1], where))
    missing = [w for w in WINDOW_NAMES if w not in windows]
    if missing:
        raise OrdersDataError(f"{file}: windows missing: {', '.join(missing)}")
    return windows


def read_orders_file(path: Path = ORDERS_FILE) -> dict[str, Any]:
    """The orders file's data (orders and windows); OrdersDataError when it cannot be read."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OrdersDataError(f"{path.name}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise OrdersDataError(f"{path.name}: expected a mapping")
    return data


def load_windows(path: Path = ORDERS_FILE) -> WindowBook:
    """Read and check the windows of the orders file."""
    return WindowBook(parse_windows(read_orders_file(path), path.name))


def zone(name: str | None) -> ZoneInfo:
    """A time zone by name; Albania's when unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def _intervals(day: date, window: Window, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """One window on one local day, in UTC."""
    start = datetime.combine(day, window.start, tzinfo=tz)
    end_day = day + timedelta(days=1) if window.end <= window.start else day
    end = datetime.combine(end_day, window.end, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def in_windows(t: datetime, windows: Iterable[str], tz_name: str, book: HasWindows) -> bool:
    """True when `t` falls inside one of the windows."""
    return snap(t, windows, tz_name, book) == t


def snap(t: datetime, windows: Iterable[str], tz_name: str, book: HasWindows) -> datetime:
    """The earliest moment at or after `t` inside one of the windows (local time of `tz_name`)."""
    tz = zone(tz_name)
    chosen = [book.windows[w] for w in windows if w in book.windows] or [
        book.windows[w] for w in DEFAULT_WINDOWS
    ]
    local_day = t.astimezone(tz).date()
    best: datetime | None = None
    for delta in (-1, 0, 1, 2):
        day = local_day + timedelta(days=delta)
        for window in chosen:
            start, end = _intervals(day, window, tz)
            if end <= t:
                continue
            candidate = max(start, t)
            if best is None or candidate < best:
                best = candidate
    assert best is not None  # every window recurs daily: one of four days has it
    return best


@dataclass(frozen=True, slots=True)
class Reach:
    """When she may be written to: "now", in a "window" (which one), or "hold" until she writes."""

    kind: str
    window: str | None = None

    @property
    def restricted(self) -> bool:
        """True when texting her now is not safe."""
        return self.kind != "now"


def reach(fields: Mapping[str, Any]) -> Reach:
    """What she said about texting, from her contact fields."""
    chosen = fields.get(FIELD)
    if chosen in WINDOWS:
        return Reach("window", str(chosen))
    if chosen == NO_WINDOW:
        return Reach("hold")
    return Reach("now")


@cache
def _book() -> WindowBook:
    return load_windows()


def send_at(
    fields: Mapping[str, Any], tz_name: str | None, now: datetime, book: HasWindows | None = None
) -> datetime:
    """The due time of a message the helpline starts: `now`, her window's next opening in her
    municipality's time zone, or HELD (until she writes again)."""
    found = reach(fields)
    if found.kind == "hold":
        return HELD
    if found.kind == "window":
        return snap(now, [found.window or ""], tz_name or DEFAULT_TZ, book or _book())
    return now


def hours(window: str, book: HasWindows | None = None) -> tuple[str, str]:
    """A window's local start and end, as 17:00 and 21:00."""
    span = (book or _book()).windows[window]
    return span.start.strftime("%H:%M"), span.end.strftime("%H:%M")


def is_held(due_at: datetime) -> bool:
    """True for a row kept until she writes again."""
    return due_at.year >= HELD.year


def zone_of(municipality: str | None, places: Mapping[str, Any], urn: str = "") -> str:
    """Her time zone: her municipality's, else her country's by number (+383 is Kosovo)."""
    place = places.get(municipality or "")
    if place is not None and getattr(place, "tz", None):
        return str(place.tz)
    if urn.startswith(("tel:+383", "whatsapp:+383")):
        return COUNTRY_TZ["XK"]
    return DEFAULT_TZ


# -- WhatsApp's 24-hour window ------------------------------------------------------------------
# WhatsApp lets a business write free-form only within 24 hours of the person's last message;
# outside it only an approved template goes
# (https://www.twilio.com/docs/whatsapp/key-concepts#the-24-hour-window-or-24-hour-session).
WINDOW = timedelta(hours=24)
# Sent a little inside the edge: Twilio counts from when it received her message, we from
# when we did, and a send takes a moment.
WINDOW_MARGIN = timedelta(minutes=5)
FREE, TEMPLATE, WAIT = "free", "template", "wait"
# The approved templates a message may go as outside the window (texts and admin view:
# bot/channels/twilio_whatsapp.py TEMPLATES; their ContentSids: HELPLINE_WHATSAPP_TEMPLATES).
TPL_CHECKIN = "checkin"  # the first question of a check-in
TPL_WAITING = "message_waiting"  # "a message waits for you": the message waits for her
TPL_COORDINATOR_ALERT = "coordinator_alert"  # an urgent page, with its reference


def template(
    name: str, language: str | None, *, nudge: bool = False, **variables: str
) -> dict[str, object]:
    """An outbox row's meta naming the template it may go as outside the window; `nudge`: the
    template only announces it, and the row itself waits until she writes."""
    found: dict[str, object] = {"name": name, "lang": language or "sq"}
    if nudge:
        found["nudge"] = True
    if variables:
        found["vars"] = {str(i): v for i, v in enumerate(variables.values(), start=1)}
    return {"template": found}


def window_open(last_inbound: datetime | None, now: datetime) -> bool:
    """True while a free-form message may still go (her last message is under 24 h old)."""
    return last_inbound is not None and now - last_inbound < WINDOW - WINDOW_MARGIN


def within_window(last_inbound: datetime | None, now: datetime, has_template: bool) -> str:
    """How a message may go on a channel with a 24-hour window: FREE inside it; outside, as its
    approved TEMPLATE when it has one, else WAIT (until she writes again, or another channel)."""
    if window_open(last_inbound, now):
        return FREE
    return TEMPLATE if has_template else WAIT
