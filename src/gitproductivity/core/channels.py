"""Wake-up channels: one home for "something committed, look again".

A `Channel` is a name shared by three mechanisms:
- `notify(session)`: once per transaction, NOTIFY on PostgreSQL (transactional: sent at commit) and an
  in-process wake-up after commit (all there is on SQLite);
- `subscribe()` / `unsubscribe()` / `fire()`: in-process wake-ups, thread-safe (a commit in a request thread
  sets an asyncio.Event in a worker's loop);
- `listen(...)`: a LISTEN loop on PostgreSQL for commits made by other processes, reconnecting after errors.

Model: procrastinate keeps its channels, NOTIFY and LISTEN in one place (`manager.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gitproductivity.core.db import Database, after_commit

log = logging.getLogger(__name__)

_lock = threading.Lock()
_waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)


@dataclass(frozen=True)
class Channel:
    name: str

    def notify(self, session: Session) -> None:
        """Wake this channel's listeners once the session's transaction commits (once per transaction)."""
        if self.claim(session) and session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": self.name})

    def claim(self, session: Session) -> bool:
        """`notify` for a caller that sends the NOTIFY itself, inside a statement it runs anyway (PostgreSQL:
        `pg_notify(<name>, '')` in an INSERT's RETURNING saves a round trip): True the first time in this
        transaction (then the caller must send it), False once it is sent. The in-process wake-up after commit is
        registered either way, as by `notify`."""
        sent: set[str] = session.info.setdefault("channels_notified", set())
        if self.name in sent:
            return False
        sent.add(self.name)
        after_commit(session, self.fire)
        return True

    def subscribe(self) -> asyncio.Event:
        """Register the running loop; the returned event is set on every `fire()` in this process."""
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        with _lock:
            _waiters[self.name].add((loop, woken))
        return woken

    def unsubscribe(self, woken: asyncio.Event) -> None:
        with _lock:
            _waiters[self.name] = {(lp, e) for lp, e in _waiters[self.name] if e is not woken}

    def fire(self) -> None:
        with _lock:
            targets = list(_waiters.get(self.name, ()))
        for loop, woken in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(woken.set)

    async def listen(self, database: Database, woken: asyncio.Event, stop: asyncio.Event, *, retry: float) -> None:
        """PostgreSQL: set `woken` on every NOTIFY from any process until `stop`; SQLite has only this process.

        After (re)connecting it sets `woken` once: something may have committed while nobody listened.
        """
        if database.is_sqlite:
            return
        import psycopg

        url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {self.name}")
                    woken.set()
                    async for _note in conn.notifies():
                        woken.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN %s lost (%s); polling until it is back", self.name, type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=retry)


#: Events committed (the feed's long-polls and the webhook dispatcher wake on it).
EVENTS = Channel("gitproductivity_events")
#: An analysis was queued.
ANALYSIS = Channel("gitproductivity_analysis")
