from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query

from gitproductivity.core.bounds import UtcDateTime
from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_of
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role
from gitproductivity.webhooks import deliveries, endpoints, options, testing
from gitproductivity.webhooks.schemas import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryRead,
    FilterTest,
    FilterTestResult,
    Recover,
    RecoverResult,
    RotateSecret,
    TestRequest,
    TestResult,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
    webhook_read,
)

#: Ids and cursors are word characters; anything else (a NUL byte, say) is a 422, never a database error.
WebhookId = PathId
DeliveryId = PathId
Cursor = Annotated[
    str | None, Query(max_length=64, pattern=r"^[\w-]+$", description="Cursor: the last id of the previous page")
]

StatusCode = Annotated[
    str | None,
    Query(
        pattern=r"^[1-5](\d\d|xx)$",
        description="The last attempt's HTTP status: exact (`503`) or a class (`5xx`)",
    ),
]
EventTypeQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[\w.*-]+$", description="An event type")]

_ADMIN_WRITES = [allow("webhooks", write=Role.ADMIN)]
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=ERROR_RESPONSES, dependencies=_ADMIN_WRITES)
deliveries_router = APIRouter(
    prefix="/v1/deliveries", tags=["webhooks"], responses=ERROR_RESPONSES, dependencies=_ADMIN_WRITES
)
#: The one read that shows a secret (the signing secret): not for viewers.
_SECRET = [allow("webhook signing secrets", write=Role.ADMIN, read=Role.ADMIN)]


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookCreate, principal: CurrentPrincipal) -> WebhookCreated:
    """Save an endpoint, then send it a `webhook.test` event at once; the outcome is in `test`."""
    with unit_of_work() as session:
        hook = endpoints.create(
            session,
            organization_id=principal.organization_id,
            url=body.url,
            events=body.events,
            description=body.description,
            event_filter=body.filter,
            headers=body.headers,
            auth=body.auth.model_dump() if body.auth else None,
            rate_limit_per_second=body.rate_limit_per_second,
            ordering=body.ordering,
            client_certificate=body.client_certificate.model_dump() if body.client_certificate else None,
        )
    tested = testing.send_test(organization_id=principal.organization_id, webhook_id=hook.id)
    read = webhook_read(tested, WebhookWithSecret)
    assert isinstance(read, WebhookWithSecret) and read.last_test is not None
    return WebhookCreated(**read.model_dump(), test=read.last_test)


@router.get("", response_model=WebhookPage)
def list_webhooks(
    principal: CurrentPrincipal,
    after: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> WebhookPage:
    with unit_of_work() as session:
        rows = endpoints.list_(session, organization_id=principal.organization_id, after=after, limit=limit)
        return page_of([webhook_read(h) for h in rows], limit=limit)


@router.get("/{webhook_id}", response_model=WebhookWithSecret, dependencies=_SECRET)
def get_webhook(webhook_id: WebhookId, principal: CurrentPrincipal) -> WebhookWithSecret:
    with unit_of_work() as session:
        hook = endpoints.get(session, organization_id=principal.organization_id, webhook_id=webhook_id)
        result: WebhookWithSecret = webhook_read(hook, WebhookWithSecret)
        return result


@router.patch("/{webhook_id}", response_model=WebhookRead)
def update_webhook(webhook_id: WebhookId, body: WebhookUpdate, principal: CurrentPrincipal) -> WebhookRead:
    """Change the URL, events, description, filter, headers, credentials, client certificate, rate limit, ordering, or
    `enabled` (enabling resumes held deliveries). Fields left out are unchanged; `null` removes the filter, the
    headers, the credentials, the client certificate or the rate limit."""
    given = body.model_fields_set
    unchanged = endpoints.UNCHANGED
    with unit_of_work() as session:
        hook = endpoints.update_(
            session,
            organization_id=principal.organization_id,
            webhook_id=webhook_id,
            url=body.url,
            events=body.events,
            description=body.description,
            enabled=body.enabled,
            event_filter=body.filter if "filter" in given else unchanged,
            headers=body.headers if "headers" in given else unchanged,
            auth=(body.auth.model_dump() if body.auth else None) if "auth" in given else unchanged,
            rate_limit_per_second=body.rate_limit_per_second if "rate_limit_per_second" in given else unchanged,
            ordering=body.ordering if body.ordering is not None else unchanged,
            client_certificate=(body.client_certificate.model_dump() if body.client_certificate else None)
            if "client_certificate" in given
            else unchanged,
        )
        result: WebhookRead = webhook_read(hook)
        return result


@router.delete("/{webhook_id}", response_model=WebhookRead)
def delete_webhook(webhook_id: WebhookId, principal: CurrentPrincipal) -> WebhookRead:
    """Remove the endpoint, its deliveries and their log."""
    with unit_of_work() as session:
        hook = endpoints.delete_(session, organization_id=principal.organization_id, webhook_id=webhook_id)
        result: WebhookRead = webhook_read(hook)
        return result


@router.post("/{webhook_id}/test", response_model=TestResult)
def test_webhook(
    webhook_id: WebhookId, principal: CurrentPrincipal, body: Annotated[TestRequest | None, Body()] = None
) -> TestResult:
    """Send a test delivery now: `webhook.test`, or a sample of `event` with `data.test = true`."""
    event = body.event if body else "webhook.test"
    hook = testing.send_test(organization_id=principal.organization_id, webhook_id=webhook_id, event_type=event)
    read: WebhookRead = webhook_read(hook)
    assert read.last_test is not None
    return read.last_test


@router.post("/{webhook_id}/test-filter", response_model=FilterTestResult)
def test_filter(webhook_id: WebhookId, body: FilterTest, principal: CurrentPrincipal) -> FilterTestResult:
    """Whether an event would be delivered to this endpoint under its filter (or `filter`, to try an edit)."""
    with unit_of_work() as session:
        hook = endpoints.get(session, organization_id=principal.organization_id, webhook_id=webhook_id)
        spec = body.filter if "filter" in body.model_fields_set else hook.event_filter
        matches, failing, subscribed = options.try_filter(spec=spec, subscribed=list(hook.events), event=body.event)
        return FilterTestResult(matches=matches, failing=failing, event_type_subscribed=subscribed)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret)
def rotate_secret(
    webhook_id: WebhookId, principal: CurrentPrincipal, body: Annotated[RotateSecret | None, Body()] = None
) -> WebhookWithSecret:
    """A new secret now; the old one also signs `webhook-signature` until `secret_rotation_ends_at`."""
    with unit_of_work() as session:
        hook = endpoints.rotate_secret(
            session,
            organization_id=principal.organization_id,
            webhook_id=webhook_id,
            overlap_seconds=body.overlap_seconds if body else None,
        )
        result: WebhookWithSecret = webhook_read(hook, WebhookWithSecret)
        return result


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    webhook_id: WebhookId,
    principal: CurrentPrincipal,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    status_code: StatusCode = None,
    event_type: EventTypeQuery = None,
    since: Annotated[UtcDateTime | None, Query(description="Created at or after this time (UTC)")] = None,
    until: Annotated[UtcDateTime | None, Query(description="Created before this time (UTC)")] = None,
    after: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> DeliveryPage:
    """Newest first; every filter given must hold (docs/webhooks.md, Searching deliveries)."""
    with unit_of_work() as session:
        rows = deliveries.list_(
            session,
            organization_id=principal.organization_id,
            webhook_id=webhook_id,
            status=status,
            search=deliveries.Search(status_code=status_code, event_type=event_type, since=since, until=until),
            after=after,
            limit=limit,
        )
        return page_of([DeliveryRead.model_validate(d) for d in rows], limit=limit)


@router.post("/{webhook_id}/recover", response_model=RecoverResult, status_code=202)
def recover(webhook_id: WebhookId, body: Recover, principal: CurrentPrincipal) -> RecoverResult:
    """Re-send every event whose delivery to this endpoint failed between `since` and `until` (default: now)."""
    with unit_of_work() as session:
        copies = deliveries.recover(
            session,
            organization_id=principal.organization_id,
            webhook_id=webhook_id,
            since=body.since,
            until=body.until,
        )
        return RecoverResult(redelivered=len(copies), deliveries=[DeliveryRead.model_validate(d) for d in copies])


@deliveries_router.get("/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(delivery_id: DeliveryId, principal: CurrentPrincipal) -> DeliveryDetail:
    with unit_of_work() as session:
        delivery = deliveries.get(session, organization_id=principal.organization_id, delivery_id=delivery_id)
        return DeliveryDetail.model_validate(delivery)


@deliveries_router.post("/{delivery_id}/redeliver", response_model=DeliveryRead, status_code=202)
def redeliver(delivery_id: DeliveryId, principal: CurrentPrincipal) -> DeliveryRead:
    """Queue a new delivery of the same event to the same endpoint (same `webhook-id` for dedupe)."""
    with unit_of_work() as session:
        copy = deliveries.redeliver(session, organization_id=principal.organization_id, delivery_id=delivery_id)
        return DeliveryRead.model_validate(copy)
