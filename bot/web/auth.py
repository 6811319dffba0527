"""Admin sign-in: argon2 passwords, expiring server-side sessions, CSRF tokens, login limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.store.repos.admin import AdminUser

SESSION_COOKIE = "helpline_admin"
PRE_COOKIE = "helpline_login"  # before sign-in: the sign-in form's CSRF token is bound to it
SESSION_IDLE = timedelta(minutes=30)  # signed out after this long without a request
LOGIN_WINDOW = timedelta(minutes=15)
MAX_USER_FAILURES = 5  # per user name in LOGIN_WINDOW, then that name is locked for the window
MAX_ADDRESS_FAILURES = 20  # per client address in LOGIN_WINDOW
MIN_PASSWORD = 10
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class PasswordRejected(ValueError):
    """A password that may not be used (too short)."""


def hash_password(password: str) -> str:
    """An argon2id hash of a password that meets the minimum."""
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(f"the password must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def valid_username(name: str) -> bool:
    """Lower-case letters, digits, dot, dash, underscore; 2 to 64 characters."""
    return 2 <= len(name) <= 64 and set(name) <= USERNAME_CHARS


def new_token() -> str:
    """A fresh unguessable session token (the cookie's value)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a session token (a stolen table signs nobody in)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret: str, bound_to: str) -> str:
    """The CSRF token of a session (or pre-session) token: an HMAC only the server can make."""
    return hmac.new(secret.encode(), b"csrf:" + bound_to.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, bound_to: str | None, given: str | None) -> bool:
    """True when a form's token belongs to this browser's (pre-)session."""
    if not bound_to or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, bound_to), given)


@dataclass(frozen=True, slots=True)
class LoginKeys:
    """The keys failed sign-ins are counted under (keyed hashes: no names or addresses kept)."""

    user: str
    address: str


def login_keys(lookup_hash: object, username: str, address: str) -> LoginKeys:
    """Keys for one sign-in; `lookup_hash` is the store's keyed hash."""
    hasher = lookup_hash  # Crypto.lookup_hash
    return LoginKeys(
        user=hasher(f"admin-login-user:{username.strip().lower()}"),  # type: ignore[operator]
        address=hasher(f"admin-login-address:{address}"),  # type: ignore[operator]
    )


def locked(user_failures: int, address_failures: int) -> bool:
    """True when sign-in is refused for now (too many failures for the name or the address)."""
    return user_failures >= MAX_USER_FAILURES or address_failures >= MAX_ADDRESS_FAILURES


def can_see_case(user: AdminUser, municipality: str | None) -> bool:
    """Admins see every case; a coordinator only those of their own municipality."""
    return user.is_admin or (user.municipality is not None and municipality == user.municipality)


def case_scope(user: AdminUser) -> str | None:
    """The municipality a user's case queries are limited to (None: all, for admins)."""
    if user.is_admin:
        return None
    # A coordinator without a municipality sees nothing: an impossible slug, never "all".
    return user.municipality or "\x00none"


def expiry(now: datetime) -> datetime:
    """When a session used now expires if not used again."""
    return now + SESSION_IDLE
