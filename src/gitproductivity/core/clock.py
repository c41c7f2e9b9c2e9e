"""The one place that reads the wall clock, so tests and the dispatcher agree on 'now'."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat_z(value: datetime) -> str:
    """`2026-03-19T10:30:00Z`: the timestamp format of the public envelope."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
