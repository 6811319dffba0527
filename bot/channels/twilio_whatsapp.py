"""WhatsApp through Twilio: the SMS channel's signed webhooks and REST session with WhatsApp's
addresses (whatsapp:+355…), its 24-hour window (approved templates outside it), quick replies
and read receipts."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from bot import safe_times
from bot.channels.base import Recall
from bot.channels.sms_encoding import normalize
from bot.channels.twilio_sms import (
    DELETE_DELAY,
    ERR_AUTHENTICATION,
    SEND_TIMEOUT,
    OnOptOut,
    OnStatus,
    Receive,
    TwilioSmsChannel,
    _utcnow,
    error_result,
)
from bot.config import Settings
from bot.messages import Outbound, SendResult

log = logging.getLogger(__name__)

NAME = "whatsapp"
SCHEME = "whatsapp"
PREFIX = "whatsapp:"  # Twilio's address of a WhatsApp user or sender: whatsapp:+355…

# https://www.twilio.com/docs/errors/63016 — a free-form message outside the 24-hour window
# (reported by the status callback, after the REST call was accepted). Kept until she writes.
ERR_OUTSIDE_WINDOW = 63016
# https://www.twilio.com/docs/errors/63003 — the number is not on WhatsApp.
ERR_NOT_ON_WHATSAPP = 63003
# https://www.twilio.com/docs/errors/63024 — invalid message recipient.
ERR_INVALID_RECIPIENT = 63024
# https://www.twilio.com/docs/errors/63018 — the WhatsApp sender's rate limit.
ERR_RATE_LIMIT = 63018
UNREACHABLE_CODES = frozenset({ERR_NOT_ON_WHATSAPP, ERR_INVALID_RECIPIENT})
RETRY_CODES = frozenset({ERR_RATE_LIMIT, ERR_AUTHENTICATION})
OUTSIDE_WINDOW = "outside_24h"  # why a message waits (the outbox's last_error)

# Inbound fields Twilio adds for WhatsApp
# (https://www.twilio.com/docs/messaging/guides/webhook-request): the id of a pressed quick
# reply, and a location shared from WhatsApp.
BUTTON_PAYLOAD = "ButtonPayload"

LastInbound = Callable[[str], Awaitable[datetime | None]]


def N_(msgid: str) -> str:
    """Mark a message id for `pybabel extract` without translating it here."""
    return msgid


# TRANSLATORS: a WhatsApp template (submitted to WhatsApp for approval): a message for her waits
# until she writes. The first line shows on a locked screen: nothing about the helpline.
WAITING_TEXT = N_("wa.tpl.waiting")
# TRANSLATORS: a WhatsApp template: an urgent page to a coordinator; {ref} is the case reference.
ALERT_TEXT = N_("wa.tpl.alert")


@dataclass(frozen=True, slots=True)
class Template:
    """A WhatsApp template the helpline uses: what it stands for, its text (a catalog id, in sq
    and en: what the admin submits for approval), its variables and its quick replies."""

    name: str
    msgid: str
    used_for: str  # for the admin page
    variables: tuple[str, ...] = ()  # {{1}}, {{2}}… in order
    options: tuple[tuple[str, str], ...] = ()  # quick replies: (id, label msgid)


# Every template is neutral in its first line (a locked screen shows it; tests/test_lock_screen).
TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            safe_times.TPL_CHECKIN,
            "fu.hello",
            "check-ins the helpline starts (protection orders, integration plans)",
            options=(
                ("yes", "fu.hello.yes"),
                ("later", "fu.hello.later"),
                ("stop", "fu.hello.stop"),
            ),
        ),
        Template(
            safe_times.TPL_WAITING,
            WAITING_TEXT,
            "a coordinator's message or other news for her: the message itself waits until "
            "she writes",
        ),
        Template(
            safe_times.TPL_COORDINATOR_ALERT,
            ALERT_TEXT,
            "an urgent page to a coordinator who has not written on WhatsApp for 24 hours",
            variables=("ref",),
        ),
    )
}


def template_text(template: Template, text: Callable[[str], str], *, numbered: bool = True) -> str:
    """A template's text in one language as it is submitted: {{1}}… for variables, and its
    quick replies as numbered lines (typing the number works too)."""
    body = text(template.msgid)
    for i, name in enumerate(template.variables, start=1):
        body = body.replace("{" + name + "}", f"{{{{{i}}}}}")
    if numbered and template.options:
        body += "\n" + "\n".join(
            f"{i}. {text(label)}" for i, (_, label) in enumerate(template.options, start=1)
        )
    return body


def whatsapp_error(
    code: int | None, http_status: int | None, retry_after: float | None = None
) -> SendResult:
    """What a Twilio error means for a WhatsApp message."""
    error = str(code if code is not None else http_status)
    if code == ERR_OUTSIDE_WINDOW:
        return SendResult(ok=False, retry=False, error=error, hold=True)
    if code in UNREACHABLE_CODES:
        return SendResult(ok=False, retry=False, error=error, contact_state="unreachable")
    if code in RETRY_CODES:
        return SendResult(ok=False, retry=True, retry_after=retry_after, error=error)
    return error_result(code, http_status, retry_after)


async def _never_heard(urn: str) -> datetime | None:
    return None


class Nudges(Protocol):
    """Who was sent "a message waits for you" when: one a day, whatever worker sends it
    (the pipeline keeps it in the database: Pipeline.claim_nudge)."""

    async def claim_nudge(self, urn: str, now: datetime) -> bool:
        """True when none went in the last 24 hours; records `now`."""
        ...

    async def release_nudge(self, urn: str, now: datetime) -> None:
        """The one claimed at `now` was not sent after all."""
        ...


class LocalNudges:
    """One process's count, for a channel without a database (its own tests)."""

    def __init__(self) -> None:
        self._at: dict[str, datetime] = {}

    async def claim_nudge(self, urn: str, now: datetime) -> bool:
        """True when none went in the last 24 hours; records `now`."""
        last = self._at.get(urn)
        if last is not None and safe_times.window_open(last, now):
            return False
        self._at[urn] = now
        return True

    async def release_nudge(self, urn: str, now: datetime) -> None:
        """The one claimed at `now` was not sent after all."""
        if self._at.get(urn) == now:
            del self._at[urn]


# FSHI: Twilio deletes its copies as for SMS; the chat stays in WhatsApp on her phone until she
# deletes it, and she is told so under "Deleted.".
RECALL = Recall(
    ids="provider", meta_key="message_sids", delay=DELETE_DELAY, note=N_("erase.whatsapp")
)


class TwilioWhatsAppChannel(TwilioSmsChannel):
    """WhatsApp through Twilio: free-form inside her 24 hours, approved templates outside."""

    name = NAME
    recall = RECALL  # what it can take back at FSHI
    scheme = SCHEME
    address_prefix = PREFIX
    opt_out_words = False  # Twilio's STOP handling is for SMS; on WhatsApp she blocks the chat

    def __init__(
        self,
        settings: Settings,
        *,
        receive: Receive,
        on_status: OnStatus,
        on_opt_out: OnOptOut,
        last_inbound: LastInbound = _never_heard,
        nudges: Nudges | None = None,
        clock: Callable[[], datetime] = _utcnow,
        timeout: float = SEND_TIMEOUT,
    ) -> None:
        super().__init__(
            settings,
            receive=receive,
            on_status=on_status,
            on_opt_out=on_opt_out,
            clock=clock,
            timeout=timeout,
        )
        self.last_inbound = last_inbound
        # "A message waits for you": one a day, however many messages wait and whichever
        # worker sends it (the app passes the pipeline, which keeps it in the database).
        self.nudges: Nudges = nudges if nudges is not None else LocalNudges()

    def _button(self, form: Mapping[str, str]) -> str | None:
        """The id of a pressed quick reply (a template's), which a flow reads as its option."""
        return form.get(BUTTON_PAYLOAD) or None

    def error(
        self, code: int | None, http_status: int | None, retry_after: float | None = None
    ) -> SendResult:
        """WhatsApp's own codes first (63016: outside the window), then Twilio's general ones."""
        return whatsapp_error(code, http_status, retry_after)

    def sender(self) -> dict[str, str]:
        """The WhatsApp sender, or the Messaging Service holding it."""
        if self.settings.twilio_whatsapp_from:
            return {"From": self.settings.twilio_whatsapp_from}
        return {"MessagingServiceSid": self.settings.twilio_whatsapp_messaging_service_sid or ""}

    def body_for(self, text: str) -> str:
        """WhatsApp carries Unicode at no extra cost: never folded, only NFC."""
        return normalize(text)

    def segments(self, sent: Mapping[str, str]) -> int:
        """WhatsApp is priced per conversation, not per part: one."""
        return 1

    async def content(self, msg: Outbound) -> dict[str, str] | SendResult:
        """The text (numbered options: buttons need a template of their own), or the template
        chosen by `send`."""
        chosen = msg.meta.get("_content")
        if isinstance(chosen, dict):
            return {str(k): str(v) for k, v in chosen.items()}
        return {"Body": self.body_for(msg.text)}

    async def _heard(self, msg: Outbound) -> datetime | None:
        """When she last wrote: her contact's record, or what a direct answer carries."""
        found = [await self.last_inbound(msg.urn)]
        carried = msg.meta.get("heard_at")
        if isinstance(carried, str):
            try:
                found.append(datetime.fromisoformat(carried))
            except ValueError:
                pass
        times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in found if t is not None]
        return max(times, default=None)

    async def send(self, msg: Outbound) -> SendResult:
        """Free-form inside her 24 hours; outside, the message's approved template, or it waits
        until she writes (a coordinator's message fails, so the alert goes another way)."""
        if msg.kind == "delete" or not msg.urn.startswith(PREFIX):
            return await super().send(msg)
        now = self.clock()
        wanted = msg.meta.get("template")
        template = wanted if isinstance(wanted, dict) else {}
        sid = self.settings.template_sid(
            str(template.get("name", "")), str(template.get("lang", "sq"))
        )
        how = safe_times.within_window(await self._heard(msg), now, sid is not None)
        if how == safe_times.FREE:
            return await super().send(msg)
        if how == safe_times.WAIT or sid is None:
            log.info("whatsapp outbox=%s: outside the 24 hours, no template", msg.outbox_id)
            return SendResult(ok=False, retry=False, error=OUTSIDE_WINDOW, hold=True)
        variables = template.get("vars") or {}
        content = {"ContentSid": sid}
        if variables:
            content["ContentVariables"] = json.dumps(variables, ensure_ascii=False)
        if not template.get("nudge"):  # the template says it all (a check-in's question)
            return await super().send(replace(msg, meta={**msg.meta, "_content": content}))
        # A nudge: "a message waits for you"; the message itself goes once she writes.
        nudge = None
        if await self.nudges.claim_nudge(msg.urn, now):
            sent = await super().send(replace(msg, meta={**msg.meta, "_content": content}))
            if not sent.ok:
                await self.nudges.release_nudge(msg.urn, now)
                return sent
            nudge = sent.external_id
        return SendResult(ok=False, retry=False, error=OUTSIDE_WINDOW, hold=True, also_sent=nudge)
