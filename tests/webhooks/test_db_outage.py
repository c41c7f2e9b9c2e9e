"""The database going away and coming back (a restart, a failover): the dispatcher keeps going.

A TCP proxy on 127.0.0.1 stands between the dispatcher and the real PostgreSQL server; cutting it closes every
connection and refuses new ones, as a restarting server does, without touching the shared server.
benchmarks/faults.py (db-restart) restarts a real cluster of its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
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
from tests.webhooks.conftest import Receiver, RunningDispatcher, free_port, wait_for

pytestmark = pytest.mark.slow  # cuts the database away from a running dispatcher


class Proxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops every connection and refuses new ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.restore()

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
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def restore(self) -> None:
        async def start() -> None:
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def cut(self) -> None:
        async def stop() -> None:
            assert self.server is not None
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def proxy(database_url: str) -> Iterator[Proxy]:
    url = make_url(database_url)
    p = Proxy(url.host or "127.0.0.1", url.port or 5432)
    yield p
    p.close()


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite is a file: there is no server to lose
def test_dispatcher_survives_the_database_going_away(
    backend: str,
    fast: Settings,
    database: Database,
    database_url: str,
    tenant: Tenant,
    receiver: Receiver,
    proxy: Proxy,
) -> None:
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
        time.sleep(3)  # longer than the dispatcher's poll: it tries to claim at least once while cut off
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
