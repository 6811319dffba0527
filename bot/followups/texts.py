"""Message ids of what coordinators read about follow-ups (texts in the catalogs)."""

from __future__ import annotations

from bot.referral.texts import N_

TALK = N_("fu.coord.talk")
SILENT = N_("fu.coord.silent")
MILESTONE = N_("fu.coord.milestone")
STOPPED = N_("fu.coord.stopped")
ORDER_SET = N_("fu.coord.order_set")
ORDER_DEFAULT = N_("fu.coord.order_default")
ORDER_HELP = N_("fu.coord.order_help")
MILESTONE_SET = N_("fu.coord.ms_set")
MILESTONE_HELP = N_("fu.coord.ms_help")
NO_CONTACT = N_("fu.coord.no_contact")
WINDOWS_NONE = N_("fu.coord.windows_none")
NO_CODE = N_("fu.coord.no_code")  # a check-in answered without her code word

# Literal ids throughout: `pybabel extract` reads N_("...") calls, not computed names.
WINDOW = {
    "morning": N_("fu.window.morning"),
    "afternoon": N_("fu.window.afternoon"),
    "evening": N_("fu.window.evening"),
    "any": N_("fu.window.any"),
    "night": N_("fu.window.night"),
}
MILESTONE_KIND = {
    "housing": N_("fu.ms.kind.housing"),
    "job": N_("fu.ms.kind.job"),
    "training": N_("fu.ms.kind.training"),
    "income": N_("fu.ms.kind.income"),
}
ANSWER = {
    "done": N_("fu.answer.done"),
    "progress": N_("fu.answer.progress"),
    "problem": N_("fu.answer.problem"),
    "talk": N_("fu.answer.talk"),
}
ORDER = {
    "umm": N_("fu.order.umm"),
    "upmm": N_("fu.order.upmm"),
    "um": N_("fu.order.um"),
    "xk_temporary": N_("fu.order.xk_temporary"),
    "xk_emergency": N_("fu.order.xk_emergency"),
    "xk_protection": N_("fu.order.xk_protection"),
}
