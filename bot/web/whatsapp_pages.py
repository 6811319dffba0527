"""WhatsApp as the admin sees it (read-only): the sender, and each approved template the helpline
may send outside her 24 hours, with its ContentSid and the exact text to submit in sq and en."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.channels.twilio_whatsapp import TEMPLATES, template_text
from bot.web.kit import deps, render, require_admin


@dataclass(frozen=True)
class TemplateRow:
    """One template in one language, as the page lists it."""

    name: str
    used_for: str
    language: str
    content_sid: str | None
    text: str
    quick_replies: tuple[tuple[str, str], ...]  # (id, label)


async def whatsapp_page(request: web.Request) -> web.Response:
    """GET /admin/whatsapp: the configuration (it is changed in the environment, not here)."""
    require_admin(request)
    d = deps(request)
    settings = d.settings
    rows = []
    for template in TEMPLATES.values():
        for language in ("sq", "en"):

            def text(msgid: str, language: str = language) -> str:
                return d.catalogs.text(language, msgid)

            rows.append(
                TemplateRow(
                    name=template.name,
                    used_for=template.used_for,
                    language=language,
                    content_sid=settings.template_sid(template.name, language),
                    text=template_text(template, text),
                    quick_replies=tuple((value, text(label)) for value, label in template.options),
                )
            )
    return render(
        request,
        "whatsapp.html",
        enabled=settings.whatsapp_enabled,
        sender=settings.twilio_whatsapp_from,
        service=settings.twilio_whatsapp_messaging_service_sid,
        rows=rows,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/whatsapp", whatsapp_page)
