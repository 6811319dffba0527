"""`helpline admin add|list|passwd|disable`: accounts for the /admin web UI."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.store.db import Database
from bot.store.opening import opened_database
from bot.store.repos.accounts import DuplicateUser
from bot.web import auth


def _read_password(args: argparse.Namespace) -> str:
    """From stdin (one line) with --password-stdin, else asked twice on the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _run(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    """Run `work` on the database, disposed of afterwards."""

    async def main() -> int:
        async with opened_database(settings) as db:
            return await work(db)

    return asyncio.run(main())


def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    """Create a user; prints its id last."""
    username = args.username.strip().lower()
    if not auth.valid_username(username):
        print("helpline: user names are 2-64 of a-z 0-9 . _ -", file=sys.stderr)
        return 2
    if args.role == "coordinator" and not args.municipality:
        print("helpline: a coordinator needs --municipality SLUG", file=sys.stderr)
        return 2
    try:
        password_hash = auth.hash_password(_read_password(args), username=username)
    except ValueError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            if args.municipality:
                known = {m.slug for m in await uow.municipalities.list_all()}
                if known and args.municipality not in known:
                    print(f"helpline: unknown municipality {args.municipality!r}", file=sys.stderr)
                    return 2
            try:
                user = await uow.accounts.add_user(
                    username=username,
                    password_hash=password_hash,
                    role=args.role,
                    municipality=args.municipality,
                    language=args.lang,
                    now=datetime.now(UTC),
                )
            except (DuplicateUser, ValueError) as exc:
                print(f"helpline: {exc}", file=sys.stderr)
                return 1
            await uow.commit()
        print(f"added {args.role} {username}; sign in at /admin")
        print(user.id)
        return 0

    return _run(settings, work)


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    """List the users."""

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            for u in await uow.accounts.list_users():
                state = "active" if u.active else "disabled"
                place = u.municipality or "-"
                print(f"{u.id}\t{u.username}\t{u.role}\t{place}\t{u.language}\t{state}")
        return 0

    return _run(settings, work)


def cmd_passwd(settings: Settings, args: argparse.Namespace) -> int:
    """Set a new password (signs the user out everywhere)."""
    try:
        password_hash = auth.hash_password(
            _read_password(args), username=args.username.strip().lower()
        )
    except ValueError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            user = await uow.accounts.user_by_name(args.username.strip().lower())
            if user is None:
                print("helpline: no such user", file=sys.stderr)
                return 1
            await uow.accounts.update_user(user.id, password_hash=password_hash, active=True)
            await uow.admin_sessions.end_all_of(user.id)
            await uow.commit()
        print(f"password of {user.username} changed")
        return 0

    return _run(settings, work)


def cmd_disable(settings: Settings, args: argparse.Namespace) -> int:
    """Disable a user (kept for the audit log) and end their sessions."""

    async def work(db: Database) -> int:
        async with db.uow() as uow:
            user = await uow.accounts.user_by_name(args.username.strip().lower())
            if user is None:
                print("helpline: no such user", file=sys.stderr)
                return 1
            await uow.accounts.update_user(user.id, active=False)
            await uow.admin_sessions.end_all_of(user.id)
            await uow.commit()
        print(f"{user.username} disabled")
        return 0

    return _run(settings, work)


def register_admin_cli(sub: Any) -> None:
    """Add `helpline admin ...` to the command line."""
    admin = sub.add_parser("admin", help="accounts for the admin web UI")
    admin_sub = admin.add_subparsers(dest="action", required=True)
    add = admin_sub.add_parser("add", help="create a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", choices=["admin", "coordinator"], required=True)
    add.add_argument("--municipality", help="coordinators: the municipality slug they see")
    add.add_argument("--lang", choices=["sq", "en"], default="sq", help="UI language")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_add)
    listing = admin_sub.add_parser("list", help="list users")
    listing.set_defaults(func=cmd_list)
    passwd = admin_sub.add_parser("passwd", help="set a new password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=cmd_passwd)
    disable = admin_sub.add_parser("disable", help="disable a user")
    disable.add_argument("username")
    disable.set_defaults(func=cmd_disable)
