"""Operational events: about the webhooks themselves (the way Svix sends operational webhooks), emitted by
`webhooks.health` and `webhooks.endpoints` beside the owners' in-app and e-mail notices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import Field

from gitproductivity.events.payload_base import EventData, Payload, Timestamp
from gitproductivity.events.types import EVENT_DESCRIPTIONS, WEBHOOK_DELIVERY_FAILED, WEBHOOK_ENDPOINT_DISABLED

_WEBHOOK_ID = Field(description="The endpoint this is about", examples=["wh_01m8d19z8y7x6w5v4t3s2r1q0p"])
_URL = Field(
    description="The endpoint's URL; credentials in it, if any, appear as `***`",
    examples=["https://hooks.example.com/gitproductivity"],
)


class WebhookEndpointDisabled(EventData):
    """An endpoint was disabled: automatically, because every delivery to it failed for the auto-disable window,
    or by a user. Its pending deliveries are kept and resume when it is enabled again. Never sent to the endpoint
    itself (it is disabled)."""

    event_type: ClassVar[str] = WEBHOOK_ENDPOINT_DISABLED
    description: ClassVar[str] = EVENT_DESCRIPTIONS[WEBHOOK_ENDPOINT_DISABLED]

    webhook_id: str = _WEBHOOK_ID
    url: str = _URL
    trigger: Literal["automatic", "manual"] = Field(
        description="`automatic`: after failing for the auto-disable window; `manual`: by a user (API, UI, CLI)"
    )
    reason: str = Field(description="Why, in words (as shown on the endpoint)")
    failing_since: Timestamp | None = Field(
        description="When the run of failures began (automatic); null when disabled by a user while healthy"
    )
    disabled_at: Timestamp = Field(description="When it was disabled")


class FailedEvent(Payload):
    """The event a failed delivery carried (fetch it with GET /v1/events/{id})."""

    id: str = Field(description="The event's id", examples=["evt_01m8cxq420g7v18gwazwbe1842"])
    type: str = Field(description="The event's type", examples=["metrics.updated"])


class WebhookDeliveryFailed(EventData):
    """A delivery to an endpoint failed after its last retry and will not be tried again by itself. Never sent to
    that endpoint, and never emitted for a delivery of an operational event (no loops)."""

    event_type: ClassVar[str] = WEBHOOK_DELIVERY_FAILED
    description: ClassVar[str] = EVENT_DESCRIPTIONS[WEBHOOK_DELIVERY_FAILED]

    webhook_id: str = _WEBHOOK_ID
    url: str = _URL
    delivery_id: str = Field(description="The delivery that failed", examples=["dlv_01m8d2a0b1c2d3e4f5g6h7j8k9"])
    event: FailedEvent = Field(description="The event it carried")
    attempts: int = Field(description="Attempts made, the first try included")
    last_status_code: int | None = Field(description="The last attempt's HTTP status; null when it got no answer")
    last_error: str | None = Field(description="The last attempt's error, in words")
    failed_at: Timestamp = Field(description="When the last attempt failed")


WebhookEndpointDisabled.example = WebhookEndpointDisabled(
    webhook_id="wh_01m8d19z8y7x6w5v4t3s2r1q0p",
    url="https://hooks.example.com/gitproductivity",
    trigger="automatic",
    reason="disabled automatically: every delivery has failed since 2026-11-21T21:55:49Z",
    failing_since=datetime(2026, 11, 21, 21, 55, 49, tzinfo=UTC),
    disabled_at=datetime(2026, 11, 26, 21, 55, 49, tzinfo=UTC),
)
WebhookDeliveryFailed.example = WebhookDeliveryFailed(
    webhook_id="wh_01m8d19z8y7x6w5v4t3s2r1q0p",
    url="https://hooks.example.com/gitproductivity",
    delivery_id="dlv_01m8d2a0b1c2d3e4f5g6h7j8k9",
    event=FailedEvent(id="evt_01m8cxq420g7v18gwazwbe1842", type="metrics.updated"),
    attempts=6,
    last_status_code=503,
    last_error="HTTP 503",
    failed_at=datetime(2026, 11, 26, 21, 55, 49, tzinfo=UTC),
)
