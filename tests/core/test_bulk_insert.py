"""`bulk_insert` (COPY on PostgreSQL, executemany on SQLite) stores exactly what a Core insert stores."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Table, Text, create_engine, insert, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from gitproductivity.core import db
from gitproductivity.core.db import Database, bulk_insert
from gitproductivity.core.types import UTCDateTime
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant

ATTEMPTS = cast(Table, DeliveryAttempt.__table__)
TRICKY = 'tab\tnewline\nreturn\rbackslash\\N \\. quote\' "double" unicode ünïcödé ✓ emoji 🎉 comma, pipe|'


def _rows(delivery_id: str, numbers: range) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)
    return [
        {
            "id": f"att_test_{delivery_id[-6:]}_{n}",
            "delivery_id": delivery_id,
            "number": n,
            "started_at": start + timedelta(seconds=n),
            "duration_ms": 1.25 * n,
            "request_headers": {"X-Tricky": TRICKY, "n": str(n)},
            "request_body": TRICKY + '{"json": [1, 2.5, null]}',
            "response_status": None if n % 2 else 200,
            "response_headers": None if n % 3 == 0 else {"Server": TRICKY},
            "response_body": None if n % 2 else TRICKY,
            "error_kind": "timeout" if n % 2 else None,
            "error": TRICKY if n % 2 else None,
            "retry_after_seconds": None if n % 2 else 120.5,
            "next_retry_seconds": None if n % 3 == 0 else 60.0 * n,
        }
        for n in numbers
    ]


@pytest.mark.parametrize("count", [1, 300])
def test_bulk_insert_round_trips_like_a_core_insert(database: Database, tenant: Tenant, count: int) -> None:
    with database.session() as session:
        endpoints.create(session, organization_id=tenant.organization_id, url="https://example.com/hook", events=["*"])
        events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    with database.session() as session:
        delivery_id = session.scalars(select(Delivery.id)).one()
        bulk_rows = _rows(delivery_id, range(1, count + 1))
        core_rows = [{**r, "id": r["id"] + "_core", "number": r["number"] + 10_000} for r in bulk_rows]
        bulk_insert(session, ATTEMPTS, bulk_rows)
        session.execute(insert(ATTEMPTS), core_rows)
    columns = [c.key for c in ATTEMPTS.c if c.key not in ("id", "number")]
    with database.session() as session:
        stored = {a.id: a for a in session.scalars(select(DeliveryAttempt))}
    assert len(stored) == 2 * count
    for row in bulk_rows:
        bulk, core = stored[row["id"]], stored[row["id"] + "_core"]
        for column in columns:
            assert getattr(bulk, column) == getattr(core, column) == row[column], column


def test_bulk_insert_of_nothing_is_a_no_op(database: Database) -> None:
    with database.session() as session:
        bulk_insert(session, ATTEMPTS, [])
        assert session.scalars(select(DeliveryAttempt)).all() == []


def test_bulk_insert_stores_json_dumps_text_and_the_core_time_text(database: Database, tenant: Tenant) -> None:
    """Byte for byte, not only equal once read back: JSON documents are `json.dumps`' text (`db._json_text`, None as
    SQL NULL) and UTC times the text a Core insert stores (on SQLite `db._sqlite_utc_text`)."""
    with database.session() as session:
        endpoints.create(session, organization_id=tenant.organization_id, url="https://example.com/hook", events=["*"])
        events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    with database.session() as session:
        delivery_id = session.scalars(select(Delivery.id)).one()
        bulk_rows = _rows(delivery_id, range(1, 31))
        offset = timezone(timedelta(hours=-7, minutes=-30))  # not UTC: stored as UTC all the same
        for n, row in enumerate(bulk_rows):
            row["started_at"] = row["started_at"].replace(microsecond=0 if n % 2 else n).astimezone(offset)
            if n % 5 == 0:
                row["request_headers"] = {**row["request_headers"], "Nested": {"a": [1, None]}}
        core_rows = [{**r, "id": r["id"] + "_core", "number": r["number"] + 10_000} for r in bulk_rows]
        bulk_insert(session, ATTEMPTS, bulk_rows)
        session.execute(insert(ATTEMPTS), core_rows)
    as_text = [ATTEMPTS.c[name].cast(Text) for name in ("id", "started_at", "request_headers", "response_headers")]
    with database.session() as session:
        stored: dict[str, tuple[Any, ...]] = {row[0]: tuple(row[1:]) for row in session.execute(select(*as_text))}
    assert len(stored) == 60
    for row in bulk_rows:
        started_at, request_headers, response_headers = stored[row["id"]]
        assert started_at == stored[row["id"] + "_core"][0]
        assert request_headers == json.dumps(row["request_headers"])
        assert response_headers == (None if row["response_headers"] is None else json.dumps(row["response_headers"]))


def test_fast_json_and_time_texts_equal_the_general_ones() -> None:
    rng = random.Random(16)
    chars = "aZ09 \"\\\t\n\x00\x7f é✓🎉<>&'"

    def text() -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(0, 12)))

    documents: list[Any] = [{}, {"a": 1}, {1: "a"}, {"a": None}, {"a": {"b": "c"}}, {True: "x"}, ["a"], "x", None]
    documents += [{text(): text() for _ in range(rng.randint(0, 10))} for _ in range(5000)]
    for document in documents:
        assert db._json_text(document) == json.dumps(document), document
    sqlite_time = UTCDateTime()._cached_bind_processor(sqlite_dialect())
    assert sqlite_time is not None
    for _ in range(5000):
        moment = datetime(
            rng.randint(2, 9998), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
            rng.randint(0, 59), rng.choice((0, rng.randint(0, 999_999))),
            tzinfo=rng.choice((UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11)))),
        )  # fmt: skip
        assert db._sqlite_utc_text(moment) == sqlite_time(moment), moment
    with pytest.raises(ValueError, match="naive"):
        db._sqlite_utc_text(datetime(2026, 12, 3, 14, 0))


def test_bind_values_processes_only_the_columns_with_a_processor_and_equals_the_plain_loop() -> None:
    rows = _rows("dlv_00000000000000000000000000", range(1, 40))
    names = list(rows[0])
    for dialect in (sqlite_dialect(), create_engine("postgresql+psycopg://").dialect):
        processors = [db._bind_processor(dialect, ATTEMPTS.c[name].type) for name in names]
        plain = [
            [
                value if proc is None or value is None else proc(value)
                for proc, value in zip(processors, r.values(), strict=True)
            ]
            for r in rows
        ]
        assert db.bind_values(dialect, ATTEMPTS, names, rows) == plain
        assert db.bind_values(dialect, ATTEMPTS, names, [list(r.values()) for r in rows]) == plain  # rows as lists
        assert plain[0][names.index("request_headers")] == json.dumps(rows[0]["request_headers"])
        assert rows[0]["request_headers"] == {"X-Tricky": TRICKY, "n": "1"}  # the caller's rows are left as they were
        with pytest.raises(ValueError, match="13 values for 14 columns"):
            db.bind_values(dialect, ATTEMPTS, names, [list(rows[0].values())[:-1]])
