"""The `helpline` command: serve, db, flows, i18n and demo subcommands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bot.config import MissingKeys, SettingError, Settings, load_settings
from bot.keys import register_cli as register_keys_cli
from bot.referral.cli import register_cli
from bot.web.admin_cli import register_admin_cli


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Libraries log request URLs and bodies at INFO/DEBUG; those can hold phone numbers.
    for noisy in (
        "aiohttp.access",
        "httpx",
        "telegram",
        "twilio",
        "apscheduler",
        "alembic",
        "httpcore",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Run the web server, pipeline, outbox sender and scheduler."""
    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    if args.workers > 1:  # before the app's imports: the supervisor needs none of them
        return _serve_workers(settings, args)
    from bot.workers import StartupWatch

    # Armed before the app's imports: a start-up that never ends exits, saying where it is.
    watch = StartupWatch(_seconds(settings.startup_timeout))
    watch.arm()
    from aiohttp import web

    from bot.app import StartupError, serving_app

    def serving(*_: object) -> None:
        watch.done()
        line = f"helpline serving on http://{settings.host}:{settings.port} " + (
            "(simulator: /simulator)\n" if settings.simulator else "(simulator off)\n"
        )
        # One write of the whole line: print() writes the text and its newline apart when
        # stdout is unbuffered (PYTHONUNBUFFERED), and `serve --workers N` share one stdout:
        # two workers' lines came out as one ("...off)helpline serving on...") and a
        # supervisor or test counting them waited for a line that never came.
        sys.stdout.write(line)
        sys.stdout.flush()

    from bot.eventloop import new_loop

    try:
        web.run_app(
            serving_app(settings, watch),
            loop=new_loop(settings.event_loop),
            host=settings.host,
            port=settings.port,
            reuse_port=args.reuse_port or None,  # a worker of `serve --workers N`
            access_log=None,  # access logs would carry URLs and addresses; metrics cover traffic
            print=serving,
        )
    except StartupError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    return 0


def _seconds(timeout: timedelta) -> float | None:
    """A start-up bound in seconds; None when the setting is 0 (no bound)."""
    return timeout.total_seconds() or None


def _serve_workers(settings: Settings, args: argparse.Namespace) -> int:
    """`serve --workers N`: N processes on one port, each a whole helpline (PostgreSQL only)."""
    from sqlalchemy.engine import make_url

    from bot.store import migrate
    from bot.store.db import async_url
    from bot.store.opening import OLD_SCHEMA
    from bot.workers import Supervisor, worker_command

    if make_url(async_url(settings.database_url)).get_backend_name() != "postgresql":
        print(
            "helpline: --workers needs PostgreSQL (HELPLINE_DATABASE_URL=postgresql://...); "
            "SQLite serves from one process",
            file=sys.stderr,
        )
        return 1
    if migrate.current(settings.database_url) != migrate.head():
        print(f"helpline: {OLD_SCHEMA}", file=sys.stderr)
        return 1
    extra = ["-v"] if args.verbose else []
    command = worker_command(settings.host, settings.port, extra)
    from bot.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

    ours = not os.environ.get(MULTIPROC_ENV)
    metrics_dir = prepare_multiprocess_dir()  # before the workers start: they inherit it
    try:
        return Supervisor(
            args.workers, command, startup_timeout=_seconds(settings.startup_timeout)
        ).run()
    finally:
        if ours:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    """Database maintenance."""
    from bot.store.migrate import upgrade

    if args.action == "upgrade":
        upgrade(settings.database_url)
        print("database is at the newest schema")
    return 0


def cmd_flows(settings: Settings, args: argparse.Namespace) -> int:
    """Validate flow files; exit 1 naming file, line and problem."""
    from bot.flows.check import check_paths

    return check_paths([Path(p) for p in args.paths] or [settings.flows_dir])


def cmd_flows_docs(settings: Settings, args: argparse.Namespace) -> int:
    """Write docs/flows.md's action reference from the action registry (or check it)."""
    from bot.flows.docs import write_docs

    return write_docs(Path(args.file), check=args.check)


def cmd_i18n(settings: Settings, args: argparse.Namespace) -> int:
    """The Babel workflow."""
    from bot import i18n_tools

    action = {
        "extract": i18n_tools.extract,
        "update": i18n_tools.update,
        "compile": i18n_tools.compile_catalogs,
        "check": i18n_tools.check,
        "segments": i18n_tools.print_segments,
    }[args.action]
    return action()


def cmd_understand(settings: Settings, args: argparse.Namespace) -> int:
    """`helpline understand eval FILE [--json]` or `helpline understand TEXT --ask KIND`."""
    from bot.understanding_cli import run

    return run(args)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Load municipalities and the demo data (marked DEMO)."""
    from bot.demo import load_demo

    asyncio.run(load_demo(settings))
    return 0


def cmd_telegram(settings: Settings, args: argparse.Namespace) -> int:
    """Register the webhook with Telegram (public URL + /webhooks/telegram, with the secret)."""
    from bot.channels.telegram import TelegramChannel, TelegramSetupError

    if not settings.telegram_enabled:
        print("helpline: set TELEGRAM_BOT_TOKEN first", file=sys.stderr)
        return 1

    async def unused(_inbound: object) -> None:
        return None

    try:
        asyncio.run(TelegramChannel(settings, receive=unused).set_webhook())
    except TelegramSetupError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 1
    print(f"webhook set to {settings.public_url}/webhooks/telegram")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="helpline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the helpline")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (PostgreSQL only); housekeeping runs in one of them",
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)

    flows = sub.add_parser("flows", help="conversation flows")
    flows_sub = flows.add_subparsers(dest="action", required=True)
    check = flows_sub.add_parser("check", help="validate flow files")
    check.add_argument("paths", nargs="*", help="files or directories (default: the shipped flows)")
    check.set_defaults(func=cmd_flows)
    docs = flows_sub.add_parser("docs", help="write docs/flows.md's action reference")
    docs.add_argument("file", nargs="?", default="docs/flows.md", help="default: docs/flows.md")
    docs.add_argument("--check", action="store_true", help="exit 1 if it is out of date")
    docs.set_defaults(func=cmd_flows_docs)

    i18n = sub.add_parser("i18n", help="translations")
    i18n.add_argument("action", choices=["extract", "update", "compile", "check", "segments"])
    i18n.set_defaults(func=cmd_i18n)

    register_cli(sub)
    understand = sub.add_parser(
        "understand",
        help="what the helpline makes of a message; `understand eval FILE` measures a corpus",
    )
    understand.add_argument("words", nargs="+", help="the message, or: eval FILE.jsonl")
    understand.add_argument(
        "--ask",
        choices=[
            "first",
            "yes_no",
            "danger_now",
            "safe_to_text",
            "consent",
            "role",
            "municipality",
            "anywhere",
        ],
        help="the question it answers (default: a first message)",
    )
    understand.add_argument("--json", action="store_true", help="eval: one JSON object per case")
    understand.set_defaults(func=cmd_understand)
    register_admin_cli(sub)
    register_keys_cli(sub)  # keys generate|rotate, retention run

    telegram = sub.add_parser("telegram", help="Telegram bot")
    telegram.add_argument("action", choices=["set-webhook"])
    telegram.set_defaults(func=cmd_telegram)

    demo = sub.add_parser("demo", help="demo data")
    demo.add_argument("action", choices=["load"])
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `helpline` and `python -m bot`."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        # `keys generate` makes the keys a deployment lacks: it runs without them.
        keyless = getattr(args, "action", None) in getattr(args, "keyless_actions", ())
        settings = load_settings(require_keys=not keyless)
    except (MissingKeys, SettingError) as exc:  # say what is wrong, no traceback
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    return int(args.func(settings, args) or 0)


if __name__ == "__main__":
    sys.exit(main())
