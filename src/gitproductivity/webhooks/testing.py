"""The test webhook: one delivery to one endpoint, sent at once and recorded like any other attempt.

Test envelopes are not events: the feed never shows them, and no other endpoint receives them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import get_database
from gitproductivity.core.errors import NotFound, ValidationFailed
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import Settings, get_settings
from gitproductivity.events.envelope import render
from gitproductivity.events.payloads import sample_data
from gitproductivity.events.types import EVENT_TYPES, WEBHOOK_TEST
from gitproductivity.webhooks import endpoints, outcomes, queue
from gitproductivity.webhooks.dispatcher import send_one
from gitproductivity.webhooks.models import Delivery, DeliveryStatus, Webhook
from gitproductivity.webhooks.queue import Job, Result
from gitproductivity.webhooks.sender import HttpSender, Sender


def start_test(session: Session, *, organization_id: str, webhook_id: str, event_type: str = WEBHOOK_TEST) -> Job:
    """A test delivery to one endpoint, already leased to the caller, who sends it at once (`webhook.test`, or a
    sample of any event type with `data.test = true`). Test envelopes are not events: the feed never shows them.
    """
    hook = endpoints.get(session, organization_id=organization_id, webhook_id=webhook_id)
    if event_type != WEBHOOK_TEST and event_type not in EVENT_TYPES:
        raise ValidationFailed(
            f"unknown event type {event_type!r}",
            details=[{"field": "event", "message": f"must be among {WEBHOOK_TEST}, {', '.join(EVENT_TYPES)}"}],
        )
    now = utcnow()
    event_id = new_id("evt")
    body = render(event_id, event_type, now, sample_data(event_type, webhook_id=hook.id))
    token = new_id("lse")
    lease = get_settings().webhook_lease_seconds
    delivery = Delivery(
        id=new_id("dlv"),
        organization_id=organization_id,
        webhook_id=hook.id,
        event_id=event_id,
        event_type=event_type,
        payload=body,
        is_test=True,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now + timedelta(seconds=lease),
        lease_token=token,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return queue.load_jobs(session, ids=[delivery.id], token=token, now=now, lease_seconds=lease)[0]


def finish_test(session: Session, *, result: Result) -> Webhook:
    """Record a test delivery's outcome and keep it on the endpoint."""
    outcomes.record(session, results=[result])
    hook = session.get(Webhook, result.job.webhook_id)
    if hook is None:
        raise NotFound(f"webhook {result.job.webhook_id} not found")
    o = result.outcome
    hook.last_test_at = o.started_at
    hook.last_test_ok = o.ok
    hook.last_test_status_code = o.status_code
    hook.last_test_latency_ms = round(o.duration_ms, 1)
    hook.last_test_error = o.error
    hook.last_test_delivery_id = result.job.delivery_id
    return hook


async def _send(job: Job, settings: Settings) -> Result:
    sender: Sender = HttpSender(settings)
    try:
        return await send_one(sender, job)
    finally:
        await sender.close()


def send_now(job: Job) -> Result:
    """Send a test delivery from synchronous code (an API request thread or the CLI), at once."""
    return asyncio.run(_send(job, get_settings()))


def send_test(*, organization_id: str, webhook_id: str, event_type: str = WEBHOOK_TEST) -> Webhook:
    """Send a test delivery to one endpoint now and keep its outcome on the endpoint (returned).

    Three steps: the delivery is written (leased to us, so no dispatcher takes it), sent outside any
    transaction, then recorded like any other attempt.
    """
    database = get_database()
    with database.session() as session:
        job = start_test(session, organization_id=organization_id, webhook_id=webhook_id, event_type=event_type)
    result = send_now(job)
    with database.session() as session:
        return finish_test(session, result=result)
