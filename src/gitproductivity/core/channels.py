"""Wake-up channels: one home for "something committed, look again".

A `Channel` is a name shared by three mechanisms:
- `notify(session)`: once per transaction, after it commits: an in-process wake-up (all there is on SQLite)
  and on PostgreSQL a NOTIFY, sent by this process's notifier thread (`_Notifier`: not in the transaction);
- `subscribe()` / `unsubscribe()` / `fire()`: in-process wake-ups, thread-safe (a commit in a request thread
  sets an asyncio.Event in a worker's loop);
- `listen(...)`: a LISTEN loop on PostgreSQL for commits made by other processes, reconnecting after errors.

Model: procrastinate keeps its channels, NOTIFY and LISTEN in one place (`manager.py`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import os
import threading
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gitproductivity.core.db import Database, after_commit

log = logging.getLogger(__name__)

_lock = threading.Lock()
_waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)


@dataclass(frozen=True)
class Channel:
    name: str

    def notify(self, session: Session) -> None:
        """Wake this channel's listeners once the session's transaction commits (once per transaction): in this
        process at once, in others (PostgreSQL) by a NOTIFY from this process's notifier thread."""
        sent: set[str] = session.info.setdefault("channels_notified", set())
        if self.name in sent:
            return
        sent.add(self.name)
        after_commit(session, self.fire)
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            after_commit(session, functools.partial(_notifier.post, bind.engine, self.name))

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


class _Notifier:
    """The NOTIFYs of this process, sent after their transactions commit, from one thread, coalesced.

    Not in the transaction: PostgreSQL lets one transaction that has queued a NOTIFY commit at a time (a lock on
    the database's notification queue, held from the queue's write until the commit is flushed to disk), so a
    NOTIFY in every event-writing transaction made all of them, in every process, wait for each other's flush
    (32 threads committing: 690-790 a second with a NOTIFY, 3,900-6,200 without; docs/benchmarks.md). Here a
    commit only hands the channel's name to this thread, which sends what has gathered in a transaction of its
    own with `synchronous_commit = off` (the lock is then held for microseconds: no flush), one NOTIFY per channel
    however many commits asked for it meanwhile. A NOTIFY is only a wake-up: one that is lost (the process dies
    between the commit and the send, or the database is briefly unreachable) costs a listener its next poll
    (`listen`'s callers all poll as well), never data. At exit, what is pending is sent first (`atexit`): a CLI
    command's commit still wakes the server's dispatchers at once.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[Engine, set[str]] = {}
        self._sending = False  # the thread has taken what was pending and is sending it
        self._pid = 0

    def post(self, engine: Engine, name: str) -> None:
        with self._cond:
            self._pending.setdefault(engine, set()).add(name)
            if self._pid != os.getpid():  # the first in this process (a forked child starts its own)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="gitproductivity-notify", daemon=True).start()
            self._cond.notify()

    def flush(self, timeout: float = 5.0) -> None:
        """Send what is pending now, in the calling thread, once the thread's send in progress (if any) is done:
        at exit the daemon thread would be stopped in the middle of it."""
        with self._cond:
            self._cond.wait_for(lambda: not self._sending, timeout=timeout)
            pending, self._pending = self._pending, {}
        self._send(pending)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                pending, self._pending = self._pending, {}
                self._sending = True
            try:
                self._send(pending)
            finally:
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()

    @staticmethod
    def _send(pending: dict[Engine, set[str]]) -> None:
        for engine, names in pending.items():
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    for name in sorted(names):
                        conn.execute(_PG_NOTIFY, {"channel": name})
                    conn.commit()
            except Exception as exc:  # a wake-up, not data: the listeners' poll finds what it announced
                log.warning("NOTIFY %s not sent (%s)", ", ".join(sorted(names)), type(exc).__name__)


_PG_NOTIFY = text("SELECT pg_notify(:channel, '')")
_notifier = _Notifier()
atexit.register(_notifier.flush)

#: Events committed (the feed's long-polls and the webhook dispatcher wake on it).
EVENTS = Channel("gitproductivity_events")
#: An analysis was queued.
ANALYSIS = Channel("gitproductivity_analysis")
