"""Prefixed, random, time-sortable ids (`dev_01jd…`), ULID layout in lower-case Crockford base32.

48 bits of milliseconds then 80 random bits; within one millisecond the random part is incremented, so ids
made by one process sort in creation order. Lists paginate by keyset on the id.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime

from gitproductivity.core.errors import NotFound

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def id_floor(prefix: str, moment: datetime) -> str:
    """The smallest id of `prefix` that could be minted at `moment` (a keyset bound for a time range)."""
    ms = min(max(0, int(moment.timestamp() * 1000)), (1 << 48) - 1)
    return f"{prefix}_{_encode(ms << 80, 26)}"


def new_ulid() -> str:
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            rand = (_last_rand + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_rand = ms, rand
    return _encode((ms << 80) | rand, 26)


def new_id(prefix: str) -> str:
    return f"{prefix}_{new_ulid()}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27


def require_id(value: str, prefix: str, what: str) -> None:
    """A malformed id cannot exist: 404 at once (and PostgreSQL never sees a NUL byte from a URL)."""
    if not (has_prefix(value, prefix) and value.replace("_", "").isalnum()):
        raise NotFound(f"{what} {value!r} not found")
