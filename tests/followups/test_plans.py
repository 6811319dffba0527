"""Check-in times: cadence then repeat until the end, windows in local time, never at night."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.followups import plans as P

BOOK = P.load_orders()
DAY = timedelta(days=1)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_cadence_then_the_repeat_until_the_order_ends():
    start = at(2026, 11, 23, 9)
    cadence = [DAY, 3 * DAY, 7 * DAY]
    end = start + 70 * DAY
    times, after = [], start
    while (t := P.next_nominal(start, cadence, 30 * DAY, after, end)) is not None:
        times.append((t - start).days)
        after = t
    assert times == [1, 3, 7, 37, 67]
    # A plan years long jumps to the right repeat at once.
    far = P.next_nominal(start, cadence, 30 * DAY, start + 3000 * DAY, None)
    assert far == start + (7 + 30 * 100) * DAY


@pytest.mark.parametrize(
    ("utc", "windows", "tz", "expected"),
    [
        # 22:00 in Tirana in winter (UTC+1): "any time of day" waits for 08:00 next morning.
        (at(2026, 11, 23, 21), ["any"], "Europe/Tirane", at(2026, 11, 24, 7)),
        # She chose the night: it goes at once.
        (at(2026, 11, 23, 21), ["night"], "Europe/Tirane", at(2026, 11, 23, 21)),
        # Summer time (UTC+2): her 17:00 evening is 15:00 UTC.
        (at(2026, 7, 1, 10), ["evening"], "Europe/Tirane", at(2026, 7, 1, 15)),
        # Kosovo keeps its own zone name (Europe/Belgrade); the morning starts at 08:00 there.
        (at(2026, 11, 24, 5), ["morning"], "Europe/Belgrade", at(2026, 11, 24, 7)),
        # The earliest of several windows.
        (at(2026, 11, 24, 12), ["morning", "evening"], "Europe/Tirane", at(2026, 11, 24, 16)),
    ],
)
def test_snap_finds_the_first_moment_inside_her_windows(utc, windows, tz, expected):
    assert P.snap(utc, windows, tz, BOOK) == expected
    assert P.in_windows(expected, windows, tz, BOOK)


def test_never_at_night_unless_chosen_over_a_whole_year():
    t = at(2026, 1, 1)
    for _ in range(24 * 365 // 5):
        got = P.snap(t, ["any"], "Europe/Tirane", BOOK)
        local = got.astimezone(P.zone("Europe/Tirane"))
        assert 8 <= local.hour < 21 and got >= t
        t += timedelta(hours=5)


def test_the_legal_default_end_and_bad_data():
    um = BOOK.types["um"]
    assert um.to_confirm and P.order_end(date(2026, 11, 1), None, um) == (date(2027, 10, 31), True)
    assert P.order_end(date(2026, 11, 1), date(2027, 1, 1), um) == (date(2027, 1, 1), False)
    assert BOOK.find("UM", "XK").key == "xk_protection" and BOOK.find("umm", "AL").key == "umm"


def test_a_broken_orders_file_names_the_entry(tmp_path: Path):
    bad = tmp_path / "orders.yaml"
    bad.write_text("orders:\n  um: {country: AL, default_days: twelve}\n")
    with pytest.raises(P.OrdersDataError, match=r"orders\.um: default_days"):
        P.load_orders(bad)
