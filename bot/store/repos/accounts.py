"""Admin accounts: who signs in to /admin, with which role, municipality and language."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.models import ADMIN_LANGUAGES, ADMIN_ROLES, AdminUserRow
from bot.store.records import AdminUser
from bot.store.repos.base import Repo

users = AdminUserRow.__table__


class DuplicateUser(ValueError):
    """That user name is taken."""


def user_record(row: Any) -> AdminUser:
    """An admin_users row (or a select of its columns) as an AdminUser."""
    return AdminUser(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        role=row.role,
        municipality=row.municipality,
        language=row.language,
        active=row.active,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


class AccountRepo(Repo):
    """The admin_users table."""

    async def add_user(
        self,
        *,
        username: str,
        password_hash: str,
        role: str,
        municipality: str | None,
        language: str,
        now: datetime,
    ) -> AdminUser:
        """Add a user; DuplicateUser when the name is taken, ValueError for a bad role."""
        if role not in ADMIN_ROLES:
            raise ValueError(f"role must be one of {', '.join(ADMIN_ROLES)}")
        if language not in ADMIN_LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(ADMIN_LANGUAGES)}")
        if role == "coordinator" and not municipality:
            raise ValueError("a coordinator needs a municipality")
        stmt = (
            self.insert(users)
            .values(
                username=username,
                password_hash=password_hash,
                role=role,
                municipality=municipality if role == "coordinator" else None,
                language=language,
                active=True,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["username"])
            .returning(users.c.id)
        )
        user_id = (await self.conn.execute(stmt)).scalar_one_or_none()
        if user_id is None:
            raise DuplicateUser(f"the user name {username!r} is taken")
        found = await self.user(user_id)
        assert found is not None
        return found

    async def user(self, user_id: int) -> AdminUser | None:
        """A user by id."""
        row = (await self.conn.execute(sa.select(users).where(users.c.id == user_id))).first()
        return user_record(row) if row else None

    async def user_by_name(self, username: str) -> AdminUser | None:
        """A user by name (exact)."""
        row = (
            await self.conn.execute(sa.select(users).where(users.c.username == username))
        ).first()
        return user_record(row) if row else None

    async def list_users(self) -> list[AdminUser]:
        """Every user, by name."""
        rows = await self.conn.execute(sa.select(users).order_by("username"))
        return [user_record(r) for r in rows]

    async def update_user(self, user_id: int, **values: Any) -> None:
        """Change a user's password hash, language, active flag or last sign-in."""
        allowed = {"password_hash", "language", "active", "last_login_at"}
        if set(values) - allowed:
            raise ValueError(f"cannot update {', '.join(sorted(set(values) - allowed))}")
        if "language" in values and values["language"] not in ADMIN_LANGUAGES:
            raise ValueError("unknown language")
        await self.conn.execute(sa.update(users).where(users.c.id == user_id).values(**values))
