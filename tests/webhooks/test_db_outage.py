"""The database going away and coming back (a restart, a failover): the dispatcher keeps going.

A TCP proxy on 127.0.0.1 stands between the dispatcher and the real PostgreSQL server; cutting it closes every
connection and refuses new ones, as a restarting server does, without touching the shared server.
benchmarks/faults.py (db-restart) restarts a real cluster of its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url, select

from gitproductivity.core.db import Database
from gitproductivity.core.settings import Settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import MetricsUpdated
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery
from tests.conftest import Tenant
from tests.netutil import listening_socket, port_of
from tests.webhooks.conftest import Receiver, RunningDispatcher, wait_for

pytestmark = pytest.mark.slow  # cuts the database away from a running dispatcher


class Proxy:
    """Forwards 127.0.0.1:port (bound once, port 0) to a target. `cut()` drops every connection and then resets each
    new one at once, as a restarting server does, until `restore()`; `refused` counts the connections reset."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.sock = listening_socket()
        self.port = port_of(self.sock)
        self.is_cut = False
        self.refused = 0
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> None:
            self.server = await asyncio.start_server(self._handle, sock=self.sock)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def restore(self) -> None:
        self.is_cut = False

    def cut(self) -> None:
        async def drop() -> None:
            self.is_cut = True
            for writer in list(self.writers):
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(drop(), self.loop).result(10)

    def close(self) -> None:
        async def stop() -> None:
            assert self.server is not None
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def proxy(database_url: str) -> Iterator[Proxy]:
    url = make_url(database_url)
    p = Proxy(url.host or "127.0.0.1", url.port or 5432)
    yield p
    p.close()


def claim_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("could not claim deliveries")]


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite is a file: there is no server to lose
def test_dispatcher_survives_the_database_going_away(
    backend: str,
    fast: Settings,
    database: Database,
    database_url: str,
    tenant: Tenant,
    receiver: Receiver,
    proxy: Proxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gitproductivity.webhooks.dispatcher")
    through_proxy = Database(make_url(database_url).set(port=proxy.port).render_as_string(hide_password=False))
    with database.session() as session:
        hook = endpoints.create(session, organization_id=tenant.organization_id, url=receiver.url("/ok"), events=["*"])
    running = RunningDispatcher(through_proxy)
    try:

        def emit(n: int) -> str:
            with database.session() as session:
                return events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example).id

        first = emit(1)
        wait_for(lambda: receiver.on("/ok"), timeout=15, what="the first delivery")
        proxy.cut()
        second = emit(2)  # committed while the dispatcher cannot reach the database
        # The dispatcher tries to claim while cut off, fails, says so, and goes on.
        wait_for(lambda: claim_failures(caplog), timeout=30, what="a failed claim while the database is away")
        # It reaches for the database again while it is away (a dropped pooled connection may be what failed the
        # first claim; the next one opens a connection and is refused).
        wait_for(lambda: proxy.refused > 0, timeout=30, what="a new connection tried while the database is away")
        assert running.thread.is_alive()
        proxy.restore()
        third = emit(3)

        def all_sent() -> bool:
            with database.session() as session:
                rows = session.execute(
                    select(Delivery.event_id, Delivery.status).where(Delivery.webhook_id == hook.id)
                ).all()
            return {e for e, s in rows if s == "succeeded"} == {first, second, third}

        wait_for(all_sent, timeout=20, what="every delivery after the database came back")
    finally:
        running.stop()  # raises what the dispatcher raised, if it gave up
        through_proxy.dispose()
    assert {r.headers["webhook-id"] for r in receiver.on("/ok")} == {first, second, third}
