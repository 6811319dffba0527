"""Message ids of what coordinators (and persons, about their case) read; texts in catalogs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


def N_(msgid: str) -> str:
    """Mark a message id for `pybabel extract` without translating it here."""
    return msgid


class Translator(Protocol):
    """The part of i18n.Catalogs referral needs."""

    def text(self, locale: str, msgid: str, params: Mapping[str, Any] | None = None) -> str:
        """A message in a language, with params filled in."""
        ...


ALERT = N_("ref.alert.urgent")
ALERT_AGAIN = N_("ref.alert.again")
ALERT_BUTTON = N_("ref.alert.button")
ALERT_REMINDER = N_("ref.alert.reminder")
ALERT_WORKED = N_("ref.alert.worked")  # danger again on a case a coordinator already has
ALERT_NOTICE = N_("ref.alert.notice")  # she asks for something (a call) on a case being worked
FLAGS = N_("ref.flags.list")
FLAGS_NONE = N_("ref.flags.none")
PLACE_UNKNOWN = N_("ref.place.unknown")
RISK = {
    "high": N_("ref.risk.high"),
    "medium": N_("ref.risk.medium"),
    "standard": N_("ref.risk.standard"),
    None: N_("ref.risk.unknown"),
}
DIGEST_HEADER = N_("ref.digest.header")
DIGEST_LINE = N_("ref.digest.line")
DIGEST_FOOTER = N_("ref.digest.footer")

ACCEPTED = N_("ref.accept.done")
TAKEN_BY_OTHER = N_("ref.accept.taken")
ALREADY_YOURS = N_("ref.accept.already_yours")
CASE_CLOSED = N_("ref.case.closed")
WHICH_CASE = N_("ref.accept.which")
NONE_WAITING = N_("ref.accept.none_waiting")
NEEDS_REFERENCE = N_("ref.case.needs_reference")
# Security: one answer for a reference unknown, not theirs, taken, or of the other world.
UNAVAILABLE = N_("ref.case.unavailable")
LOOKUP_LOCKED = N_("ref.case.lookup_locked")
INVALID = N_("ref.case.invalid")

SURVIVOR_ACCEPTED = N_("ref.survivor.accepted")
RELAY_TO_SURVIVOR = N_("ref.relay.to_survivor")
RELAY_SENT = N_("ref.relay.sent")
RELAY_FROM_SURVIVOR = N_("ref.relay.from_survivor")
RELAY_EMPTY = N_("ref.relay.empty")
RELAY_QUIET = N_("ref.relay.quiet")
RELAY_EXITED = N_("ref.relay.exited")
RELAY_ERASED = N_("ref.relay.erased")
RELAY_GONE = N_("ref.relay.gone")
RELAY_OPTED_OUT = N_("ref.relay.opted_out")
# Safe times: texting the person is not safe now (alerts, acceptance, relays kept for later).
RELAY_HELD = N_("ref.relay.held")
REACH_WINDOW = N_("ref.reach.window")
REACH_HOLD = N_("ref.reach.hold")
WINDOW_NAMES = {
    "morning": N_("ref.reach.morning"),
    "afternoon": N_("ref.reach.afternoon"),
    "evening": N_("ref.reach.evening"),
    "any": N_("ref.reach.any"),
}

NUMBER_TEL = N_("ref.number.tel")
NUMBER_NONE = N_("ref.number.none")
NOTE_ADDED = N_("ref.note.added")
NOTE_EMPTY = N_("ref.note.empty")
TYPE_SET = N_("ref.type.set")
TYPE_HELP = N_("ref.type.help")
REFER_DONE = N_("ref.refer.done")
REFER_NOT_ASKED = N_("ref.refer.not_asked")
REFER_DECLINED = N_("ref.refer.declined")
REFER_HELP = N_("ref.refer.help")
CLOSE_DONE = N_("ref.close.done")
CLOSE_HELP = N_("ref.close.help")
CASES_NONE = N_("ref.cases.none")
CASES_HEADER = N_("ref.cases.header")
CASES_LINE = N_("ref.cases.line")
HELP = N_("ref.help")

SERVICES_HEADER = N_("ref.services.header")
SERVICE_LINE = N_("ref.services.line")
SERVICE_LINE_HOURS = N_("ref.services.line_hours")
# A directory entry's hours (services.csv writes "24/7", "free", "Mon-Fri 08:00-16:00"), in the
# reader's language.
HOURS_ALWAYS = N_("ref.hours.always")
HOURS_FREE = N_("ref.hours.free")
HOURS_DAYS = N_("ref.hours.days")
DAY = {
    "mon": N_("ref.day.mon"),
    "tue": N_("ref.day.tue"),
    "wed": N_("ref.day.wed"),
    "thu": N_("ref.day.thu"),
    "fri": N_("ref.day.fri"),
    "sat": N_("ref.day.sat"),
    "sun": N_("ref.day.sun"),
}

# Literal ids throughout: `pybabel extract` reads N_("...") calls, not computed names.
STATUS = {
    "new": N_("ref.status.new"),
    "alerted": N_("ref.status.alerted"),
    "accepted": N_("ref.status.accepted"),
    "referred": N_("ref.status.referred"),
    "closed": N_("ref.status.closed"),
}
GBV = {
    "rape": N_("ref.gbv.rape"),
    "sexual_assault": N_("ref.gbv.sexual_assault"),
    "physical_assault": N_("ref.gbv.physical_assault"),
    "forced_marriage": N_("ref.gbv.forced_marriage"),
    "denial_of_resources": N_("ref.gbv.denial_of_resources"),
    "psychological_abuse": N_("ref.gbv.psychological_abuse"),
    "non_gbv": N_("ref.gbv.non_gbv"),
}
SERVICE = {
    "police": N_("ref.service.police"),
    "shelter": N_("ref.service.shelter"),
    "health": N_("ref.service.health"),
    "legal": N_("ref.service.legal"),
    "psychosocial": N_("ref.service.psychosocial"),
    "social": N_("ref.service.social"),
    "economic": N_("ref.service.economic"),
}
OUTCOME = {
    "resolved": N_("ref.outcome.resolved"),
    "referred": N_("ref.outcome.referred"),
    "no_contact": N_("ref.outcome.no_contact"),
    "declined": N_("ref.outcome.declined"),
    "duplicate": N_("ref.outcome.duplicate"),
    "other": N_("ref.outcome.other"),
}
# The red flags bot/flows/screening.yaml notes and the referral reasons that mean danger; a
# flag a flow adds later shows as its code until it gets a text here.
FLAG = {
    "danger_now": N_("ref.flag.danger_now"),
    "high_risk": N_("ref.flag.high_risk"),
    "weapon": N_("ref.flag.weapon"),
    "threats_to_kill": N_("ref.flag.threats_to_kill"),
    "strangled": N_("ref.flag.strangled"),
    "sexual_violence_recent": N_("ref.flag.sexual_violence_recent"),
    "order_breached_or_released": N_("ref.flag.order_breached_or_released"),
    "order_breached": N_("ref.flag.order_breached"),  # Follow-ups: a check-in's answer
    "pregnant_or_baby": N_("ref.flag.pregnant_or_baby"),
    "children_harmed": N_("ref.flag.children_harmed"),
    "escalating": N_("ref.flag.escalating"),
    "separation_or_stalking": N_("ref.flag.separation_or_stalking"),
    "suicidal_thoughts": N_("ref.flag.suicidal_thoughts"),
    "firearm_at_home": N_("ref.flag.firearm_at_home"),
    "children_in_home": N_("ref.flag.children_in_home"),
    "abuser_suicidal": N_("ref.flag.abuser_suicidal"),
    "child_protection": N_("ref.flag.child_protection"),  # the child path (flows/child.yaml)
    "callback_morning": N_("ref.flag.callback_morning"),  # SIGURIA: she asks for a call
    "callback_afternoon": N_("ref.flag.callback_afternoon"),
    "callback_evening": N_("ref.flag.callback_evening"),
    "distress_word": N_("ref.flag.distress_word"),  # Code words: "I'm not OK but can't say"
}
# Requests that are news for the coordinator who already has the case, though not urgent.
NOTICE_REASONS = frozenset({"callback_morning", "callback_afternoon", "callback_evening"})
# Reasons kept among the case's flags (alerts, digests, the case page), not only in one page.
CASE_REASONS = NOTICE_REASONS | {"child_protection"}

# Every id above, for the catalog test.
ALL: tuple[str, ...] = tuple(
    value
    for name, value in sorted(globals().items())
    if name.isupper() and isinstance(value, str) and value.startswith("ref.")
) + tuple(
    v
    for table in (RISK, STATUS, GBV, SERVICE, OUTCOME, FLAG, DAY, WINDOW_NAMES)
    for v in table.values()
)


class Texts:
    """Translates referral texts; a missing translation falls back to something readable."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    def __call__(self, language: str | None, msgid: str, **params: Any) -> str:
        """The text of `msgid` in `language` (Albanian when unknown)."""
        return self.translator.text(language or "sq", msgid, params or None)

    def flag(self, language: str | None, flag: str) -> str:
        """A red flag's words; its code (underscores as spaces) when the catalog has none."""
        msgid = FLAG.get(flag)
        if msgid is None:
            return flag.replace("_", " ")
        text = self(language, msgid)
        return flag.replace("_", " ") if text == msgid else text

    def flags(self, language: str | None, flags: Iterable[str]) -> str:
        """The red-flags sentence of an alert."""
        words = [self.flag(language, f) for f in dict.fromkeys(flags)]
        if not words:
            return self(language, FLAGS_NONE)
        return self(language, FLAGS, flags=", ".join(words))
