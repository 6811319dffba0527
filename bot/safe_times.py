"""When a message the helpline starts may go to her: at once, when her safe window opens, or only
once she writes again (pure; the windows and their time zones are the follow-ups' own)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from bot.followups import plans as P

FIELD = "safe_window"  # set by first_contact's when_safe question (and "now" when it is safe)
WINDOWS = ("morning", "afternoon", "evening")
NO_WINDOW = "any"  # "I'll write myself": nothing the helpline starts until she writes again
# A due time no clock reaches: the outbox keeps the row until she writes (OutboxRepo.release).
# Not datetime.max: a driver adding a time zone offset to it would overflow.
HELD = datetime(9999, 1, 1, tzinfo=UTC)
# Outbox kinds that go to her (alerts go to coordinators, deletions are not messages).
TO_HER = ("reply", "followup")


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
def _book() -> P.OrderBook:
    return P.load_orders()


def send_at(
    fields: Mapping[str, Any], tz_name: str | None, now: datetime, book: P.OrderBook | None = None
) -> datetime:
    """The due time of a message the helpline starts: `now`, her window's next opening in her
    municipality's time zone, or HELD (until she writes again)."""
    found = reach(fields)
    if found.kind == "hold":
        return HELD
    if found.kind == "window":
        return P.snap(now, [found.window or ""], tz_name or P.DEFAULT_TZ, book or _book())
    return now


def hours(window: str, book: P.OrderBook | None = None) -> tuple[str, str]:
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
        return P.COUNTRY_TZ["XK"]
    return P.DEFAULT_TZ


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
