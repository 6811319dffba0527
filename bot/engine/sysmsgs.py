"""Message ids the engine itself sends; their texts live in the catalogs like any flow text."""

from __future__ import annotations


def N_(msgid: str) -> str:
    """Mark a message id for `pybabel extract` without translating it here."""
    return msgid


YES = N_("sys.yes")
NO = N_("sys.no")
NOT_UNDERSTOOD = N_("sys.not_understood")
NOT_UNDERSTOOD_AGAIN = N_("sys.not_understood_again")
REACH_PERSON = N_("sys.reach_person")
EMPTY = N_("sys.empty")
TOO_LONG = N_("sys.too_long")
ERROR = N_("sys.error")
RESUME = N_("sys.resume")
BAD_DATE = N_("sys.bad_date")
BAD_NUMBER = N_("sys.bad_number")
BAD_MUNICIPALITY = N_("sys.bad_municipality")
ASK_TEXT = N_("sys.ask_text")
MEDIA = N_("sys.media")
UNSURE = N_("sys.unsure")
SWITCH = N_("sys.switch")  # said in the language she writes in, not the conversation's

ALL = (
    YES,
    NO,
    NOT_UNDERSTOOD,
    NOT_UNDERSTOOD_AGAIN,
    REACH_PERSON,
    EMPTY,
    TOO_LONG,
    ERROR,
    RESUME,
    BAD_DATE,
    BAD_NUMBER,
    BAD_MUNICIPALITY,
    ASK_TEXT,
    MEDIA,
    UNSURE,
    SWITCH,
)
