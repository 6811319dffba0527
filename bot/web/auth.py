"""Admin sign-in: argon2 passwords, expiring server-side sessions, CSRF tokens, login limits."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from bot.store.records import AdminUser

SESSION_COOKIE = "helpline_admin"
PRE_COOKIE = "helpline_login"  # before sign-in: the sign-in form's CSRF token is bound to it
SESSION_IDLE = timedelta(minutes=30)  # signed out after this long without a request
SESSION_MAX = timedelta(hours=12)  # and this long after signing in, however busy
LOGIN_WINDOW = timedelta(minutes=15)
MAX_USER_FAILURES = 5  # per user name in LOGIN_WINDOW, then that name is locked for the window
MAX_ADDRESS_FAILURES = 20  # per client address in LOGIN_WINDOW
MIN_PASSWORD = 10
MIN_STRENGTH = 3  # zxcvbn's score, 0-4: 3 is "safely unguessable" against an offline attack
STRENGTH_CHARS = 100  # zxcvbn slows with length; a longer password is judged by its start
WEAK_HINTS = ("helpline", "admin", "ndihme", "ndihmë", "albania", "kosovo")
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
# argon2 takes ~50 ms of CPU by design: it runs on HASH_THREADS threads, never on the event
# loop, and at most HASH_WAITING more sign-ins wait for one; beyond that they are refused at
# once (the page says to try again), so a burst of sign-ins cannot stall webhooks.
HASH_THREADS = 2
HASH_WAITING = 8

_T = TypeVar("_T")
_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class PasswordRejected(ValueError):
    """A password that may not be used (too short, or easy to guess)."""


class HasherBusy(RuntimeError):
    """Too many sign-ins are being checked at once; this one is refused, not queued."""


def require_strong(password: str, username: str = "") -> None:
    """Raise PasswordRejected, saying why, for a password too short or too easy to guess."""
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(f"the password must have at least {MIN_PASSWORD} characters")
    verdict = zxcvbn(password[:STRENGTH_CHARS], user_inputs=[username, *WEAK_HINTS])
    if verdict["score"] < MIN_STRENGTH:
        feedback = verdict["feedback"]
        why = " ".join([feedback.get("warning") or "", *feedback.get("suggestions", [])]).strip()
        raise PasswordRejected(
            "the password is too easy to guess"
            + (f": {why}" if why else "")
            + " (a few uncommon words make a strong one)"
        )


def hash_password(password: str, hasher: PasswordHasher = _hasher, username: str = "") -> str:
    """An argon2id hash of a new password, which must be strong (require_strong)."""
    require_strong(password, username)
    return hasher.hash(password)


def verify_password(
    password_hash: str | None, password: str, hasher: PasswordHasher = _hasher
) -> bool:
    """True when the password matches; constant work whether or not the user exists."""
    try:
        return hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class PasswordPool:
    """argon2 off the event loop: a few threads and a bounded number of sign-ins waiting."""

    def __init__(
        self,
        threads: int = HASH_THREADS,
        waiting: int = HASH_WAITING,
        hasher: PasswordHasher = _hasher,
    ) -> None:
        self.hasher = hasher
        self.capacity = threads + waiting
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="argon2")
        self._taken = 0
        self._guard = threading.Lock()  # done-callbacks run on the worker threads

    @property
    def in_flight(self) -> int:
        """Sign-ins being checked or waiting for a thread."""
        return self._taken

    async def _run(self, work: Callable[[], _T]) -> _T:
        with self._guard:
            if self._taken >= self.capacity:
                raise HasherBusy("too many sign-ins at once")
            self._taken += 1
        # The slot is freed when the thread finishes, not when the request goes away: a
        # client that hangs up cannot make room for more work than the threads can do.
        future = self._executor.submit(work)
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _future: object) -> None:
        with self._guard:
            self._taken -= 1

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """verify_password on a pool thread; raises HasherBusy when the pool is full."""
        return await self._run(lambda: verify_password(password_hash, password, self.hasher))

    async def rehash(self, password: str) -> str:
        """A fresh hash of a password already in use (today's parameters), on a pool thread."""
        return await self._run(lambda: self.hasher.hash(password))

    def close(self) -> None:
        """Stop the threads once the work already taken is done."""
        self._executor.shutdown(wait=False, cancel_futures=False)


_pool: PasswordPool | None = None


def password_pool() -> PasswordPool:
    """The process's pool for sign-ins (made on first use)."""
    global _pool
    if _pool is None:
        _pool = PasswordPool()
    return _pool


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


def oldest_session(now: datetime) -> datetime:
    """Sessions signed in before this have ended, however recently used (SESSION_MAX)."""
    return now - SESSION_MAX


def expiry(now: datetime) -> datetime:
    """When a session used now expires if not used again."""
    return now + SESSION_IDLE
