"""A claimed delivery is POSTed only while its lease covers the whole POST: one that waited too long for an
endpoint slot is left alone (not sent, not recorded) and is sent once its lease has run out."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.events import service as events
from gitproductivity.events.payloads import MetricsUpdated
from gitproductivity.webhooks import endpoints
from gitproductivity.webhooks.models import Delivery, DeliveryAttempt
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, RunningDispatcher, configure, wait_for

pytestmark = pytest.mark.slow  # waits out real leases: several seconds

TIMEOUT = 3.0
LEASE = 5.0  # the dispatcher's margin is then min(1, (5 - 3) / 2) = 1 s
SLOW = 2.0  # each POST takes this long: below the timeout, above what a queued POST may wait (5 - 3 - 1 = 1 s)


def test_a_delivery_that_waited_past_its_lease_is_not_sent_until_the_lease_ends(
    database: Database,
    database_url: str,
    tenant: Tenant,
    receiver: Receiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(
        database_url, tmp_path, webhook_endpoint_concurrency=1, webhook_timeout=TIMEOUT, webhook_lease_seconds=LEASE
    )
    receiver.slow_seconds = SLOW
    with database.session() as session:
        hook_id = endpoints.create(
            session, organization_id=tenant.organization_id, url=receiver.url("/slow"), events=["*"]
        ).id
    caplog.set_level(logging.WARNING, logger="gitproductivity.webhooks.dispatcher")
    running = RunningDispatcher(database)
    try:
        before = time.time()  # nothing can be claimed earlier than this
        with database.session() as session:  # one commit, so one claim takes both under the same lease
            for _n in range(2):
                events.emit(session, organization_id=tenant.organization_id, data=MetricsUpdated.example)

        def skipped() -> set[str]:
            return {
                str(r.args[0])
                for r in caplog.records
                if "waited past its lease" in r.getMessage() and isinstance(r.args, tuple)
            }

        # One POST holds the only slot for 2 s; the other gets it too late to finish within its lease.
        late = wait_for(skipped, timeout=30, what="a delivery skipped for its lease")
        with database.session() as session:  # the stale worker recorded nothing for it
            for delivery_id in late:
                row = session.get(Delivery, delivery_id)
                assert row is not None and row.status == "pending" and row.attempts == 0
                attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id))
                assert attempts.all() == []
        assert not any(r.headers["X-GitProductivity-Delivery"] in late for r in receiver.requests)

        def all_done() -> bool:
            with database.session() as session:
                states = session.scalars(select(Delivery.status).where(Delivery.webhook_id == hook_id)).all()
            return len(states) == 2 and set(states) == {"succeeded"}

        wait_for(all_done, timeout=30, what="both deliveries succeeded")
    finally:
        running.stop()

    sent = Counter(r.headers["X-GitProductivity-Delivery"] for r in receiver.requests)
    assert len(sent) == 2 and set(sent.values()) == {1}  # each POSTed exactly once
    for r in receiver.requests:
        if r.headers["X-GitProductivity-Delivery"] in late:
            assert r.at >= before + LEASE  # sent only after the lease it waited under had run out
    assert receiver.max_in_flight == 1
    with database.session() as session:
        rows = session.execute(select(DeliveryAttempt.delivery_id, DeliveryAttempt.number)).all()
    assert sorted(n for _, n in rows) == [1, 1] and {d for d, _ in rows} == set(sent)
