"""Typed settings from the environment and a .env file; the only module that reads os.environ."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from dotenv import dotenv_values

from bot.engine.durations import parse_duration

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR = ROOT / "var"


@dataclass(frozen=True)
class Settings:
    """Everything the helpline is configured with."""

    database_url: str
    data_keys: tuple[str, ...] = field(repr=False)  # Fernet keys, newest first
    secret_key: str = field(repr=False)
    public_url: str = "http://127.0.0.1:8080"
    var_dir: Path = DEFAULT_VAR
    host: str = "127.0.0.1"
    port: int = 8080
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: str | None = None
    sms_fold_diacritics: bool = False
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_mode: str = "webhook"
    telegram_api_url: str | None = None
    ack_timeout: timedelta = timedelta(minutes=5)
    followup_cadence: tuple[timedelta, ...] = field(
        default_factory=lambda: tuple(parse_duration(d) for d in "P1D,P3D,P7D,P14D,P30D".split(","))
    )
    session_ttl: timedelta = timedelta(days=1)
    # How long a send may take before another sender (or this one after a restart) retries it.
    outbox_lease: timedelta = timedelta(seconds=60)
    flows_dir: Path = ROOT / "bot" / "flows"
    demo: bool = False
    dev_keys: bool = False  # True when keys were generated under var/ (development only)

    @property
    def sms_enabled(self) -> bool:
        """SMS is on when Twilio credentials and a sender are configured."""
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from_number or self.twilio_messaging_service_sid)
        )

    @property
    def telegram_enabled(self) -> bool:
        """Telegram is on when a bot token is configured."""
        return bool(self.telegram_bot_token)

    def with_(self, **changes: object) -> Settings:
        """A copy with some settings changed (tests use it)."""
        return replace(self, **changes)


def _dev_keys(var_dir: Path) -> dict[str, str]:
    """Keys for development, generated once under var/; never for production."""
    path = var_dir / "dev-keys.json"
    if path.exists():
        return json.loads(path.read_text())
    var_dir.mkdir(parents=True, exist_ok=True)
    keys = {"data_key": Fernet.generate_key().decode(), "secret_key": secrets.token_urlsafe(32)}
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def load_settings(env: dict[str, str] | None = None, env_file: Path | None = None) -> Settings:
    """Read settings from `env` (default: os.environ over a .env file)."""
    if env is None:
        file_values = dotenv_values(env_file or ROOT / ".env")
        env = {**{k: v for k, v in file_values.items() if v is not None}, **os.environ}
    var_dir = Path(env.get("HELPLINE_VAR_DIR") or DEFAULT_VAR)
    dev = False
    data_keys = tuple(k.strip() for k in env.get("HELPLINE_DATA_KEYS", "").split(",") if k.strip())
    secret = env.get("HELPLINE_SECRET_KEY", "")
    if not data_keys or not secret:
        keys = _dev_keys(var_dir)
        dev = True
        if not data_keys:
            data_keys = (keys["data_key"],)
        if not secret:
            secret = keys["secret_key"]
    db_url = env.get("HELPLINE_DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'helpline.db'}"
    cadence = env.get("HELPLINE_FOLLOWUP_CADENCE")
    return Settings(
        database_url=db_url,  # as given; bot.store.db.async_url picks the async driver
        data_keys=data_keys,
        secret_key=secret,
        public_url=(env.get("HELPLINE_PUBLIC_URL") or "http://127.0.0.1:8080").rstrip("/"),
        var_dir=var_dir,
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
        twilio_from_number=env.get("TWILIO_FROM_NUMBER") or None,
        twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        twilio_api_url=env.get("HELPLINE_TWILIO_API_URL") or None,
        sms_fold_diacritics=_bool(env.get("HELPLINE_SMS_FOLD_DIACRITICS")),
        telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN") or None,
        telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
        telegram_mode=env.get("HELPLINE_TELEGRAM_MODE") or "webhook",
        telegram_api_url=env.get("HELPLINE_TELEGRAM_API_URL") or None,
        ack_timeout=parse_duration(env.get("HELPLINE_ACK_TIMEOUT") or "PT5M"),
        followup_cadence=tuple(parse_duration(d) for d in cadence.split(","))
        if cadence
        else Settings.__dataclass_fields__["followup_cadence"].default_factory(),  # type: ignore[misc]
        session_ttl=parse_duration(env.get("HELPLINE_SESSION_TTL") or "P1D"),
        outbox_lease=parse_duration(env.get("HELPLINE_OUTBOX_LEASE") or "PT60S"),
        demo=_bool(env.get("HELPLINE_DEMO")),
        dev_keys=dev,
    )
