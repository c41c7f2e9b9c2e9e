"""Operational events (`webhook.endpoint.disabled`, `webhook.delivery.failed`): emitted in the transaction that
disabled the endpoint or recorded the last failed attempt, beside the owners' notices (`webhooks.health`).

The loop rule (docs/webhooks.md, Operational events): fan-out never sends an operational event to the endpoint
it is about (`is_about`), and the failure of a delivery that carried an operational event emits nothing
(`webhooks.health.notify_failed` leaves those out); so a failing endpoint can never be told of its own failures,
and no chain of failure events can start between endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy.orm import Session

from gitproductivity.core.clock import utcnow
from gitproductivity.core.redaction import redact_url
from gitproductivity.events import service as events
from gitproductivity.events.operational import FailedEvent, WebhookDeliveryFailed, WebhookEndpointDisabled
from gitproductivity.events.types import OPERATIONAL_EVENT_TYPES
from gitproductivity.webhooks.models import Webhook


class Failure(NamedTuple):
    """A delivery that ran out of retries."""

    organization_id: str
    webhook_id: str
    url: str
    delivery_id: str
    event_id: str
    event_type: str
    attempts: int
    error: str | None
    status_code: int | None = None


def emit_disabled(session: Session, *, hook: Webhook, trigger: Literal["automatic", "manual"], now: datetime) -> None:
    events.emit(
        session,
        organization_id=hook.organization_id,
        data=WebhookEndpointDisabled(
            webhook_id=hook.id,
            url=redact_url(hook.url),
            trigger=trigger,
            reason=hook.disabled_reason or "disabled",
            failing_since=hook.failing_since,
            disabled_at=now,
        ),
    )


def emit_failed(session: Session, *, exhausted: Sequence[Failure]) -> None:
    """One `webhook.delivery.failed` per delivery (the caller leaves out deliveries of operational events)."""
    now = utcnow()
    for f in exhausted:
        events.emit(
            session,
            organization_id=f.organization_id,
            data=WebhookDeliveryFailed(
                webhook_id=f.webhook_id,
                url=redact_url(f.url),
                delivery_id=f.delivery_id,
                event=FailedEvent(id=f.event_id, type=f.event_type),
                attempts=f.attempts,
                last_status_code=f.status_code,
                last_error=f.error,
                failed_at=now,
            ),
        )


def is_about(event_type: str, payload: str, webhook_id: str, parsed: dict[str, Any] | None = None) -> bool:
    """Whether an operational event is about this endpoint (then it is not sent there)."""
    if event_type not in OPERATIONAL_EVENT_TYPES:
        return False
    envelope = parsed if parsed is not None else json.loads(payload)
    return bool(envelope.get("data", {}).get("webhook_id") == webhook_id)
