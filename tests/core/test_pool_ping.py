"""The pool pings a PostgreSQL connection only when it has been idle (`core.db.PING_AFTER_IDLE_SECONDS`): one
dropped by the server while it sat in the pool (a restart, a failover, an idle timeout) is found and replaced
before anyone uses it; one back within the second is used without the round trip, and if the server dropped it
in that second, the unit of work that meets it fails and the next one gets a new connection.

The drops are real: the server terminates the backend (`pg_terminate_backend`) of a connection of a pool of one.
Idle time is the test's `Clock` (patched over `core.db.monotonic`), so nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc, func, select

from gitproductivity.core import db
from gitproductivity.core.db import Database, set_database
from tests.clock import Clock
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has no server to drop a connection


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(db, "monotonic", c.monotonic)
    return c


@pytest.fixture
def pool_of_one(database: Database) -> Iterator[Database]:
    """The server's database through a pool of one connection (so the connection a test drops is the one the
    next request gets), as the process-wide database; the suite's own is put back afterwards."""
    server_db = Database(database.url, pool_size=1)
    set_database(server_db)
    try:
        yield server_db
    finally:
        set_database(database)
        server_db.dispose()


def backend_pid(database: Database) -> int:
    with database.session() as session:
        pid = session.scalar(select(func.pg_backend_pid()))
    assert isinstance(pid, int)
    return pid


def drop(pid: int) -> None:
    """What a restarting server does to a connection: its backend is terminated."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def test_a_connection_dropped_while_idle_is_replaced_before_the_next_request_uses_it(
    backend: str, api: TestClient, pool_of_one: Database, clock: Clock
) -> None:
    assert api.get("/v1/developers").status_code == 200
    first = backend_pid(pool_of_one)
    drop(first)
    clock.advance(db.PING_AFTER_IDLE_SECONDS + 0.5)  # idle in the pool past the rule: pinged at checkout

    resp = api.get("/v1/developers")
    assert resp.status_code == 200, resp.text  # no error reached the client
    clock.advance(db.PING_AFTER_IDLE_SECONDS + 0.5)
    assert backend_pid(pool_of_one) != first  # a new connection took the dropped one's place


def test_a_connection_back_within_the_second_is_used_without_a_ping_and_replaced_once_it_fails(
    backend: str, pool_of_one: Database, clock: Clock
) -> None:
    first = backend_pid(pool_of_one)
    drop(first)
    clock.advance(db.PING_AFTER_IDLE_SECONDS / 2)  # back in the pool a moment ago: not pinged

    with pytest.raises(exc.OperationalError) as failed:
        backend_pid(pool_of_one)
    assert failed.value.connection_invalidated  # SQLAlchemy saw the disconnect and dropped the connection

    assert backend_pid(pool_of_one) != first  # the very next unit of work works, on a new connection


def test_a_connection_in_use_a_moment_ago_is_handed_out_as_it_is(
    backend: str, pool_of_one: Database, clock: Clock
) -> None:
    first = backend_pid(pool_of_one)
    clock.advance(db.PING_AFTER_IDLE_SECONDS)
    assert backend_pid(pool_of_one) == first  # the same connection, not replaced
    clock.advance(db.PING_AFTER_IDLE_SECONDS * 5)
    assert backend_pid(pool_of_one) == first  # pinged (it answers), and kept
