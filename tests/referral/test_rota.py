"""Duty times: shifts across midnight, daylight-saving changes in Tirana and Pristina, digests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.referral import rota
from bot.store.records import DutyShift


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(days: str, start: str, end: str, tz: str = "Europe/Tirane") -> DutyShift:
    return DutyShift(
        1, 1, "weekly", days=rota.parse_days(days), start_time=start, end_time=end, tz=tz
    )


NIGHTS = weekly("mon-fri", "22:00", "06:00")  # Monday night to Saturday morning


@pytest.mark.parametrize(
    ("at", "on"),
    [
        (utc(2026, 11, 23, 20, 59), False),  # Mon 21:59 local (CET, UTC+1)
        (utc(2026, 11, 23, 21, 0), True),  # Mon 22:00
        (utc(2026, 11, 24, 4, 59), True),  # Tue 05:59: the Monday shift, across midnight
        (utc(2026, 11, 24, 5, 0), False),  # Tue 06:00: ended
        (utc(2026, 11, 28, 2, 0), True),  # Sat 03:00: Friday's shift still runs
        (utc(2026, 11, 29, 2, 0), False),  # Sun 03:00: no Saturday shift
        (utc(2026, 11, 23, 2, 0), False),  # Mon 03:00: no Sunday shift
    ],
)
def test_a_night_shift_runs_across_midnight(at, on):
    assert rota.on_duty(NIGHTS, at) is on


def test_the_spring_night_is_an_hour_shorter_and_keeps_its_wall_clock_hours():
    daily = weekly("daily", "22:00", "06:00")
    # Saturday 28 March 2026, 22:00 CET = 21:00 UTC; Sunday 06:00 CEST = 04:00 UTC: 7 hours.
    assert not rota.on_duty(daily, utc(2026, 3, 28, 20, 59))
    assert rota.on_duty(daily, utc(2026, 3, 28, 21, 0))
    assert rota.on_duty(daily, utc(2026, 3, 29, 3, 59))
    assert not rota.on_duty(daily, utc(2026, 3, 29, 4, 0))
    # And the next evening starts at 22:00 summer time, 20:00 UTC.
    assert not rota.on_duty(daily, utc(2026, 3, 29, 19, 59))
    assert rota.on_duty(daily, utc(2026, 3, 29, 20, 0))


def test_the_autumn_night_is_an_hour_longer():
    daily = weekly("daily", "22:00", "06:00")
    # Saturday 24 October 2026, 22:00 CEST = 20:00 UTC; Sunday 06:00 CET = 05:00 UTC: 9 hours.
    assert not rota.on_duty(daily, utc(2026, 10, 24, 19, 59))
    assert rota.on_duty(daily, utc(2026, 10, 24, 20, 0))
    assert rota.on_duty(daily, utc(2026, 10, 25, 4, 59))
    assert not rota.on_duty(daily, utc(2026, 10, 25, 5, 0))


def test_a_start_in_the_spring_gap_begins_when_the_clocks_have_moved_on():
    early = weekly("sun", "02:30", "08:00")  # 02:30 does not exist on 29 March 2026
    assert not rota.on_duty(early, utc(2026, 3, 29, 1, 29))
    assert rota.on_duty(early, utc(2026, 3, 29, 1, 30))  # 03:30 CEST
    assert rota.on_duty(early, utc(2026, 3, 29, 5, 59))
    assert not rota.on_duty(early, utc(2026, 3, 29, 6, 0))  # 08:00 CEST


def test_kosovo_shifts_use_belgrade_time():
    day = weekly("mon-fri", "08:00", "16:00", tz="Europe/Belgrade")
    assert rota.on_duty(day, utc(2026, 7, 6, 6, 0))  # Mon 08:00 CEST
    assert not rota.on_duty(day, utc(2026, 7, 6, 5, 59))
    assert rota.on_duty(day, utc(2026, 12, 7, 7, 0))  # Mon 08:00 CET
    assert not rota.on_duty(day, utc(2026, 12, 7, 6, 59))


def test_windows_and_always():
    start = rota.parse_local("2026-12-24T20:00", "Europe/Tirane")
    end = rota.parse_local("2026-12-25T08:00", "Europe/Tirane")
    assert (start, end) == (utc(2026, 12, 24, 19, 0), utc(2026, 12, 25, 7, 0))
    assert rota.parse_local("2026-12-24T20:00+00:00", "Europe/Tirane") == utc(2026, 12, 24, 20)
    window = DutyShift(1, 1, "window", starts_at=start, ends_at=end)
    assert not rota.on_duty(window, start - timedelta(seconds=1))
    assert rota.on_duty(window, start)
    assert not rota.on_duty(window, end)
    assert rota.on_duty(DutyShift(2, 1, "always"), utc(2030, 1, 1))
    assert not rota.is_on_duty([], utc(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", (0, 1, 2, 3, 4)),
        ("sat,sun", (5, 6)),
        ("fri-mon", (0, 4, 5, 6)),
        ("daily", (0, 1, 2, 3, 4, 5, 6)),
        ("hen-pre", (0, 1, 2, 3, 4)),  # Albanian day names
        ("Shtunë,Diel", (5, 6)),
        ("wed", (2,)),
    ],
)
def test_parse_days(text, days):
    assert rota.parse_days(text) == days


@pytest.mark.parametrize("bad", ["", "funday", "mon-xyz", ","])
def test_parse_days_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        rota.parse_days(bad)


def test_parse_hhmm():
    assert rota.parse_hhmm("8:05") == "08:05"
    for bad in ("24:00", "8", "08:60", "eight"):
        with pytest.raises(ValueError):
            rota.parse_hhmm(bad)


DAY_SHIFT = weekly("mon-fri", "08:00", "16:00")


@pytest.mark.parametrize(
    ("shifts", "now", "due"),
    [
        ([DAY_SHIFT], utc(2026, 11, 23, 10, 0), utc(2026, 11, 23, 10, 0)),  # in a shift: now
        ([DAY_SHIFT], utc(2026, 11, 28, 9, 0), utc(2026, 11, 30, 7, 0)),  # Sat -> Mon 08:00
        ([DAY_SHIFT], utc(2026, 11, 23, 15, 30), utc(2026, 11, 24, 7, 0)),  # after -> next day
        ([NIGHTS], utc(2026, 11, 23, 12, 0), utc(2026, 11, 23, 21, 0)),  # next night shift
        ([], utc(2026, 11, 27, 17, 0), utc(2026, 11, 30, 8, 0)),  # Fri 18:00 -> Mon 09:00
        ([], utc(2026, 11, 24, 3, 0), utc(2026, 11, 24, 8, 0)),  # 04:00 -> 09:00 same day
        ([], utc(2026, 11, 24, 9, 0), utc(2026, 11, 24, 9, 0)),  # working hours: now
        ([DutyShift(3, 1, "always")], utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 7, 0)),  # DST
    ],
)
def test_digests_wait_for_working_hours(shifts, now, due):
    assert rota.digest_due(shifts, "Europe/Tirane", now) == due


def test_a_past_window_falls_back_to_working_hours():
    past = DutyShift(1, 1, "window", starts_at=utc(2026, 1, 1), ends_at=utc(2026, 1, 2))
    assert rota.digest_due([past], "Europe/Tirane", utc(2026, 11, 28, 9)) == utc(2026, 11, 30, 8)
