"""`/healthz` never waits behind a writer (issue 12): on SQLite every transaction takes the write lock, and an
analysis storing a large history holds it for seconds; the health check must still answer at once."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import text

from gitproductivity.core.db import Database

BUSY_TIMEOUT = 30.0  # PRAGMA busy_timeout (core/db.py)


def test_healthz_answers_while_a_write_transaction_is_open(client: TestClient, database: Database) -> None:
    with database.session() as session:
        session.execute(
            text("UPDATE organizations SET name = name")
        )  # a writer holds the lock (SQLite: BEGIN IMMEDIATE)
        started = time.monotonic()
        resp = client.get("/healthz")
        elapsed = time.monotonic() - started
    assert (resp.status_code, resp.json()) == (200, {"status": "ok", "database": "ok"})
    # Waiting for the lock would have meant SQLite's busy timeout, then 503 (the writer holds it throughout).
    assert elapsed < BUSY_TIMEOUT / 2
