"""The retry schedule: `policy.next_delay` exactly as docs/delivery.md and docs/webhooks.md publish it, custom
schedules from `GITPRODUCTIVITY_RETRY_SCHEDULE`, and a real failing receiver whose delivery is rescheduled by
exactly each delay of the schedule in turn (unequal delays, so a constant delay fails).

The delivery test moves time with `tests.clock.Clock` (over `queue.utcnow` and `dispatcher.utcnow`): the clock
stands still between moves, so every `next_attempt_at` is known to the second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import select

from gitproductivity.core import channels
from gitproductivity.core.db import Database
from gitproductivity.core.settings import DEFAULT_RETRY_SCHEDULE, Settings
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded
from gitproductivity.webhooks import endpoints, policy
from gitproductivity.webhooks.models import Delivery
from tests.clock import Clock, moved_clock
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, RunningDispatcher, configure, wait_for

DOCS = Path(__file__).resolve().parents[2] / "docs"
MINUTE, HOUR = 60.0, 3600.0


def test_default_schedule_is_the_published_one() -> None:
    """Retry 1 after 1 minute, then 5 minutes, 30 minutes, 2 hours, 24 hours; after the fifth retry: failed."""
    published = [1 * MINUTE, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 24 * HOUR]
    assert Settings().retry_schedule == tuple(published) == DEFAULT_RETRY_SCHEDULE
    delays = [policy.next_delay(failed_attempts=n, schedule=Settings().retry_schedule) for n in range(1, 7)]
    assert delays == [*published, None]


def test_the_docs_tables_give_the_default_schedule() -> None:
    units = {"minute": MINUTE, "minutes": MINUTE, "hour": HOUR, "hours": HOUR}
    table = re.findall(r"^\| (\d) \| (\d+) (minutes?|hours?) \|", (DOCS / "webhooks.md").read_text(), re.MULTILINE)
    assert [(int(n), int(v) * units[u]) for n, v, u in table] == list(enumerate(DEFAULT_RETRY_SCHEDULE, start=1))
    assert "default `60,300,1800,7200,86400`" in (DOCS / "delivery.md").read_text()


def test_a_custom_schedule_comes_from_the_setting() -> None:
    custom = Settings(retry_schedule="5, 0.5,3600")
    assert custom.retry_schedule == (5.0, 0.5, 3600.0)
    assert [policy.next_delay(failed_attempts=n, schedule=custom.retry_schedule) for n in (1, 2, 3, 4)] == [
        5.0,
        0.5,
        3600.0,
        None,
    ]
    assert policy.next_delay(failed_attempts=1, schedule=Settings(retry_schedule="").retry_schedule) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("60,soon", "comma-separated list of seconds"),
        ("60,-1", "must not be negative"),
        ("60,31536001", "at most 31536000 seconds"),
    ],
)
def test_bad_schedules_are_refused_in_words(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(retry_schedule=value)


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        policy.next_delay(failed_attempts=0, schedule=DEFAULT_RETRY_SCHEDULE)


@given(st.lists(st.integers(min_value=0, max_value=31_536_000), max_size=12), st.integers(min_value=1, max_value=20))
def test_the_nth_failure_waits_the_nth_delay_and_none_after_the_last(schedule: list[int], failed: int) -> None:
    got = policy.next_delay(failed_attempts=failed, schedule=schedule)
    assert got == (float(schedule[failed - 1]) if failed <= len(schedule) else None)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    yield moved_clock(monkeypatch)


def test_a_failing_receiver_is_retried_after_each_delay_of_the_schedule(
    database: Database, database_url: str, tenant: Tenant, tmp_path: Path, receiver: Receiver, clock: Clock
) -> None:
    configure(database_url, tmp_path, retry_schedule="60,300,1800,7200,86400")
    with database.session() as session:
        hook_id = endpoints.create(
            session, organization_id=tenant.organization_id, url=receiver.url("/fail"), events=["*"]
        ).id
    with database.session() as session:
        events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)

    def delivery() -> Delivery:
        with database.session() as session:
            return session.scalars(select(Delivery).where(Delivery.webhook_id == hook_id)).one()

    def after_attempt(n: int) -> Delivery | None:
        d = delivery()
        return d if d.attempts == n and d.lease_token is None else None

    running = RunningDispatcher(database)
    try:
        for n, delay in enumerate(DEFAULT_RETRY_SCHEDULE, start=1):
            d = wait_for(lambda n=n: after_attempt(n), what=f"attempt {n} recorded")  # type: ignore[misc]
            assert (d.status, d.next_attempt_at) == ("pending", clock.now + timedelta(seconds=delay)), n
            assert len(receiver.on("/fail")) == n  # nothing was tried before its time
            clock.advance(delay)
            channels.EVENTS.fire()  # the dispatcher looks again now rather than at its next poll
        d = wait_for(lambda: after_attempt(6), what="the fifth retry recorded")
    finally:
        running.stop()
    assert (d.status, d.next_attempt_at, d.completed_at) == ("failed", None, clock.now)
    assert len(receiver.on("/fail")) == 6
