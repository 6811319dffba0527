"""When to check in: the cadence after registration, the repeat until the order ends, inside the
windows she chose in her municipality's time zone (pure: no I/O besides reading the data file)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.engine.normalise import fold

ORDERS_FILE = Path(__file__).resolve().parent.parent / "data" / "orders.yaml"
DEFAULT_TZ = "Europe/Tirane"
COUNTRY_TZ = {"AL": "Europe/Tirane", "XK": "Europe/Belgrade"}
DEFAULT_WINDOWS = ("any",)  # any time of day, never at night
WINDOW_NAMES = ("morning", "afternoon", "evening", "any", "night")


class OrdersDataError(ValueError):
    """bot/data/orders.yaml is wrong; the message names the entry and the problem."""


@dataclass(frozen=True, slots=True)
class OrderType:
    """A kind of protection order and its legal default duration."""

    key: str
    country: str
    label: str  # message id
    words: tuple[str, ...]
    default_days: int
    to_confirm: bool


@dataclass(frozen=True, slots=True)
class Window:
    """A time of day in local time; `end` before `start` runs past midnight."""

    name: str
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class OrderBook:
    """The order kinds and check-in windows of bot/data/orders.yaml."""

    types: dict[str, OrderType]
    windows: dict[str, Window]

    def find(self, typed: str, country: str | None) -> OrderType | None:
        """The order kind a coordinator or a flow named (key or word), preferring `country`."""
        # Not normalise(): it folds doubled letters, and UMM must not read as UM.
        wanted = _plain(typed)
        found = [
            t
            for t in self.types.values()
            if wanted in {_plain(t.key), *(_plain(w) for w in t.words)}
        ]
        found.sort(key=lambda t: t.country != (country or "AL"))
        return found[0] if found else None


def _plain(text: str) -> str:
    """Lower case, ë as e, ç as c, underscores and runs of spaces as one space."""
    return " ".join(fold(text.replace("_", " ")).lower().split())


def _hhmm(value: Any, where: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise OrdersDataError(f"{where}: {value!r} is not a time like 08:00") from None


def load_orders(path: Path = ORDERS_FILE) -> OrderBook:
    """Read and check the orders file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OrdersDataError(f"{path.name}: cannot be read ({exc})") from None
    types: dict[str, OrderType] = {}
    for key, entry in (data.get("orders") or {}).items():
        where = f"{path.name}: orders.{key}"
        if not isinstance(entry, dict):
            raise OrdersDataError(f"{where}: expected a mapping")
        if entry.get("country") not in COUNTRY_TZ:
            raise OrdersDataError(f"{where}: country must be AL or XK")
        days = entry.get("default_days")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise OrdersDataError(
                f"{where}: default_days must be a whole number of days, 1 or more"
            )
        types[str(key)] = OrderType(
            key=str(key),
            country=entry["country"],
            label=str(entry.get("label") or f"fu.order.{key}"),
            words=tuple(str(w) for w in entry.get("words") or ()),
            default_days=days,
            to_confirm=bool(entry.get("to_confirm", False)),
        )
    if not types:
        raise OrdersDataError(f"{path.name}: no orders")
    windows: dict[str, Window] = {}
    for name, span in (data.get("windows") or {}).items():
        where = f"{path.name}: windows.{name}"
        if name not in WINDOW_NAMES:
            raise OrdersDataError(f"{where}: windows are {', '.join(WINDOW_NAMES)}")
        if not isinstance(span, list) or len(span) != 2:
            raise OrdersDataError(f'{where}: expected [start, end] like ["08:00", "12:00"]')
        windows[name] = Window(name, _hhmm(span[0], where), _hhmm(span[1], where))
    missing = [w for w in WINDOW_NAMES if w not in windows]
    if missing:
        raise OrdersDataError(f"{path.name}: windows missing: {', '.join(missing)}")
    return OrderBook(types, windows)


def zone(name: str | None) -> ZoneInfo:
    """A time zone by name; Albania's when unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def order_end(issued: date, ends: date | None, kind: OrderType) -> tuple[date, bool]:
    """The order's last day, and True when it is the legal default (the end was not known)."""
    if ends is not None:
        return ends, False
    return issued + timedelta(days=kind.default_days - 1), True


def end_of_day(day: date, tz_name: str) -> datetime:
    """The first moment after `day` in the zone, in UTC (an order ends when its last day does)."""
    nxt = day + timedelta(days=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone(tz_name)).astimezone(UTC)


def nominal_times(
    start: datetime, cadence: Sequence[timedelta], repeat: timedelta
) -> Iterable[datetime]:
    """Every check-in time of a plan, without end: the cadence, then every `repeat`."""
    for offset in cadence:
        yield start + offset
    last = start + (cadence[-1] if cadence else timedelta(0))
    while True:
        last += repeat
        yield last


def next_nominal(
    start: datetime,
    cadence: Sequence[timedelta],
    repeat: timedelta,
    after: datetime,
    end: datetime | None,
) -> datetime | None:
    """The first planned check-in time after `after` and before `end`, else None."""
    found: datetime | None = None
    for offset in cadence:
        if start + offset > after:
            found = start + offset
            break
    if found is None:
        base = start + (cadence[-1] if cadence else timedelta(0))
        # Jump straight to the right repeat (a plan may be years long; no loop over each).
        steps = max(1, int((after - base) / repeat) + 1) if after >= base else 1
        found = base + steps * repeat
        while found <= after:
            found += repeat
    if end is not None and found >= end:
        return None
    return found


def _intervals(day: date, window: Window, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """One window on one local day, in UTC."""
    start = datetime.combine(day, window.start, tzinfo=tz)
    end_day = day + timedelta(days=1) if window.end <= window.start else day
    end = datetime.combine(end_day, window.end, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def in_windows(t: datetime, windows: Iterable[str], tz_name: str, book: OrderBook) -> bool:
    """True when `t` falls inside one of the windows."""
    return snap(t, windows, tz_name, book) == t


def snap(t: datetime, windows: Iterable[str], tz_name: str, book: OrderBook) -> datetime:
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
