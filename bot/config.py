"""Typed settings from the environment and a .env file; the only module that reads os.environ."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from dotenv import dotenv_values

from bot import eventloop
from bot.engine.durations import parse_duration
from bot.files import private_dir, private_file, write_new_private

ROOT = Path(__file__).resolve().parent.parent  # the source tree, or site-packages when installed
PACKAGE = Path(__file__).resolve().parent


def default_var() -> Path:
    """Local state (SQLite file, development keys): var/ in the working directory, never inside
    the installed package (after `pip install .` that would be site-packages)."""
    return Path.cwd() / "var"


DEFAULT_CADENCE = "P1D,P3D,P7D,P14D,P30D"


@dataclass(frozen=True)
class Settings:
    """Everything the helpline is configured with."""

    database_url: str
    data_keys: tuple[str, ...] = field(repr=False)  # Fernet keys, newest first
    secret_key: str = field(repr=False)
    public_url: str = "http://127.0.0.1:8080"
    var_dir: Path = field(default_factory=default_var)
    host: str = "127.0.0.1"
    port: int = 8080
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: str | None = None
    sms_fold_diacritics: bool = False
    # WhatsApp through Twilio (bot/channels/twilio_whatsapp.py): a sender `whatsapp:+…` or a
    # Messaging Service holding WhatsApp senders, and the approved Content templates (ContentSid
    # HX…) by (template name, language) for what the helpline starts outside WhatsApp's 24 h.
    twilio_whatsapp_from: str | None = None
    twilio_whatsapp_messaging_service_sid: str | None = None
    whatsapp_templates: tuple[tuple[str, str, str], ...] = ()  # (name, language, ContentSid)
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_mode: str = "webhook"
    telegram_api_url: str | None = None
    ack_timeout: timedelta = timedelta(minutes=5)
    followup_cadence: tuple[timedelta, ...] = field(
        default_factory=lambda: tuple(parse_duration(d) for d in DEFAULT_CADENCE.split(","))
    )
    # Follow-ups: every `followup_repeat` after the cadence until the order ends; a second try
    # `followup_retry` after an unanswered check-in (then a coordinator is asked to check on
    # her); a check-in waits while her last message is less than `followup_quiet` old.
    followup_repeat: timedelta = timedelta(days=30)
    followup_retry: timedelta = timedelta(days=1)
    followup_quiet: timedelta = timedelta(minutes=30)
    followup_lease: timedelta = timedelta(minutes=2)
    sweep_interval: float = 5.0  # seconds between sweeps of due timers and check-ins
    session_ttl: timedelta = timedelta(days=1)
    # How long a send may take before another sender (or this one after a restart) retries it.
    outbox_lease: timedelta = timedelta(seconds=60)
    # Messages a second one process sends per channel (None: the provider's default in
    # bot/pacing.py; 0: no pacing, for benchmarks against local fakes). Each worker paces alone.
    sms_rate: float | None = None
    telegram_rate: float | None = None
    # Several workers: how often a follower tries to take over housekeeping from a dead leader.
    leader_retry: timedelta = timedelta(seconds=5)
    # A server (or worker) whose start-up has not finished this long after it began says which
    # step it is stuck in and exits with code 3, to be started again (bot/workers.py); 0: never.
    startup_timeout: timedelta = timedelta(seconds=60)
    # The event loop `serve` runs on (bot/eventloop.py): uvloop, or asyncio's own.
    event_loop: str = eventloop.DEFAULT
    # Security (bot/retention.py, bot/web/limits.py): days message texts, free-text answers and
    # closed cases' links to the person are kept (0: forever); requests a minute per sender and
    # per client address on webhooks and sign-in; addresses of reverse proxies whose
    # X-Forwarded-For is believed; the outbox's first retry delay and its ceiling.
    retention_days: int = 180
    rate_per_sender: int = 30
    rate_per_ip: int = 600
    trusted_proxies: tuple[str, ...] = ()
    outbox_retry_base: timedelta = timedelta(seconds=2)
    outbox_retry_max: timedelta = timedelta(minutes=10)
    flows_dir: Path = PACKAGE / "flows"
    demo: bool = False
    dev_keys: bool = False  # True when keys were generated under var/ (development only)
    # Security: /simulator and its socket exist only when on (HELPLINE_SIMULATOR; default on
    # for a development setup, off on PostgreSQL or behind https).
    simulator: bool = True

    @property
    def sms_enabled(self) -> bool:
        """SMS is on when Twilio credentials and a sender are configured."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from_number or self.twilio_messaging_service_sid)
        )

    @property
    def whatsapp_enabled(self) -> bool:
        """WhatsApp is on when Twilio credentials and a WhatsApp sender are configured."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_whatsapp_from or self.twilio_whatsapp_messaging_service_sid)
        )

    def template_sid(self, name: str, language: str) -> str | None:
        """The ContentSid configured for a WhatsApp template in a language, if any."""
        for known, lang, sid in self.whatsapp_templates:
            if (known, lang) == (name, language):
                return sid
        return None

    @property
    def telegram_enabled(self) -> bool:
        """Telegram is on when a bot token is configured."""
        return bool(self.telegram_bot_token)

    @property
    def production(self) -> bool:
        """PostgreSQL or a public https URL: a deployment, not a development machine."""
        return looks_like_production(self.database_url, self.public_url)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests use it)."""
        return replace(self, **changes)


def _dev_keys(var_dir: Path) -> dict[str, str]:
    """Keys for development, generated once under var/; never for production.

    Security: var/ is 0o700 and the file 0o600 from the moment it exists (no chmod after the
    write, when another user could already have opened it).
    """
    path = private_dir(var_dir, tighten=True) / "dev-keys.json"
    if not path.exists():
        keys = {"data_key": Fernet.generate_key().decode(), "secret_key": secrets.token_urlsafe(32)}
        write_new_private(path, json.dumps(keys).encode())  # False: another process won
    private_file(path)  # an older file, made before this rule, is tightened
    return json.loads(path.read_text())


def looks_like_production(database_url: str, public_url: str) -> bool:
    """PostgreSQL or a public https URL: a deployment, not a development machine."""
    postgres = database_url.startswith(("postgresql", "postgres:"))
    return postgres or public_url.lower().startswith("https://")


def _switch(env: dict[str, str], name: str, default: bool) -> bool:
    """An on/off setting; the default when not set, ValueError naming it when unreadable."""
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value in {"on", "1", "true", "yes"}:
        return True
    if value in {"off", "0", "false", "no"}:
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


def _proxies(env: dict[str, str]) -> tuple[str, ...]:
    """HELPLINE_TRUSTED_PROXIES: addresses or CIDR ranges, comma-separated."""
    found = tuple(
        p.strip() for p in (env.get("HELPLINE_TRUSTED_PROXIES") or "").split(",") if p.strip()
    )
    for proxy in found:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ValueError(
                f"HELPLINE_TRUSTED_PROXIES: {proxy!r} is not an address or a CIDR range "
                "(e.g. 127.0.0.1 or 172.16.0.0/12)"
            ) from None
    return found


class SettingError(ValueError):
    """A setting has a value the helpline cannot use; the message names it and the form."""


def _duration(env: dict[str, str], name: str, default: str) -> timedelta:
    """An ISO-8601 duration setting, the default when not set."""
    value = (env.get(name) or "").strip()
    try:
        return parse_duration(value or default)
    except ValueError:
        raise SettingError(
            f"{name}={value!r} is not an ISO-8601 duration: write it like PT30S (30 seconds), "
            "PT5M (5 minutes), PT2H (2 hours) or P1D (1 day)"
        ) from None


def _durations(env: dict[str, str], name: str, default: str) -> tuple[timedelta, ...]:
    """A comma-separated list of ISO-8601 durations."""
    value = (env.get(name) or "").strip() or default
    try:
        return tuple(parse_duration(d) for d in value.split(","))
    except ValueError:
        raise SettingError(
            f"{name}={value!r} is not a list of ISO-8601 durations: write it like "
            "P1D,P3D,P7D (1, 3 and 7 days)"
        ) from None


def _event_loop(env: dict[str, str]) -> str:
    """HELPLINE_EVENT_LOOP: uvloop (the default) or asyncio."""
    value = eventloop.chosen(env)
    if value not in eventloop.LOOPS:
        raise SettingError(
            f"HELPLINE_EVENT_LOOP must be {' or '.join(eventloop.LOOPS)}, not {value!r}"
        )
    return value


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _rate(env: dict[str, str], name: str) -> float | None:
    """A sending rate in messages a second (0 turns pacing off), None when not set."""
    value = (env.get(name) or "").strip()
    if not value:
        return None
    try:
        rate = float(value)
    except ValueError:
        raise SettingError(f"{name} must be a number of messages a second, not {value!r}") from None
    if rate < 0 or rate != rate:
        raise SettingError(f"{name} must be 0 (no pacing) or more")
    return rate


def _count(env: dict[str, str], name: str, default: int) -> int:
    """A whole number of 0 or more (days, requests a minute), the default when not set."""
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise SettingError(f"{name} must be a whole number of 0 or more, not {value!r}")
    return int(value)


WHATSAPP_PREFIX = "whatsapp:"
TEMPLATE_SID = re.compile(r"HX[0-9a-fA-F]{32}")


def _whatsapp_from(env: dict[str, str]) -> str | None:
    """TWILIO_WHATSAPP_FROM as Twilio wants it: whatsapp:+E.164 (the prefix may be left out)."""
    value = (env.get("TWILIO_WHATSAPP_FROM") or "").strip()
    if not value:
        return None
    number = value.removeprefix(WHATSAPP_PREFIX)
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", number):
        raise SettingError(
            f"TWILIO_WHATSAPP_FROM={value!r} is not a WhatsApp sender: write it like "
            "whatsapp:+355691234567"
        )
    return WHATSAPP_PREFIX + number


def _templates(env: dict[str, str]) -> tuple[tuple[str, str, str], ...]:
    """HELPLINE_WHATSAPP_TEMPLATES: name.language=ContentSid pairs, comma-separated."""
    value = (env.get("HELPLINE_WHATSAPP_TEMPLATES") or "").strip()
    found: dict[tuple[str, str], str] = {}
    for item in (p.strip() for p in value.split(",") if p.strip()):
        key, _, sid = item.partition("=")
        name, _, lang = key.strip().rpartition(".")
        if not name or lang not in ("sq", "en") or not TEMPLATE_SID.fullmatch(sid.strip()):
            raise SettingError(
                f"HELPLINE_WHATSAPP_TEMPLATES: {item!r} is not name.language=ContentSid: write "
                "it like checkin.sq=HX0123…(32 hex digits),checkin.en=HX…"
            )
        found[(name, lang)] = sid.strip()
    return tuple((name, lang, sid) for (name, lang), sid in found.items())


class MissingKeys(ValueError):
    """A deployment (PostgreSQL or https) without its own keys: development keys would be used."""


def load_settings(
    env: dict[str, str] | None = None,
    env_file: Path | None = None,
    *,
    require_keys: bool = True,
) -> Settings:
    """Read settings from `env` (default: os.environ over a .env file).

    On PostgreSQL or behind https the keys must be configured (MissingKeys otherwise), unless
    `require_keys` is False (`helpline keys generate` needs none). The .env file is the
    working directory's.
    """
    if env is None:
        file_values = dotenv_values(env_file or Path.cwd() / ".env")
        env = {**{k: v for k, v in file_values.items() if v is not None}, **os.environ}
    var_dir = Path(env.get("HELPLINE_VAR_DIR") or default_var())
    dev = False
    data_keys = tuple(k.strip() for k in env.get("HELPLINE_DATA_KEYS", "").split(",") if k.strip())
    secret = env.get("HELPLINE_SECRET_KEY", "")
    db_url = env.get("HELPLINE_DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'helpline.db'}"
    public_url = (env.get("HELPLINE_PUBLIC_URL") or "http://127.0.0.1:8080").rstrip("/")
    if (not data_keys or not secret) and looks_like_production(db_url, public_url):
        missing = [
            name
            for name, value in (("HELPLINE_DATA_KEYS", data_keys), ("HELPLINE_SECRET_KEY", secret))
            if not value
        ]
        if require_keys:
            # Security: a generated key on a server is lost with its disk, and every stored
            # conversation with it; a deployment must bring its own (README, Deployment, 1).
            raise MissingKeys(
                f"{' and '.join(missing)} not set: on PostgreSQL or behind https the helpline "
                "does not start without its own keys (generate them as README's Deployment "
                "says, step 1, and keep a copy apart from the backups)"
            )
    elif not data_keys or not secret:
        keys = _dev_keys(var_dir)
        dev = True
        if not data_keys:
            data_keys = (keys["data_key"],)
        if not secret:
            secret = keys["secret_key"]
    return Settings(
        database_url=db_url,  # as given; bot.store.db.async_url picks the async driver
        data_keys=data_keys,
        secret_key=secret,
        public_url=public_url,
        var_dir=var_dir,
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
        twilio_from_number=env.get("TWILIO_FROM_NUMBER") or None,
        twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        twilio_api_url=env.get("HELPLINE_TWILIO_API_URL") or None,
        sms_fold_diacritics=_bool(env.get("HELPLINE_SMS_FOLD_DIACRITICS")),
        twilio_whatsapp_from=_whatsapp_from(env),
        twilio_whatsapp_messaging_service_sid=(
            env.get("TWILIO_WHATSAPP_MESSAGING_SERVICE_SID") or None
        ),
        whatsapp_templates=_templates(env),
        telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN") or None,
        telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
        telegram_mode=env.get("HELPLINE_TELEGRAM_MODE") or "webhook",
        telegram_api_url=env.get("HELPLINE_TELEGRAM_API_URL") or None,
        ack_timeout=_duration(env, "HELPLINE_ACK_TIMEOUT", "PT5M"),
        followup_cadence=_durations(env, "HELPLINE_FOLLOWUP_CADENCE", DEFAULT_CADENCE),
        session_ttl=_duration(env, "HELPLINE_SESSION_TTL", "P1D"),
        followup_repeat=_duration(env, "HELPLINE_FOLLOWUP_REPEAT", "P30D"),
        followup_retry=_duration(env, "HELPLINE_FOLLOWUP_RETRY", "P1D"),
        followup_quiet=_duration(env, "HELPLINE_FOLLOWUP_QUIET", "PT30M"),
        followup_lease=_duration(env, "HELPLINE_FOLLOWUP_LEASE", "PT2M"),
        sweep_interval=_duration(env, "HELPLINE_SWEEP_INTERVAL", "PT5S").total_seconds(),
        outbox_lease=_duration(env, "HELPLINE_OUTBOX_LEASE", "PT60S"),
        sms_rate=_rate(env, "HELPLINE_SMS_RATE"),
        telegram_rate=_rate(env, "HELPLINE_TELEGRAM_RATE"),
        leader_retry=_duration(env, "HELPLINE_LEADER_RETRY", "PT5S"),
        startup_timeout=_duration(env, "HELPLINE_STARTUP_TIMEOUT", "PT60S"),
        event_loop=_event_loop(env),
        retention_days=_count(env, "HELPLINE_RETENTION_DAYS", 180),
        rate_per_sender=_count(env, "HELPLINE_RATE_PER_SENDER", 30),
        rate_per_ip=_count(env, "HELPLINE_RATE_PER_IP", 600),
        trusted_proxies=_proxies(env),
        outbox_retry_base=_duration(env, "HELPLINE_OUTBOX_RETRY_BASE", "PT2S"),
        outbox_retry_max=_duration(env, "HELPLINE_OUTBOX_RETRY_MAX", "PT10M"),
        demo=_bool(env.get("HELPLINE_DEMO")),
        dev_keys=dev,
        simulator=_switch(env, "HELPLINE_SIMULATOR", not looks_like_production(db_url, public_url)),
    )
