"""The `data` of every event type as a pydantic model: building one is the only way to hand `emit` a payload.

Constructing a model validates it (missing, extra or mistyped fields raise `pydantic.ValidationError`), models
are frozen, and `model_construct` / `model_copy(update=...)` are refused, so what `emit` sends always has the
documented shape. Field order is the order of the keys on the wire.

The JSON Schemas derived from these models (the OpenAPI document's `webhooks`, `GET /v1/event-types`) list every
field we send and mark them all required, but they do not forbid other properties: docs/webhooks.md promises
receivers that fields may be added to `data`, and test deliveries add `"test": true` to it.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, create_model

from gitproductivity.events.operational import WebhookDeliveryFailed, WebhookEndpointDisabled
from gitproductivity.events.payload_base import EventData, Timestamp
from gitproductivity.events.payload_base import Payload as _Payload
from gitproductivity.events.types import (
    ANALYSIS_COMPLETE,
    DEVELOPER_ADDED,
    DEVELOPER_REMOVED,
    EVENT_DESCRIPTIONS,
    EVENT_TYPES,
    METRICS_UPDATED,
    REPOSITORY_CONNECTED,
    REPOSITORY_DISCONNECTED,
    WEBHOOK_TEST,
)

__all__ = [
    "EVENT_PAYLOADS",
    "AnalysisComplete",
    "DeveloperAdded",
    "DeveloperRemoved",
    "EventData",
    "MetricsDelta",
    "MetricsTotals",
    "MetricsUpdated",
    "RepositoryConnected",
    "RepositoryDisconnected",
    "Timestamp",
    "WebhookDeliveryFailed",
    "WebhookEndpointDisabled",
    "WebhookTest",
    "envelope_model",
    "example_envelope",
    "sample_data",
]


# --- developers ---------------------------------------------------------------------------------------------


class _Developer(EventData):
    developer_id: str = Field(description="The developer's id", examples=["dev_01m8cxq41hvx3jaztn23cm6ap1"])
    name: str = Field(description="The developer's name", examples=["Jane Doe"])
    email: str = Field(
        description="The developer's primary email, lower-cased (found in git history, so not necessarily valid)",
        examples=["jane@example.com"],
    )


class DeveloperAdded(_Developer):
    """A developer was added: by hand (API, UI, CLI), found as a new author by an analysis, or restored (adding
    the email of a removed developer brings that developer back with the same `developer_id`)."""

    event_type: ClassVar[str] = DEVELOPER_ADDED
    description: ClassVar[str] = EVENT_DESCRIPTIONS[DEVELOPER_ADDED]


class DeveloperRemoved(_Developer):
    """A developer was removed; their history and metrics are kept."""

    event_type: ClassVar[str] = DEVELOPER_REMOVED
    description: ClassVar[str] = EVENT_DESCRIPTIONS[DEVELOPER_REMOVED]


DeveloperAdded.example = DeveloperAdded(
    developer_id="dev_01m8cxq41hvx3jaztn23cm6ap1", name="Jane Doe", email="jane@example.com"
)
DeveloperRemoved.example = DeveloperRemoved(
    developer_id="dev_01m8cxq41hvx3jaztn23cm6ap1", name="Jane Doe", email="jane@example.com"
)


# --- repositories -------------------------------------------------------------------------------------------


class _Repository(EventData):
    repository_id: str = Field(description="The repository's id", examples=["repo_01m8cxq7b9vrkz56d6jm176fe0"])
    name: str = Field(description="The repository's name", examples=["payments"])
    url: str = Field(
        description="Where it is read from; credentials in the URL are never sent, they appear as `***`",
        examples=["https://***@github.com/acme/payments.git"],
    )
    kind: Literal["remote", "local"] = Field(
        description="`remote`: cloned into the server's data directory; `local`: a path on the server"
    )


class RepositoryConnected(_Repository):
    """A repository was connected (or connected again: the same `repository_id`); its analysis is queued."""

    event_type: ClassVar[str] = REPOSITORY_CONNECTED
    description: ClassVar[str] = EVENT_DESCRIPTIONS[REPOSITORY_CONNECTED]


class RepositoryDisconnected(_Repository):
    """A repository was disconnected; its record and metrics are kept."""

    event_type: ClassVar[str] = REPOSITORY_DISCONNECTED
    description: ClassVar[str] = EVENT_DESCRIPTIONS[REPOSITORY_DISCONNECTED]


RepositoryConnected.example = RepositoryConnected(
    repository_id="repo_01m8cxq7b9vrkz56d6jm176fe0",
    name="payments",
    url="https://***@github.com/acme/payments.git",
    kind="remote",
)
RepositoryDisconnected.example = RepositoryDisconnected(
    repository_id="repo_01m8cxq7b9vrkz56d6jm176fe0",
    name="payments",
    url="https://***@github.com/acme/payments.git",
    kind="remote",
)


# --- analyses -----------------------------------------------------------------------------------------------


class AnalysisComplete(EventData):
    """An analysis of a repository ended, successfully or not (`status`)."""

    event_type: ClassVar[str] = ANALYSIS_COMPLETE
    description: ClassVar[str] = EVENT_DESCRIPTIONS[ANALYSIS_COMPLETE]

    analysis_id: str = Field(description="The analysis' id", examples=["ana_01m8d0tz1s0c1d2e3f4g5h6j7k"])
    repository_id: str = Field(description="The repository analysed", examples=["repo_01m8cxq7b9vrkz56d6jm176fe0"])
    status: Literal["succeeded", "failed"] = Field(description="`failed`: the reason is in `error`")
    mode: Literal["full", "incremental", "up_to_date"] | None = Field(
        description="`full`: the whole history was read (first analysis, history rewritten, rules changed); "
        "`incremental`: only new commits; `up_to_date`: nothing new (no `metrics.updated` is sent); "
        "null for a failed analysis"
    )
    branch: str | None = Field(description="The branch analysed; null for a failed analysis or an empty repository")
    head_commit: str | None = Field(
        description="The commit analysed up to; null for a failed analysis or an empty repository"
    )
    commits_analysed: int = Field(description="Commits read by this analysis")
    new_commits: int = Field(description="Commits that were not in the previous analysis")
    developers_updated: int = Field(description="Developers whose totals changed (one `metrics.updated` each)")
    duration_seconds: float = Field(description="How long the analysis took, in seconds (3 decimals)")
    error: str | None = Field(description="Why the analysis failed; null when it succeeded")
    skipped_commits: int = Field(
        description="Commits of the history left out because they cannot be read or attributed (no author, no "
        "e-mail, no date); the reasons are on the analysis (`GET /v1/analyses/{id}`)",
    )


AnalysisComplete.example = AnalysisComplete(
    analysis_id="ana_01m8d0tz1s0c1d2e3f4g5h6j7k",
    repository_id="repo_01m8cxq7b9vrkz56d6jm176fe0",
    status="succeeded",
    mode="incremental",
    branch="main",
    head_commit="9f2c1e4b7a0d3c6f8e1b4a7d0c3f6e9b2a5d8c1f",
    commits_analysed=12,
    new_commits=12,
    developers_updated=3,
    duration_seconds=0.412,
    error=None,
    skipped_commits=0,
)


# --- metrics ------------------------------------------------------------------------------------------------


class _Counters(_Payload):
    commits: int = Field(description="Non-merge commits")
    merges: int = Field(description="Merge commits (never counted toward lines)")
    lines_added: int = Field(description="Lines added (binary, vendored, generated and lock files excluded)")
    lines_deleted: int = Field(description="Lines deleted (same exclusions)")
    files_changed: int = Field(description="Files changed, summed over commits")
    new_work: int = Field(0, description="Lines added that replace nothing: per diff hunk, added minus deleted, >= 0")
    refactor: int = Field(0, description="Lines deleted or replaced that were older than the churn window")
    rework: int = Field(0, description="Own lines younger than the churn window, deleted or replaced")
    help_others: int = Field(0, description="Someone else's lines younger than the churn window, deleted or replaced")
    co_authored_commits: int = Field(0, description="Commits crediting the developer in a Co-authored-by trailer")
    active_days: int = Field(description="Distinct UTC days with a commit or a co-authored commit")


class MetricsDelta(_Counters):
    """What changed: new totals minus old (negative when history was rewritten or the counting rules changed)."""


class MetricsTotals(_Counters):
    """A developer's totals in one repository."""

    first_commit_at: Timestamp | None = Field(description="The first commit's author date; null without commits")
    last_commit_at: Timestamp | None = Field(description="The last commit's author date; null without commits")


class MetricsUpdated(_Developer):
    """A developer's totals in one repository changed: one event per developer, in the transaction that stored
    the new metrics. Merging two developers also sends one per repository, with `analysis_id` null."""

    event_type: ClassVar[str] = METRICS_UPDATED
    description: ClassVar[str] = EVENT_DESCRIPTIONS[METRICS_UPDATED]

    repository_id: str = Field(description="The repository", examples=["repo_01m8cxq7b9vrkz56d6jm176fe0"])
    analysis_id: str | None = Field(
        description="The analysis that changed the totals; null when merging developers did",
        examples=["ana_01m8d0tz1s0c1d2e3f4g5h6j7k"],
    )
    totals: MetricsTotals = Field(description="The new totals of this developer in this repository")
    delta: MetricsDelta = Field(description="The change to `totals` made by this analysis (or merge)")


MetricsUpdated.example = MetricsUpdated(
    developer_id="dev_01m8cxq41hvx3jaztn23cm6ap1",
    name="Jane Doe",
    email="jane@example.com",
    repository_id="repo_01m8cxq7b9vrkz56d6jm176fe0",
    analysis_id="ana_01m8d0tz1s0c1d2e3f4g5h6j7k",
    totals=MetricsTotals(
        commits=148,
        merges=9,
        lines_added=20417,
        lines_deleted=8110,
        files_changed=1893,
        new_work=14210,
        refactor=5120,
        rework=1874,
        help_others=1116,
        co_authored_commits=7,
        active_days=61,
        first_commit_at=datetime(2026, 2, 2, 9, 14, 55, tzinfo=UTC),
        last_commit_at=datetime(2026, 11, 26, 17, 3, 41, tzinfo=UTC),
    ),
    delta=MetricsDelta(
        commits=4,
        merges=1,
        lines_added=310,
        lines_deleted=95,
        files_changed=22,
        new_work=215,
        refactor=40,
        rework=37,
        help_others=18,
        co_authored_commits=1,
        active_days=1,
    ),
)


# --- test deliveries ----------------------------------------------------------------------------------------

TEST_MESSAGE = "This is a test webhook from GitProductivity."


class WebhookTest(EventData):
    """The test sent to one endpoint when it is saved, or on request; never in the event feed."""

    event_type: ClassVar[str] = WEBHOOK_TEST
    description: ClassVar[str] = EVENT_DESCRIPTIONS[WEBHOOK_TEST]

    webhook_id: str = Field(description="The endpoint tested", examples=["wh_01m8d19z8y7x6w5v4t3s2r1q0p"])
    message: str = Field(description="A fixed text", examples=[TEST_MESSAGE])
    test: Literal[True] = Field(description='Always true: every test delivery carries `"test": true` in `data`')


WebhookTest.example = WebhookTest(webhook_id="wh_01m8d19z8y7x6w5v4t3s2r1q0p", message=TEST_MESSAGE, test=True)


# --- the catalogue ------------------------------------------------------------------------------------------

#: Every event type's payload model, in the order of `EVENT_TYPES` (the operational types last), then `webhook.test`.
EVENT_PAYLOADS: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (
        DeveloperAdded,
        DeveloperRemoved,
        RepositoryConnected,
        RepositoryDisconnected,
        AnalysisComplete,
        MetricsUpdated,
        WebhookEndpointDisabled,
        WebhookDeliveryFailed,
        WebhookTest,
    )
}
if tuple(EVENT_PAYLOADS) != (*EVENT_TYPES, WEBHOOK_TEST):  # the names live in events.types; models follow them
    raise RuntimeError("events.payloads and events.types disagree on the event types")

_EXAMPLE_EVENT_ID = "evt_01m8cxq420g7v18gwazwbe1842"
_EXAMPLE_CREATED_AT = datetime(2026, 11, 26, 21, 55, 49, tzinfo=UTC)


@functools.cache
def envelope_model(event_type: str) -> type[BaseModel]:
    """The whole delivered body of one event type, `{id, type, created_at, data}`, for documentation and checks.

    The same class for each call, so OpenAPI names it once (`DeveloperAddedEvent`, …). Raises KeyError for an
    unknown type.
    """
    data_model = EVENT_PAYLOADS[event_type]
    type_name: Any = Literal[event_type]  # built at run time: one class per type
    model: type[BaseModel] = create_model(
        f"{data_model.__name__}Event",
        __base__=_Payload,
        __doc__=f"The `{event_type}` event, exactly as delivered: {data_model.description}.",
        __module__=__name__,
        id=(
            str,
            Field(
                description="The event's id: the same on every retry and redelivery (dedupe on it); "
                "also the `webhook-id` header",
                examples=[_EXAMPLE_EVENT_ID],
            ),
        ),
        type=(type_name, Field(description="The event type")),
        created_at=(Timestamp, Field(description="When the change was committed (UTC, to the second)")),
        data=(data_model, Field(description=data_model.description)),
    )
    return model


def example_envelope(event_type: str) -> dict[str, Any]:
    """A full example body of one event type (its model's example in an envelope), as JSON-ready values."""
    model = envelope_model(event_type)
    example = model(
        id=_EXAMPLE_EVENT_ID,
        type=event_type,
        created_at=_EXAMPLE_CREATED_AT,
        data=EVENT_PAYLOADS[event_type].example,
    )
    return example.model_dump(mode="json")


def sample_data(event_type: str, *, webhook_id: str) -> dict[str, Any]:
    """`data` of a test delivery: `webhook.test` for that endpoint, or the example of another type; every one
    carries `"test": true` so receivers can tell it from a real event. Raises KeyError for an unknown type."""
    if event_type == WEBHOOK_TEST:
        return WebhookTest(webhook_id=webhook_id, message=TEST_MESSAGE, test=True).model_dump(mode="json")
    return EVENT_PAYLOADS[event_type].example.model_dump(mode="json") | {"test": True}
