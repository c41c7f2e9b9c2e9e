"""A short in-process memory of API keys that authenticated, so most requests skip the key's database lookup
(on SQLite that lookup was a second transaction, and every transaction takes the write lock).

Keyed by the key's SHA-256 hash (the raw key is never kept). An entry lives `TTL_SECONDS`; revoking a key in
this process forgets it when the revocation commits (`orgs.service.revoke_api_key`), so the next request with
it is refused at once. Another process (a second API server on the same PostgreSQL) sees the revocation when
its entry runs out: within `TTL_SECONDS`. Unknown and revoked keys are never remembered: they are looked up
every time, as before.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

#: How long an authenticated key is trusted without looking at the database again.
TTL_SECONDS = 2.0
#: Bound on the memory: past this many live keys the oldest entries are dropped (then looked up again).
MAX_ENTRIES = 10_000

V = TypeVar("V")


class KeyCache(Generic[V]):
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._forgotten = 0  # how many times `forget` ran: a lookup that saw a revocation race does not `put`

    @property
    def generation(self) -> int:
        """Read before looking a key up; `put` is ignored if any key was forgotten since (a revocation that
        committed while the lookup ran must not be undone by it)."""
        return self._forgotten

    def get(self, key_hash: str) -> V | None:
        found = self._entries.get(key_hash)
        if found is None:
            return None
        expires, value = found
        if time.monotonic() >= expires:
            with self._lock:
                if self._entries.get(key_hash) is found:
                    del self._entries[key_hash]
            return None
        return value

    def put(self, key_hash: str, value: V, generation: int) -> None:
        with self._lock:
            if generation != self._forgotten:
                return
            if len(self._entries) >= self.max_entries:
                for old in list(self._entries)[: max(1, self.max_entries // 10)]:  # oldest first (insertion order)
                    del self._entries[old]
            self._entries.pop(key_hash, None)
            self._entries[key_hash] = (time.monotonic() + self.ttl, value)

    def forget(self, key_hash: str) -> None:
        with self._lock:
            self._forgotten += 1
            self._entries.pop(key_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._forgotten += 1
            self._entries.clear()
