from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_of
from gitproductivity.notifications import service
from gitproductivity.notifications.schemas import AllRead, NotificationPage, NotificationRead, notification_read
from gitproductivity.orgs.auth import CurrentPrincipal, allow
from gitproductivity.orgs.roles import Role

# Every role reads them and marks them read: read state is the caller's own (a member's, or an API key's).
router = APIRouter(
    prefix="/v1/notifications",
    tags=["notifications"],
    responses=ERROR_RESPONSES,
    dependencies=[allow("notifications", write=Role.VIEWER)],
)


@router.get("", response_model=NotificationPage)
def list_notifications(
    principal: CurrentPrincipal,
    unread: bool = False,
    after: Annotated[
        str | None, Query(max_length=64, pattern=r"^[\w-]+$", description="Cursor: the last id of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> NotificationPage:
    """Newest first: failed deliveries, endpoints disabled automatically. `read_at` and `unread` are the
    caller's own read state (each member and each API key has one)."""
    with unit_of_work() as session:
        rows = service.list_(
            session,
            organization_id=principal.organization_id,
            reader_id=principal.reader_id,
            unread=unread,
            after=after,
            limit=limit,
        )
        return page_of([notification_read(n, at) for n, at in rows], limit=limit)


@router.post("/read-all", response_model=AllRead)
def mark_all_notifications_read(principal: CurrentPrincipal) -> AllRead:
    """Mark every notification read, for the caller only (each member and each API key has their own state)."""
    with unit_of_work() as session:
        marked = service.mark_all_read(
            session, organization_id=principal.organization_id, reader_id=principal.reader_id
        )
    return AllRead(marked=marked)


@router.post("/{notification_id}/read", response_model=NotificationRead)
def mark_notification_read(notification_id: PathId, principal: CurrentPrincipal) -> NotificationRead:
    """Read for the caller only: other members still see it unread until they read it."""
    with unit_of_work() as session:
        note, read_at = service.mark_read(
            session,
            organization_id=principal.organization_id,
            reader_id=principal.reader_id,
            notification_id=notification_id,
        )
        return notification_read(note, read_at)
