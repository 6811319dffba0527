"""Admin web storage: users, sign-in sessions, login attempts, overrides, flow publications."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.models import (
    ADMIN_LANGUAGES,
    ADMIN_ROLES,
    AdminSessionRow,
    AdminUserRow,
    AlertRow,
    CaseAssignmentRow,
    CaseRow,
    CheckinRow,
    CoordinatorRow,
    FlowPublicationRow,
    FollowupPlanRow,
    LoginAttemptRow,
    TranslationOverrideRow,
)
from bot.store.records import Case
from bot.store.repos.base import Repo
from bot.store.repos.cases import CaseRepo

users = AdminUserRow.__table__
sessions = AdminSessionRow.__table__
attempts = LoginAttemptRow.__table__
overrides = TranslationOverrideRow.__table__
publications = FlowPublicationRow.__table__
cases = CaseRow.__table__
assignments = CaseAssignmentRow.__table__
alerts = AlertRow.__table__
checkins = CheckinRow.__table__
plans = FollowupPlanRow.__table__
coordinators = CoordinatorRow.__table__


class DuplicateUser(ValueError):
    """That user name is taken."""


@dataclass(frozen=True, slots=True)
class AdminUser:
    """Someone who signs in to /admin."""

    id: int
    username: str
    password_hash: str
    role: str  # admin | coordinator
    municipality: str | None
    language: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None

    @property
    def is_admin(self) -> bool:
        """Admins see everything; coordinators only their municipality's cases."""
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Publication:
    """A flow version made current, by whom (None: the files at start-up)."""

    id: int
    name: str
    version: str
    published_at: datetime
    published_by: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """One case as figures only (no person, no words), for statistics."""

    id: int
    municipality: str | None
    created_at: datetime
    urgency: str
    risk_level: str | None
    category: str | None
    status: str
    accepted_at: datetime | None
    escalations: int  # pages sent after the first step


def _user(row: Any) -> AdminUser:
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


class AdminRepo(Repo):
    """The admin tables, and the case queries the admin pages need."""

    # -- users -----------------------------------------------------------------------------------

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
        return _user(row) if row else None

    async def user_by_name(self, username: str) -> AdminUser | None:
        """A user by name (exact)."""
        row = (
            await self.conn.execute(sa.select(users).where(users.c.username == username))
        ).first()
        return _user(row) if row else None

    async def list_users(self) -> list[AdminUser]:
        """Every user, by name."""
        return [_user(r) for r in await self.conn.execute(sa.select(users).order_by("username"))]

    async def update_user(self, user_id: int, **values: Any) -> None:
        """Change a user's password hash, language, active flag or last sign-in."""
        allowed = {"password_hash", "language", "active", "last_login_at"}
        if set(values) - allowed:
            raise ValueError(f"cannot update {', '.join(sorted(set(values) - allowed))}")
        if "language" in values and values["language"] not in ADMIN_LANGUAGES:
            raise ValueError("unknown language")
        await self.conn.execute(sa.update(users).where(users.c.id == user_id).values(**values))

    # -- sign-in sessions ------------------------------------------------------------------------

    async def add_session(
        self, token_hash: str, user_id: int, now: datetime, expires_at: datetime
    ) -> None:
        """Remember a signed-in browser by a hash of its token."""
        await self.conn.execute(
            sa.insert(sessions).values(
                token_hash=token_hash,
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )

    async def session_user(
        self, token_hash: str, now: datetime, started_after: datetime | None = None
    ) -> AdminUser | None:
        """The active user of an unexpired session (begun after `started_after`, if given)."""
        row = (
            await self.conn.execute(
                sa.select(users)
                .join(sessions, sessions.c.user_id == users.c.id)
                .where(
                    sessions.c.token_hash == token_hash,
                    sessions.c.expires_at > now,
                    sessions.c.created_at > (started_after or datetime.min),
                    users.c.active.is_(True),
                )
            )
        ).first()
        return _user(row) if row else None

    async def touch_session(self, token_hash: str, now: datetime, expires_at: datetime) -> None:
        """Slide an active session's expiry forward."""
        await self.conn.execute(
            sa.update(sessions)
            .where(sessions.c.token_hash == token_hash)
            .values(last_seen_at=now, expires_at=expires_at)
        )

    async def end_session(self, token_hash: str) -> None:
        """Sign a browser out."""
        await self.conn.execute(sa.delete(sessions).where(sessions.c.token_hash == token_hash))

    async def end_sessions_of(self, user_id: int) -> None:
        """Sign a user out everywhere (password changed, user disabled)."""
        await self.conn.execute(sa.delete(sessions).where(sessions.c.user_id == user_id))

    async def purge_sessions(self, now: datetime) -> int:
        """Forget expired sessions; how many."""
        result = await self.conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now))
        return int(result.rowcount or 0)

    # -- login attempts --------------------------------------------------------------------------

    async def add_failure(self, key_hashes: Iterable[str], now: datetime) -> None:
        """Count a failed sign-in against each key (user name, client address)."""
        rows = [{"key_hash": k, "at": now} for k in key_hashes]
        if rows:
            await self.conn.execute(sa.insert(attempts), rows)

    async def failures_since(self, key_hash: str, since: datetime) -> int:
        """Failed sign-ins for a key since a time."""
        return (
            await self.conn.execute(
                sa.select(sa.func.count())
                .select_from(attempts)
                .where(attempts.c.key_hash == key_hash, attempts.c.at > since)
            )
        ).scalar_one()

    async def clear_failures(self, key_hash: str) -> None:
        """A good sign-in forgets the user name's failures."""
        await self.conn.execute(sa.delete(attempts).where(attempts.c.key_hash == key_hash))

    async def purge_failures(self, before: datetime) -> None:
        """Forget failures older than the limit's window."""
        await self.conn.execute(sa.delete(attempts).where(attempts.c.at <= before))

    # -- translation overrides -------------------------------------------------------------------

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

    # -- flow publications -----------------------------------------------------------------------

    async def publish(
        self, name: str, version: str, now: datetime, user_id: int | None, note: str | None = None
    ) -> int:
        """Make a stored flow version the current one."""
        stmt = (
            sa.insert(publications)
            .values(name=name, version=version, published_at=now, published_by=user_id, note=note)
            .returning(publications.c.id)
        )
        return (await self.conn.execute(stmt)).scalar_one()

    async def publications(self, name: str | None = None) -> list[Publication]:
        """Publications, newest first, of one flow or all."""
        stmt = sa.select(publications).order_by(
            publications.c.published_at.desc(), publications.c.id.desc()
        )
        if name is not None:
            stmt = stmt.where(publications.c.name == name)
        return [
            Publication(
                id=r.id,
                name=r.name,
                version=r.version,
                published_at=r.published_at,
                published_by=r.published_by,
                note=r.note,
            )
            for r in await self.conn.execute(stmt)
        ]

    async def current_publications(self) -> dict[str, Publication]:
        """The newest publication of each flow."""
        current: dict[str, Publication] = {}
        for pub in await self.publications():
            current.setdefault(pub.name, pub)
        return current

    async def last_publication_id(self) -> int:
        """The id of the newest publication (0 when none): workers compare it to reload."""
        found = (await self.conn.execute(sa.select(sa.func.max(publications.c.id)))).scalar()
        return int(found or 0)

    # -- cases -----------------------------------------------------------------------------------

    async def find_cases(
        self,
        *,
        municipality: str | None = None,
        status: str | None = None,
        urgency: str | None = None,
        risk_level: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        reference: str | None = None,
        limit: int = 200,
    ) -> list[Case]:
        """Cases, newest first, matching every filter given (municipality enforces a scope)."""
        stmt = (
            sa.select(cases)
            .where(cases.c.simulated.is_(False))  # the simulator's cases are nobody's work
            .order_by(cases.c.created_at.desc(), cases.c.id.desc())
            .limit(limit)
        )
        if municipality is not None:
            stmt = stmt.where(cases.c.municipality == municipality)
        if status:
            stmt = stmt.where(cases.c.status == status)
        if urgency:
            stmt = stmt.where(cases.c.urgency == urgency)
        if risk_level:
            stmt = stmt.where(cases.c.risk_level == risk_level)
        if since is not None:
            stmt = stmt.where(cases.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(cases.c.created_at < until)
        if reference:
            stmt = stmt.where(cases.c.reference.like(f"%{reference.strip().upper()}%"))
        mapper = CaseRepo(self.conn, self.crypto, self.dialect)
        return [mapper._record(r) for r in await self.conn.execute(stmt)]

    async def case_in_scope(self, case_id: int, municipality: str | None) -> Case | None:
        """A case by id, only if it lies in the municipality (None: any)."""
        stmt = sa.select(cases).where(cases.c.id == case_id, cases.c.simulated.is_(False))
        if municipality is not None:
            stmt = stmt.where(cases.c.municipality == municipality)
        row = (await self.conn.execute(stmt)).first()
        return CaseRepo(self.conn, self.crypto, self.dialect)._record(row) if row else None

    async def references(self, case_ids: Iterable[int]) -> dict[int, str]:
        """Case id -> reference, for the ids given (the audit log names cases by reference)."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        rows = await self.conn.execute(
            sa.select(cases.c.id, cases.c.reference).where(cases.c.id.in_(ids))
        )
        return {r.id: r.reference for r in rows}

    async def alert_totals(self) -> tuple[dict[str, int], int]:
        """Alerts sent to real (not demo) coordinators by kind, and escalation pages (a page
        beyond a case's first step), for /metrics: the database counts for every worker."""
        real = sa.select(coordinators.c.id).where(coordinators.c.demo.is_(False))
        sent = await self.conn.execute(
            sa.select(alerts.c.kind, sa.func.count())
            .where(alerts.c.sent_at.is_not(None), alerts.c.coordinator_id.in_(real))
            .group_by(alerts.c.kind)
        )
        by_kind = {str(kind): int(n) for kind, n in sent}
        escalated = await self.conn.execute(
            sa.select(sa.func.count()).where(
                alerts.c.kind == "page", alerts.c.step > 1, alerts.c.coordinator_id.in_(real)
            )
        )
        return by_kind, int(escalated.scalar_one())

    async def case_figures(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[CaseFigures]:
        """Every case as figures, with when it was accepted and how often it escalated."""
        escalations = (
            sa.select(alerts.c.case_id, sa.func.count().label("n"))
            # A case's first pages are step 1 (bot/referral/routing.py); later steps escalated.
            .where(alerts.c.kind == "page", alerts.c.step > 1)
            .group_by(alerts.c.case_id)
            .subquery()
        )
        stmt = (
            sa.select(
                cases.c.id,
                cases.c.municipality,
                cases.c.created_at,
                cases.c.urgency,
                cases.c.risk_level,
                cases.c.category,
                cases.c.status,
                assignments.c.accepted_at,
                sa.func.coalesce(escalations.c.n, 0).label("escalations"),
            )
            .outerjoin(assignments, assignments.c.case_id == cases.c.id)
            .outerjoin(escalations, escalations.c.case_id == cases.c.id)
            .where(cases.c.simulated.is_(False))  # figures of real cases only
            .order_by(cases.c.created_at)
        )
        if since is not None:
            stmt = stmt.where(cases.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(cases.c.created_at < until)
        return [
            CaseFigures(
                id=r.id,
                municipality=r.municipality,
                created_at=r.created_at,
                urgency=r.urgency,
                risk_level=r.risk_level,
                category=r.category,
                status=r.status,
                accepted_at=_aware(r.accepted_at),
                escalations=int(r.escalations),
            )
            for r in await self.conn.execute(stmt)
        ]

    async def followup_outcomes(self) -> dict[str, int]:
        """How check-ins ended (respected, breached, no_answer, ...), counted."""
        rows = await self.conn.execute(
            sa.select(checkins.c.outcome, sa.func.count())
            .join(plans, plans.c.id == checkins.c.plan_id)
            .outerjoin(cases, cases.c.id == plans.c.case_id)
            .where(
                checkins.c.outcome.is_not(None),
                checkins.c.purpose == "checkin",
                sa.func.coalesce(cases.c.simulated, sa.false()).is_(False),
            )
            .group_by(checkins.c.outcome)
        )
        return {str(outcome): int(n) for outcome, n in rows}


def _aware(value: datetime | None) -> datetime | None:
    # A plain column read through a join keeps its type decorator; guard SQLite's naive text.
    from datetime import UTC

    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
