"""`helpline coordinator|duty|services ...`: the rota and the directory from the command line.

Wire into bot/__main__.py with `register_cli(sub)` after the other subcommands; every
subcommand sets `func(settings, args) -> int` like the existing ones.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import messages
from bot.config import Settings
from bot.referral import directory, rota
from bot.referral.routing import NATIONAL
from bot.store.db import Database, UnitOfWork
from bot.store.records import DutyShift, Service

CHAT_ID = re.compile(r"^-?\d{1,20}$")


class CliError(Exception):
    """A problem to print for the admin (exit status 1)."""


def normalise_phone(text: str, region: str = "AL") -> str:
    """E.164 from what an admin typed (Albanian numbers may omit +355); CliError if invalid."""
    number = messages.normalise_phone(text, valid=True, region=region)
    if number is None:
        raise CliError(
            "not a valid phone number: give it in international form, e.g. +355691234567"
        )
    return number


def mask(value: str | None) -> str:
    """A phone number or chat id with its middle hidden (enough to recognise it)."""
    if not value:
        return "-"
    return value if len(value) <= 6 else f"{value[:4]}…{value[-3:]}"


def _run(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    """Open the database, run `work(db)`, print a CliError and return 1."""
    from bot.store.opening import OldSchema, opened_database

    async def main() -> int:
        """Check the schema, then run the work on a fresh Database."""
        try:
            async with opened_database(settings, newest_schema=True) as db:
                return await work(db)
        except OldSchema as exc:
            raise CliError(str(exc)) from None

    try:
        return asyncio.run(main())
    except CliError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1


async def _places(uow: UnitOfWork) -> dict[str, Any]:
    """Municipalities by slug."""
    return {m.slug: m for m in await uow.municipalities.list_all()}


def _check_municipality(slug: str, places: dict[str, Any]) -> None:
    """CliError unless `slug` is national or a known municipality."""
    if slug == NATIONAL:
        return
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
        raise CliError(f"{slug!r} is not a municipality slug (e.g. tirane, vau-i-dejes, national)")
    if places and slug not in places:
        close = difflib.get_close_matches(slug, list(places), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CliError(f"unknown municipality {slug!r}{hint}")
    if not places:
        print(
            "warning: the municipality list is not loaded (`helpline demo load`); "
            f"{slug!r} was not checked",
            file=sys.stderr,
        )


# -- coordinator ---------------------------------------------------------------------------------


def cmd_coordinator_add(settings: Settings, args: argparse.Namespace) -> int:
    """Add a coordinator; the new id is the last line printed."""
    slug = args.municipality.strip().lower()
    try:
        phone = normalise_phone(args.phone) if args.phone else None
    except CliError as exc:
        print(f"helpline: --phone: {exc}", file=sys.stderr)
        return 1
    chat = args.telegram_chat_id.strip() if args.telegram_chat_id else None
    if chat is not None and not CHAT_ID.match(chat):
        print("helpline: --telegram-chat-id must be a number", file=sys.stderr)
        return 1
    if not (phone or chat):
        print("helpline: give --phone or --telegram-chat-id (or both)", file=sys.stderr)
        return 1
    if args.whatsapp and not phone:
        print("helpline: --whatsapp needs --phone (the number WhatsApp reaches)", file=sys.stderr)
        return 1
    if not args.name.strip():
        print("helpline: --name is empty", file=sys.stderr)
        return 1

    async def work(db: Database) -> int:
        from bot.store.repositories import DuplicateContact

        async with db.uow() as uow:
            _check_municipality(slug, await _places(uow))
            try:
                added = await uow.coordinators.add(
                    name=args.name.strip(),
                    municipality=slug,
                    phone=phone,
                    telegram_chat_id=chat,
                    language=args.lang,
                    role=args.role,
                    now=datetime.now(UTC),
                    demo=args.demo,
                    whatsapp=args.whatsapp,
                )
            except DuplicateContact as exc:
                raise CliError(str(exc)) from None
            await uow.commit()
        demo = " DEMO" if added.demo else ""
        print(f"added {added.role} {added.name} for {added.municipality} ({added.language}){demo}")
        print(added.id)
        return 0

    return _run(settings, work)


def cmd_coordinator_list(settings: Settings, args: argparse.Namespace) -> int:
    """List coordinators (contact details masked)."""

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            items = await uow.coordinators.list_all(include_removed=args.all)
        if not items:
            print("no coordinators")
        for c in items:
            flags = " ".join(
                f
                for f, on in (("whatsapp", c.whatsapp), ("DEMO", c.demo), ("removed", not c.active))
                if on
            )
            print(
                f"{c.id}\t{c.name}\t{c.municipality}\t{c.role}\t{c.language}\t"
                f"sms:{mask(c.phone)}\ttelegram:{mask(c.telegram_chat_id)}\t{flags}".rstrip()
            )
        return 0

    return _run(settings, work)


def cmd_coordinator_remove(settings: Settings, args: argparse.Namespace) -> int:
    """Remove a coordinator: no more alerts; their contact details are forgotten."""

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            removed = await uow.coordinators.remove(args.id, datetime.now(UTC))
            await uow.commit()
        if not removed:
            raise CliError(f"no active coordinator {args.id}")
        print(f"removed coordinator {args.id} and their duty shifts")
        return 0

    return _run(settings, work)


# -- duty ----------------------------------------------------------------------------------------


def _describe(shift: DutyShift) -> str:
    """A shift in words, in its local time."""
    tz = ZoneInfo(shift.tz)
    if shift.kind == "always":
        return "always"
    if shift.kind == "window":
        assert shift.starts_at and shift.ends_at  # a window is stored with both (add_shift)
        start = shift.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        end = shift.ends_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        return f"{start} to {end} ({shift.tz})"
    names = ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in shift.days)
    return f"weekly {names} {shift.start_time}-{shift.end_time} ({shift.tz})"


def cmd_duty_add(settings: Settings, args: argparse.Namespace) -> int:
    """Put a coordinator on duty; the new shift's id is the last line printed."""
    if args.start or args.end:
        if not (args.start and args.end):
            print("helpline: --start needs --end", file=sys.stderr)
            return 1
    if args.weekly and not (args.from_ and args.to):
        print("helpline: --weekly needs --from HH:MM and --to HH:MM", file=sys.stderr)
        return 1

    async def work(db: Database) -> int:
        now = datetime.now(UTC)
        async with db.uow() as uow:
            coordinator = await uow.coordinators.get(args.coordinator_id)
            if coordinator is None or not coordinator.active:
                raise CliError(f"no active coordinator {args.coordinator_id}")
            places = await _places(uow)
            tz = rota.zone_name(coordinator.municipality, {s: m.tz for s, m in places.items()})
            try:
                if args.always:
                    shift = await uow.coordinators.add_shift(
                        coordinator.id, kind="always", tz=tz, now=now
                    )
                elif args.start:
                    shift = await uow.coordinators.add_shift(
                        coordinator.id,
                        kind="window",
                        tz=tz,
                        now=now,
                        starts_at=rota.parse_local(args.start, tz),
                        ends_at=rota.parse_local(args.end, tz),
                    )
                else:
                    start, end = rota.parse_hhmm(args.from_), rota.parse_hhmm(args.to)
                    if start == end:
                        raise CliError("--from and --to are the same time; use --always")
                    shift = await uow.coordinators.add_shift(
                        coordinator.id,
                        kind="weekly",
                        tz=tz,
                        now=now,
                        days=rota.parse_days(args.weekly),
                        start_time=start,
                        end_time=end,
                    )
            except ValueError as exc:
                raise CliError(str(exc)) from None
            await uow.commit()
        print(f"{coordinator.name} on duty: {_describe(shift)}")
        print(shift.id)
        return 0

    return _run(settings, work)


def cmd_duty_list(settings: Settings, args: argparse.Namespace) -> int:
    """List duty shifts, in each municipality's local time, and who is on duty now."""

    async def work(db: Database) -> int:
        now = datetime.now(UTC)
        async with db.uow() as uow:
            wanted = [args.coordinator] if args.coordinator else None
            shifts = await uow.coordinators.shifts(wanted)
            people = await uow.coordinators.get_many(s.coordinator_id for s in shifts)
        if not shifts:
            print("no duty shifts")
        for s in shifts:
            person = people.get(s.coordinator_id)
            name = person.name if person else "?"
            place = person.municipality if person else "?"
            now_on = "  [on duty now]" if rota.on_duty(s, now) else ""
            print(f"{s.id}\t{s.coordinator_id}\t{name}\t{place}\t{_describe(s)}{now_on}")
        return 0

    return _run(settings, work)


def cmd_duty_remove(settings: Settings, args: argparse.Namespace) -> int:
    """Remove one duty shift."""

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            removed = await uow.coordinators.remove_shift(args.shift_id)
            await uow.commit()
        if not removed:
            raise CliError(f"no duty shift {args.shift_id}")
        print(f"removed duty shift {args.shift_id}")
        return 0

    return _run(settings, work)


# -- services ------------------------------------------------------------------------------------


def cmd_services_import(settings: Settings, args: argparse.Namespace) -> int:
    """Replace the directory with a CSV file; any bad row: nothing imported."""
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"helpline: cannot read {path}: {type(exc).__name__}", file=sys.stderr)
        return 1

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            places = await _places(uow)
            try:
                items = directory.parse_csv(text, municipalities=places or None, source=path.name)
            except directory.DirectoryError as exc:
                raise CliError(f"{exc}; nothing was imported") from None
            await uow.services.replace_all(items)
            await uow.commit()
        samples = sum(1 for s in items if s.sample)
        print(f"imported {len(items)} services ({samples} marked SAMPLE)")
        return 0

    return _run(settings, work)


def cmd_services_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write the directory as CSV to a file or standard output."""

    found: list[Service] = []

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            found.extend(await uow.services.list_all())
        return 0

    status = _run(settings, work)
    if status:
        return status
    items = found
    if not items:
        print("the directory is empty: exporting the shipped one", file=sys.stderr)
        items = directory.load_seed()
    text = directory.to_csv(items)
    if args.file:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"exported {len(items)} services to {args.file}")
    else:
        sys.stdout.write(text)
    return 0


def register_cli(sub: Any) -> None:
    """Add the coordinator, duty and services subcommands to `helpline`'s subparsers."""
    coordinator = sub.add_parser("coordinator", help="coordinators who take cases")
    c_sub = coordinator.add_subparsers(dest="action", required=True)
    add = c_sub.add_parser("add", help="add a coordinator (prints the id last)")
    add.add_argument("--name", required=True)
    add.add_argument("--municipality", required=True, help="a slug (tirane) or national")
    add.add_argument("--phone", help="E.164, e.g. +355691234567")
    add.add_argument("--telegram-chat-id")
    add.add_argument(
        "--whatsapp", action="store_true", help="alerts may go by WhatsApp to --phone too"
    )
    add.add_argument("--lang", choices=["sq", "en"], default="sq")
    add.add_argument("--role", choices=["coordinator", "backup"], default="coordinator")
    add.add_argument("--demo", action="store_true", help="mark as demo data")
    add.set_defaults(func=cmd_coordinator_add)
    listing = c_sub.add_parser("list", help="list coordinators")
    listing.add_argument("--all", action="store_true", help="include removed ones")
    listing.set_defaults(func=cmd_coordinator_list)
    remove = c_sub.add_parser("remove", help="remove a coordinator")
    remove.add_argument("id", type=int)
    remove.set_defaults(func=cmd_coordinator_remove)

    duty = sub.add_parser("duty", help="the duty rota")
    d_sub = duty.add_subparsers(dest="action", required=True)
    d_add = d_sub.add_parser(
        "add",
        help="put a coordinator on duty (times without offset: the municipality's local time)",
    )
    d_add.add_argument("coordinator_id", type=int)
    when = d_add.add_mutually_exclusive_group(required=True)
    when.add_argument("--always", action="store_true")
    when.add_argument("--start", help="ISO date-time, e.g. 2026-12-24T20:00")
    when.add_argument("--weekly", metavar="DAYS", help="e.g. mon-fri, sat,sun, daily")
    d_add.add_argument("--end", help="ISO date-time (with --start)")
    d_add.add_argument("--from", dest="from_", metavar="HH:MM", help="with --weekly")
    d_add.add_argument("--to", metavar="HH:MM", help="with --weekly; before --from = next day")
    d_add.set_defaults(func=cmd_duty_add)
    d_list = d_sub.add_parser("list", help="list duty shifts")
    d_list.add_argument("--coordinator", type=int)
    d_list.set_defaults(func=cmd_duty_list)
    d_remove = d_sub.add_parser("remove", help="remove a duty shift")
    d_remove.add_argument("shift_id", type=int)
    d_remove.set_defaults(func=cmd_duty_remove)

    services = sub.add_parser("services", help="the services directory")
    s_sub = services.add_subparsers(dest="action", required=True)
    s_import = s_sub.add_parser("import", help="replace the directory with a CSV file")
    s_import.add_argument("file")
    s_import.set_defaults(func=cmd_services_import)
    s_export = s_sub.add_parser("export", help="write the directory as CSV")
    s_export.add_argument("file", nargs="?")
    s_export.set_defaults(func=cmd_services_export)
