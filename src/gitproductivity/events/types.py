"""The public event types (keep stable: users subscribe to these names)."""

from __future__ import annotations

DEVELOPER_ADDED = "developer.added"
DEVELOPER_REMOVED = "developer.removed"
REPOSITORY_CONNECTED = "repository.connected"
REPOSITORY_DISCONNECTED = "repository.disconnected"
ANALYSIS_COMPLETE = "analysis.complete"
METRICS_UPDATED = "metrics.updated"
WEBHOOK_TEST = "webhook.test"

#: What a webhook can subscribe to; `webhook.test` is always sent to the endpoint being tested.
EVENT_TYPES: tuple[str, ...] = (
    DEVELOPER_ADDED,
    DEVELOPER_REMOVED,
    REPOSITORY_CONNECTED,
    REPOSITORY_DISCONNECTED,
    ANALYSIS_COMPLETE,
    METRICS_UPDATED,
)

EVENT_DESCRIPTIONS: dict[str, str] = {
    DEVELOPER_ADDED: "A new developer was added to the organization",
    DEVELOPER_REMOVED: "A developer was removed from the organization",
    REPOSITORY_CONNECTED: "A new repository was connected",
    REPOSITORY_DISCONNECTED: "A repository was disconnected",
    ANALYSIS_COMPLETE: "Repository analysis has been completed",
    METRICS_UPDATED: "Developer metrics have been updated",
    WEBHOOK_TEST: "A test event sent after saving a webhook or on request",
}
