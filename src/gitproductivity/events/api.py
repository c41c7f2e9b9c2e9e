from __future__ import annotations

import functools
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from gitproductivity.core.errors import ValidationFailed
from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_from
from gitproductivity.events import service
from gitproductivity.events.payloads import EVENT_PAYLOADS, envelope_model, example_envelope
from gitproductivity.events.schemas import EventPage, EventRead, EventTypeList, EventTypeRead
from gitproductivity.events.types import OPERATIONAL_EVENT_TYPES, WEBHOOK_TEST
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role

MAX_WAIT = 60

_READ_ONLY = [allow("events", write=Role.ADMIN)]
router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES, dependencies=_READ_ONLY)
types_router = APIRouter(prefix="/v1/event-types", tags=["events"], responses=ERROR_RESPONSES, dependencies=_READ_ONLY)


@router.get("", response_model=EventPage)
async def list_events(
    principal: CurrentPrincipal,
    after: Annotated[str | None, Query(description="The id of the last event you processed")] = None,
    type: Annotated[list[str] | None, Query(description="Only these types (repeat or comma-separate)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT, description="Long-poll: if nothing is new, wait up to this many seconds for it"),
    ] = 0,
    newest: Annotated[
        bool, Query(description="Only the newest `limit` events (oldest first): a cursor to follow from now on")
    ] = False,
) -> Response:
    """The feed, in commit order: a consumer that saves the last id it saw never misses or repeats an event.

    With `wait`, an empty page is answered only after that many seconds; a new event answers at once.
    """
    types = [t.strip() for value in type or [] for t in value.split(",") if t.strip()]
    if wait and not newest:
        # Waiting happens outside any transaction; the page is then read in its own unit of work.
        await service.wait(organization_id=principal.organization_id, after=after, types=types, timeout=wait)
    body = await run_in_threadpool(_page, principal.organization_id, after, types, limit, newest)
    return Response(body, media_type="application/json")


def _page(organization_id: str, after: str | None, types: list[str], limit: int, newest: bool) -> bytes:
    """The page's JSON (`EventPage`), with each event's stored envelope as is: the bytes a webhook receives,
    neither parsed nor re-encoded (that was most of the cost of a page)."""
    with unit_of_work(read_only=True) as session:
        if newest:
            rows = service.latest(session, organization_id=organization_id, limit=limit, types=types)
            return _page_json([e.payload for e in rows], has_more=False, next_cursor=rows[-1].id if rows else None)
        found = service.list_envelopes(
            session, organization_id=organization_id, after=after, types=types, limit=limit + 1
        )
    has_more = len(found) > limit
    found = found[:limit]
    return _page_json(
        [payload for _id, payload in found], has_more=has_more, next_cursor=found[-1][0] if found else after
    )


def _page_json(envelopes: list[str], *, has_more: bool, next_cursor: str | None) -> bytes:
    tail = json.dumps({"has_more": has_more, "next_cursor": next_cursor}, ensure_ascii=False, separators=(",", ":"))
    return ('{"data":[' + ",".join(envelopes) + "]," + tail[1:]).encode()


@router.get("/{event_id}", response_model=EventRead)
def get_event(event_id: PathId, principal: CurrentPrincipal) -> EventRead:
    with unit_of_work() as session:
        event = service.get(session, organization_id=principal.organization_id, event_id=event_id)
        return EventRead.model_validate(service.envelope(event))


@types_router.get("", response_model=EventTypeList)
def list_event_types(
    principal: CurrentPrincipal,
    after: Annotated[
        str | None, Query(max_length=64, description="Cursor: the last type of the previous page (`next_cursor`)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> EventTypeList:
    """Every event type a webhook can receive (`webhook.test` last): description, JSON Schema, example.

    A list like the others (`data`, `has_more`, `next_cursor`): all of them fit in one page of the default size.
    """
    types = _event_types()
    start = 0
    if after is not None:
        names = [t.type for t in types]
        if after not in names:
            raise ValidationFailed(
                f"unknown event type {after!r}", details=[{"field": "after", "message": "must be a `next_cursor`"}]
            )
        start = names.index(after) + 1
    page = page_from(types, start=start, limit=limit, cursor=lambda t: t.type)
    return EventTypeList(data=page.data, has_more=page.has_more, next_cursor=page.next_cursor)


def category(event_type: str) -> Literal["product", "operational", "test"]:
    if event_type in OPERATIONAL_EVENT_TYPES:
        return "operational"
    return "test" if event_type == WEBHOOK_TEST else "product"


@functools.cache
def _event_types() -> tuple[EventTypeRead, ...]:
    return tuple(
        EventTypeRead(
            type=event_type,
            description=model.description,
            category=category(event_type),
            schema_=envelope_model(event_type).model_json_schema(),
            example=example_envelope(event_type),
        )
        for event_type, model in EVENT_PAYLOADS.items()
    )
