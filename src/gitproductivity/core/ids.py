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


#: Every pair of digits, at the index of the 10 bits it stands for (`_PAIRS[0b00001_00010] == "12"`).
_PAIRS = tuple(first + second for first in _ALPHABET for second in _ALPHABET)


def _encode(value: int, length: int) -> str:
    """The last `length` base32 digits of `value`, most significant first."""
    if length == 26:
        return _encode_id(value)
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def _encode_id(v: int) -> str:
    """`_encode(v, 26)`, an id's 130 bits: 13 pairs of digits, a table look-up each (the webhook engine makes an
    id per delivery attempt; the loop over 26 digits cost three times as much)."""
    t = _PAIRS
    return "".join(
        (
            t[v >> 120 & 1023],
            t[v >> 110 & 1023],
            t[v >> 100 & 1023],
            t[v >> 90 & 1023],
            t[v >> 80 & 1023],
            t[v >> 70 & 1023],
            t[v >> 60 & 1023],
            t[v >> 50 & 1023],
            t[v >> 40 & 1023],
            t[v >> 30 & 1023],
            t[v >> 20 & 1023],
            t[v >> 10 & 1023],
            t[v & 1023],
        )
    )


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
    return _encode_id((ms << 80) | rand)


def new_id(prefix: str) -> str:
    return f"{prefix}_{new_ulid()}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27


def require_id(value: str, prefix: str, what: str) -> None:
    """A malformed id cannot exist: 404 at once (and PostgreSQL never sees a NUL byte from a URL)."""
    if not (has_prefix(value, prefix) and value.replace("_", "").isalnum()):
        raise NotFound(f"{what} {value!r} not found")
