"""When to check in: the cadence after registration, the repeat until the order ends, inside the
windows she chose in her municipality's time zone (pure: no I/O besides reading the data file).

The windows and time zones are bot/safe_times.py's (referral and the outbox use them too); the
ones the follow-ups use are named here as well, so that they read plans.X for all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.engine.normalise import fold
from bot.safe_times import COUNTRY_TZ as COUNTRY_TZ
from bot.safe_times import DEFAULT_TZ as DEFAULT_TZ
from bot.safe_times import DEFAULT_WINDOWS as DEFAULT_WINDOWS
from bot.safe_times import (
    ORDERS_FILE,
    OrdersDataError,
    Window,
    parse_windows,
    read_orders_file,
)
from bot.safe_times import WINDOW_NAMES as WINDOW_NAMES
from bot.safe_times import in_windows as in_windows
from bot.safe_times import snap as snap
from bot.safe_times import zone as zone


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


def load_orders(path: Path = ORDERS_FILE) -> OrderBook:
    """Read and check the orders file."""
    data = read_orders_file(path)
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
    windows = parse_windows(data, path.name)
    return OrderBook(types, windows)


def order_end(
    issued: date, ends: date | None, kind: OrderType, in_force_on: date | None = None
) -> tuple[date, bool]:
    """The order's last day, and True when it is the legal default (the end was not known).
    `in_force_on`: a day she says it is in force; a legal default that ended before it counts
    from that day instead (she has it now; the coordinator confirms the real end)."""
    if ends is not None:
        return ends, False
    last = issued + timedelta(days=kind.default_days - 1)
    if in_force_on is not None and last < in_force_on:
        last = in_force_on + timedelta(days=kind.default_days - 1)
    return last, True


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
