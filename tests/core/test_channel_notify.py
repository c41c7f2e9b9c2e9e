"""`core.channels`: on PostgreSQL the NOTIFY that wakes other processes is sent after the commit, by the process's
notifier thread, outside the transaction (a NOTIFY inside it serialises every notifying commit of the database).

Against a real PostgreSQL, with a real LISTEN on another connection: a commit wakes the listener, a rollback does
not, a burst of commits wakes it (never missing the last one), the committing transaction itself queues no
NOTIFY, a process that commits and exits at once still
wakes it, and a database that cannot be reached costs a warning, not an error to the committer.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg
import pytest

from gitproductivity.core import channels
from gitproductivity.core.db import Database

from ..conftest import inherited_env


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    db = Database(postgres_url)
    yield db
    db.dispose()


@pytest.fixture
def listener(postgres_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"LISTEN {channels.EVENTS.name}")
        yield conn


def received(conn: psycopg.Connection, *, within: float) -> list[psycopg.Notify]:
    """The notifications that reach `conn` within `within` seconds (stops at the first quiet 0.3 s after one)."""
    found: list[psycopg.Notify] = []
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        batch = list(conn.notifies(timeout=min(left, 0.3) if found else left, stop_after=1))
        if not batch:
            if found:
                break
            continue
        found += batch
    return found


def test_a_commit_wakes_another_connection_and_a_rollback_does_not(pg: Database, listener: psycopg.Connection) -> None:
    with pg.session() as session:
        channels.EVENTS.notify(session)
        channels.EVENTS.notify(session)  # once per transaction
    notes = received(listener, within=5)
    assert [n.channel for n in notes] == [channels.EVENTS.name]

    with pytest.raises(RuntimeError), pg.session() as session:
        channels.EVENTS.notify(session)
        raise RuntimeError("rolled back")
    assert received(listener, within=1) == []


def test_the_committing_transaction_itself_sends_no_notify(
    pg: Database, listener: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the notifier held back, a commit that asked for a wake-up reaches no listener: the transaction queued
    no NOTIFY (so its commit took no notify-queue lock). The notifier was handed the channel after the commit."""
    posted: list[tuple[object, str]] = []
    monkeypatch.setattr(channels._notifier, "post", lambda engine, name: posted.append((engine, name)))
    with pg.session() as session:
        channels.EVENTS.notify(session)
        assert posted == []  # not before the commit
    assert posted == [(pg.engine, channels.EVENTS.name)]
    assert received(listener, within=1) == []


def test_a_burst_of_commits_is_coalesced_and_the_last_one_is_never_missed(
    pg: Database, listener: psycopg.Connection
) -> None:
    commits = 300
    for _ in range(commits):
        with pg.session() as session:
            channels.EVENTS.notify(session)
    notes = received(listener, within=5)
    # PostgreSQL folds identical NOTIFYs of one transaction, not across transactions: each note is a send.
    assert 1 <= len(notes) <= commits
    # After the burst, one more commit still wakes the listener (nothing was left stuck in the notifier).
    with pg.session() as session:
        channels.EVENTS.notify(session)
    assert len(received(listener, within=5)) >= 1


def test_a_process_that_commits_and_exits_at_once_still_wakes_the_listener(
    postgres_url: str, listener: psycopg.Connection
) -> None:
    """A CLI command: its NOTIFY is sent at exit, not lost with the notifier's daemon thread."""
    script = (
        "from gitproductivity.core import channels\n"
        "from gitproductivity.core.db import Database\n"
        "import sys\n"
        "db = Database(sys.argv[1])\n"
        "with db.session() as session:\n"
        "    channels.EVENTS.notify(session)\n"
    )
    subprocess.run([sys.executable, "-c", script, postgres_url], check=True, env=inherited_env(), timeout=60)
    notes = received(listener, within=5)
    assert [n.channel for n in notes] == [channels.EVENTS.name]


def test_an_unreachable_database_costs_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = Database("postgresql://postgres@127.0.0.1:1/nowhere")
    try:
        with caplog.at_level(logging.WARNING, logger=channels.__name__):
            channels._notifier._send({unreachable.engine: {channels.EVENTS.name}})  # what the thread does
        warned = [r.getMessage() for r in caplog.records if r.name == channels.__name__]
        assert warned == [f"NOTIFY {channels.EVENTS.name} not sent (OperationalError)"]
        assert "postgres@" not in caplog.text  # the URL (and any password in it) is not logged
    finally:
        unreachable.dispose()
