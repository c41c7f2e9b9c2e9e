"""In-process wake-ups: a committed change wakes the workers of this process without polling.

Workers on other processes (Postgres) are woken by LISTEN/NOTIFY; this covers the same process, which is all
there is on SQLite. Thread-safe: a commit in a request thread sets an asyncio.Event in the worker's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

_lock = threading.Lock()
_waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)


def subscribe(channel: str) -> asyncio.Event:
    """Register the running loop for `channel`; the returned event is set on every `fire(channel)`."""
    loop = asyncio.get_running_loop()
    ev = asyncio.Event()
    with _lock:
        _waiters[channel].add((loop, ev))
    return ev


def unsubscribe(channel: str, ev: asyncio.Event) -> None:
    with _lock:
        _waiters[channel] = {(lp, e) for lp, e in _waiters[channel] if e is not ev}


def fire(channel: str) -> None:
    with _lock:
        targets = list(_waiters.get(channel, ()))
    for loop, ev in targets:
        if not loop.is_closed():
            loop.call_soon_threadsafe(ev.set)
