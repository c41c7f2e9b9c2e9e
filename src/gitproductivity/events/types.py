"""The public event types (keep stable: users subscribe to these names)."""

from __future__ import annotations

DEVELOPER_ADDED = "developer.added"
DEVELOPER_REMOVED = "developer.removed"
REPOSITORY_CONNECTED = "repository.connected"
REPOSITORY_DISCONNECTED = "repository.disconnected"
ANALYSIS_COMPLETE = "analysis.complete"
METRICS_UPDATED = "metrics.updated"
WEBHOOK_TEST = "webhook.test"
# Operational events (as Svix sends them): about the webhooks themselves, besides the owners' notices.
WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint.disabled"
WEBHOOK_DELIVERY_FAILED = "webhook.delivery.failed"

#: The product's events, as the published webhooks page lists them.
PRODUCT_EVENT_TYPES: tuple[str, ...] = (
    DEVELOPER_ADDED,
    DEVELOPER_REMOVED,
    REPOSITORY_CONNECTED,
    REPOSITORY_DISCONNECTED,
    ANALYSIS_COMPLETE,
    METRICS_UPDATED,
)
#: Events about the webhooks themselves. Never sent to the endpoint they are about, and a delivery of one that
#: fails emits no `webhook.delivery.failed` (docs/webhooks.md, Operational events): no endpoint hears of its own
#: failures in a loop.
OPERATIONAL_EVENT_TYPES: tuple[str, ...] = (WEBHOOK_ENDPOINT_DISABLED, WEBHOOK_DELIVERY_FAILED)

#: What a webhook can subscribe to; `webhook.test` is always sent to the endpoint being tested.
EVENT_TYPES: tuple[str, ...] = (*PRODUCT_EVENT_TYPES, *OPERATIONAL_EVENT_TYPES)

EVENT_DESCRIPTIONS: dict[str, str] = {
    DEVELOPER_ADDED: "A new developer was added to the organization",
    DEVELOPER_REMOVED: "A developer was removed from the organization",
    REPOSITORY_CONNECTED: "A new repository was connected",
    REPOSITORY_DISCONNECTED: "A repository was disconnected",
    ANALYSIS_COMPLETE: "Repository analysis has been completed",
    METRICS_UPDATED: "Developer metrics have been updated",
    WEBHOOK_ENDPOINT_DISABLED: "A webhook endpoint was disabled, automatically after failing or by a user",
    WEBHOOK_DELIVERY_FAILED: "A webhook delivery failed after its last retry",
    WEBHOOK_TEST: "A test event sent after saving a webhook or on request",
}
