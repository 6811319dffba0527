"""Admins' texts laid over the shipped translations, per locale and message id."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.store.models import TranslationOverrideRow
from bot.store.repos.base import Repo

overrides = TranslationOverrideRow.__table__


class TranslationRepo(Repo):
    """The translation_overrides table."""

    async def overrides(self) -> dict[tuple[str, str], str]:
        """(locale, msgid) -> the admins' text."""
        rows = await self.conn.execute(sa.select(overrides))
        return {(r.locale, r.msgid): r.text for r in rows}

    async def set_override(
        self, locale: str, msgid: str, text: str | None, user_id: int | None, now: datetime
    ) -> None:
        """Save an admin's text; None or empty goes back to the shipped one."""
        await self.conn.execute(
            sa.delete(overrides).where(overrides.c.locale == locale, overrides.c.msgid == msgid)
        )
        if text:
            await self.conn.execute(
                sa.insert(overrides).values(
                    locale=locale, msgid=msgid, text=text, updated_at=now, updated_by=user_id
                )
            )
