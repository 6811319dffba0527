"""Rate limits: token buckets by key (a sender, a client address, a user name), in memory."""

from __future__ import annotations

import functools
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from aiohttp import web

from bot.channels.base import Throttled, too_many_response

__all__ = ["RateLimiter", "Throttled", "client_address", "too_many"]

too_many = too_many_response  # 429 with Retry-After

# Buckets kept at most; the least recently used goes first. Bounded so that a scanner sending
# from many addresses (or forging many senders) cannot grow the memory without end.
MAX_KEYS = 50_000
FORWARDED_FOR = "X-Forwarded-For"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """At most `per_minute` requests a minute per key, in bursts of up to `burst` (token bucket).

    `per_minute = 0` turns the limit off. One limiter per process: each worker of
    `serve --workers N` counts alone, so the effective limit is N times the setting.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0  # tokens a second
        self.burst = float(burst if burst is not None else per_minute)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """False when the limit is off (0 a minute)."""
        return self.per_minute > 0

    def _refill(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets.move_to_end(key)
        return bucket

    def hit(self, key: str) -> float | None:
        """Count one request; None when it is allowed, else seconds until one would be."""
        if not self.enabled:
            return None
        bucket = self._refill(key)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate

    def check(self, key: str) -> None:
        """Count one request; raise Throttled when the key is over its limit."""
        wait = self.hit(key)
        if wait is not None:
            raise Throttled(wait)

    def reset(self, key: str) -> None:
        """Forget a key (after a successful sign-in, say)."""
        self._buckets.pop(key, None)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def proxy_networks(trusted_proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """Trusted proxies as networks: an address (127.0.0.1) or a CIDR range (172.16.0.0/12)."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in trusted_proxies)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    """True when the address lies in one of the networks."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket
    return any(ip in net for net in networks if net.version == ip.version)


def client_address(request: web.Request, trusted_proxies: Collection[str] = ()) -> str:
    """The client's address; X-Forwarded-For only when the peer is a trusted reverse proxy.

    The right-most address the proxies did not add themselves is the client: entries to its
    left were written by the client and can be forged. Proxies are addresses or CIDR ranges.
    """
    peer = request.remote or "unknown"
    networks = proxy_networks(tuple(trusted_proxies))
    if not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in request.headers.get(FORWARDED_FOR, "").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ip = ipaddress.ip_address(hop)
        except ValueError:
            return peer  # garbage in the header: count it against the proxy itself
        if not _trusted(hop, networks):
            return str(ip)
    return peer


class ReplyLimiter:
    """The per-sender limit (HELPLINE_RATE_PER_SENDER) on replies, never on what is received.

    Each reply reserves the sender's next free slot (GCRA: `per_minute` at once, then one every
    60/per_minute seconds). `reserve` gives the seconds to hold the reply back; None when that
    would be more than `horizon` seconds: the message is kept but not answered. Kept messages
    and provider retries cost nothing here (duplicates are dropped before asking).
    """

    def __init__(
        self,
        per_minute: int,
        *,
        horizon: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.per_minute = per_minute
        self.horizon = horizon
        self.clock = clock
        self.max_keys = max_keys
        self._next: OrderedDict[str, float] = OrderedDict()  # theoretical arrival time per key
        # The last message each sender reserved for, and its answer: a batch of messages run
        # again (bot/store/group_commit.py, after a unit failed) asks again for the same one.
        self._last: dict[str, tuple[str, float | None]] = {}

    def reserve(self, key: str, message: str | None = None) -> float | None:
        """Seconds until this sender's next reply may go (0: now); None: do not answer. Asked
        again for the same `message` (the provider's id), the same answer, no second slot."""
        if self.per_minute <= 0:
            return 0.0
        if message is not None:
            last = self._last.get(key)
            if last is not None and last[0] == message:
                return last[1]
        now = self.clock()
        interval = 60.0 / self.per_minute
        tolerance = (self.per_minute - 1) * interval  # a minute's worth may go at once
        due = max(self._next.get(key, now), now)
        delay = max(0.0, due - tolerance - now)
        if delay > self.horizon:
            if message is not None:
                self._last[key] = (message, None)
            return None
        self._next[key] = due + interval
        self._next.move_to_end(key)
        while len(self._next) > self.max_keys:
            self._last.pop(self._next.popitem(last=False)[0], None)
        if message is not None:
            self._last[key] = (message, delay)
        return delay
