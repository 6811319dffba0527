"""/admin/rota: coordinators, their duty shifts, and a week view of who is on duty where."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.referral import rota
from bot.referral.cli import normalise_phone
from bot.store.models import COORDINATOR_LANGUAGES, COORDINATOR_ROLES
from bot.store.records import DutyShift
from bot.store.repos.coordinators import DuplicateContact
from bot.web.kit import PREFIX, audit, deps, gettext, redirect, render, require_admin

DAY_KEYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def duty_ranges(shifts: list[DutyShift], day: date, tz: ZoneInfo) -> list[str]:
    """The local hours of one day someone is on duty, merged: ["08:00–16:00"] (by the hour)."""
    on = [
        rota.is_on_duty(shifts, datetime(day.year, day.month, day.day, h, 30, tzinfo=tz))
        for h in range(24)
    ]
    out, start = [], None
    for hour, duty in enumerate([*on, False]):
        if duty and start is None:
            start = hour
        elif not duty and start is not None:
            out.append(
                f"{start:02d}:00–{hour % 24:02d}:00" if hour < 24 else f"{start:02d}:00–24:00"
            )
            start = None
    return out


async def page(request: web.Request, *, error: str = "") -> web.Response:
    """GET /admin/rota: the week view and the coordinators with their shifts."""
    require_admin(request)
    d = deps(request)
    try:
        asked = date.fromisoformat(request.query.get("week", ""))
    except ValueError:
        asked = d.clock().astimezone(ZoneInfo(rota.DEFAULT_TZ)).date()
    monday = asked - timedelta(days=asked.weekday())
    async with d.db.uow() as uow:
        people = await uow.coordinators.list_all()
        shifts = await uow.coordinators.shifts([c.id for c in people])
        places = {m.slug: m for m in await uow.municipalities.list_all()}
    by_person: dict[int, list[DutyShift]] = {}
    for s in shifts:
        by_person.setdefault(s.coordinator_id, []).append(s)
    days = [monday + timedelta(days=i) for i in range(7)]
    grid = []
    for person in sorted(people, key=lambda c: (c.municipality, c.name)):
        tz = ZoneInfo(
            places[person.municipality].tz if person.municipality in places else rota.DEFAULT_TZ
        )
        mine = by_person.get(person.id, [])
        grid.append(
            {
                "person": person,
                "place": places[person.municipality].name
                if person.municipality in places
                else person.municipality,
                "days": [duty_ranges(mine, day, tz) for day in days],
                "shifts": mine,
            }
        )
    return render(
        request,
        "rota.html",
        status=422 if error else 200,
        grid=grid,
        days=days,
        day_keys=DAY_KEYS,
        monday=monday,
        prev=(monday - timedelta(days=7)).isoformat(),
        next=(monday + timedelta(days=7)).isoformat(),
        places=sorted(places.values(), key=lambda m: (m.country, m.name)),
        roles=COORDINATOR_ROLES,
        languages=COORDINATOR_LANGUAGES,
        describe=describe,
        error=error,
    )


def describe(shift: DutyShift) -> str:
    """A shift in a few words."""
    if shift.kind == "always":
        return "24/7"
    if shift.kind == "window":
        tz = ZoneInfo(shift.tz)
        assert shift.starts_at and shift.ends_at  # a window is stored with both (add_shift)
        start, end = shift.starts_at.astimezone(tz), shift.ends_at.astimezone(tz)
        return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M}"
    days = ",".join(DAY_KEYS[d] for d in shift.days)
    return f"{days} {shift.start_time}–{shift.end_time}"


async def add_coordinator(request: web.Request) -> web.StreamResponse:
    """POST /admin/rota/coordinators: a new coordinator (phone or Telegram needed)."""
    require_admin(request)
    d = deps(request)
    _ = gettext(request)
    form = await request.post()
    name = str(form.get("name", "")).strip()[:120]
    municipality = str(form.get("municipality", ""))
    phone_text = str(form.get("phone", "")).strip()
    telegram = str(form.get("telegram", "")).strip() or None
    try:
        if not name:
            raise ValueError(_("A name is needed."))
        phone = normalise_phone(phone_text) if phone_text else None
        if form.get("whatsapp") == "on" and not phone:
            raise ValueError(_("WhatsApp alerts need the phone number."))
        async with d.db.uow() as uow:
            places = {m.slug for m in await uow.municipalities.list_all()} | {"national"}
            if municipality not in places:
                raise ValueError(_("Unknown municipality."))
            added = await uow.coordinators.add(
                name=name,
                municipality=municipality,
                phone=phone,
                telegram_chat_id=telegram,
                language=str(form.get("language", "sq")),
                role=str(form.get("role", "coordinator")),
                now=d.clock(),
                whatsapp=form.get("whatsapp") == "on",
            )
            await uow.commit()
    except (ValueError, DuplicateContact) as exc:
        return await page(request, error=str(exc))
    await audit(request, "coordinator_added", coordinator=added.id)
    raise redirect(f"{PREFIX}/rota", ok="saved")


async def remove_coordinator(request: web.Request) -> web.StreamResponse:
    """POST /admin/rota/coordinators/{id}/remove."""
    require_admin(request)
    d = deps(request)
    coordinator_id = int(request.match_info["cid"])
    async with d.db.uow() as uow:
        await uow.coordinators.remove(coordinator_id, d.clock())
        await uow.commit()
    await audit(request, "coordinator_removed", coordinator=coordinator_id)
    raise redirect(f"{PREFIX}/rota", ok="saved")


async def add_shift(request: web.Request) -> web.StreamResponse:
    """POST /admin/rota/shifts: always, weekly (days, from, to) or a window (start, end)."""
    require_admin(request)
    d = deps(request)
    form = await request.post()
    kind = str(form.get("kind", ""))
    try:
        coordinator_id = int(str(form.get("coordinator", "")))
        async with d.db.uow() as uow:
            person = await uow.coordinators.get(coordinator_id)
            if person is None:
                raise ValueError("unknown coordinator")
            places = {m.slug: m.tz for m in await uow.municipalities.list_all()}
            tz = rota.zone_name(person.municipality, places)
            if kind == "always":
                await uow.coordinators.add_shift(
                    coordinator_id, kind="always", tz=tz, now=d.clock()
                )
            elif kind == "weekly":
                await uow.coordinators.add_shift(
                    coordinator_id,
                    kind="weekly",
                    tz=tz,
                    now=d.clock(),
                    days=rota.parse_days(str(form.get("days", ""))),
                    start_time=rota.parse_hhmm(str(form.get("start_time", ""))),
                    end_time=rota.parse_hhmm(str(form.get("end_time", ""))),
                )
            elif kind == "window":
                await uow.coordinators.add_shift(
                    coordinator_id,
                    kind="window",
                    tz=tz,
                    now=d.clock(),
                    starts_at=rota.parse_local(str(form.get("starts_at", "")), tz),
                    ends_at=rota.parse_local(str(form.get("ends_at", "")), tz),
                )
            else:
                raise ValueError("unknown kind of shift")
            await uow.commit()
    except ValueError as exc:
        return await page(request, error=str(exc))
    await audit(request, "shift_added", coordinator=coordinator_id, kind=kind)
    raise redirect(f"{PREFIX}/rota", ok="saved")


async def remove_shift(request: web.Request) -> web.StreamResponse:
    """POST /admin/rota/shifts/{id}/remove."""
    require_admin(request)
    d = deps(request)
    shift_id = int(request.match_info["sid"])
    async with d.db.uow() as uow:
        await uow.coordinators.remove_shift(shift_id)
        await uow.commit()
    await audit(request, "shift_removed", shift=shift_id)
    raise redirect(f"{PREFIX}/rota", ok="saved")


def add_routes(router: web.UrlDispatcher) -> None:
    """Register this module's pages."""
    router.add_get("/rota", page)
    router.add_post("/rota/coordinators", add_coordinator)
    router.add_post(r"/rota/coordinators/{cid:\d+}/remove", remove_coordinator)
    router.add_post("/rota/shifts", add_shift)
    router.add_post(r"/rota/shifts/{sid:\d+}/remove", remove_shift)
