"""Per-key rate limits: an in-process token bucket per API key (and per client address for failed sign-ins).

Each bucket holds up to `burst` tokens and refills at `per_minute / 60` tokens a second; a request takes one
token, and a request finding the bucket empty is refused with 429 and `Retry-After` (whole seconds until a
token is back). The buckets live in the server process: with N server processes a key may make up to N times
the limit. That is acceptable for what the limit is for (a runaway script or a password guesser is slowed
down by orders of magnitude, and no database write is added to every request); a hard global quota would
belong in a shared store.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from gitproductivity.core.errors import RateLimited

#: Above this many buckets, full ones (idle callers) are dropped, so addresses cannot grow memory for ever.
_PRUNE_ABOVE = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by any string. `per_minute == 0` turns the limiter off."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None when it has a token (nothing is taken)."""
        if not self.enabled:
            return None
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return None
            self._refill(bucket, time.monotonic())
            return None if bucket.tokens >= 1 else max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def take(self, key: str) -> int | None:
        """Take a token for `key`: None when allowed, else the seconds to wait (nothing is taken)."""
        if not self.enabled:
            return None
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= _PRUNE_ABOVE:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(tokens=self.burst, updated=now)
            self._refill(bucket, now)
            if bucket.tokens < 1:
                return max(1, math.ceil((1 - bucket.tokens) / self.rate))
            bucket.tokens -= 1
            return None

    def check(self, key: str, what: str) -> None:
        """Take a token or raise `RateLimited` (429 with `Retry-After`)."""
        wait = self.take(key)
        if wait is not None:
            raise RateLimited(f"too many requests for this {what}; try again in {wait} s", retry_after=wait)

    def _prune(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            self._refill(bucket, now)
            if bucket.tokens >= self.burst:
                del self._buckets[key]
