from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gitproductivity.core.http import ERROR_RESPONSES, PathId, unit_of_work
from gitproductivity.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_of
from gitproductivity.notifications import service
from gitproductivity.notifications.schemas import NotificationPage, NotificationRead
from gitproductivity.orgs.auth import CurrentPrincipal

router = APIRouter(prefix="/v1/notifications", tags=["notifications"], responses=ERROR_RESPONSES)


@router.get("", response_model=NotificationPage)
def list_notifications(
    principal: CurrentPrincipal,
    unread: bool = False,
    after: Annotated[
        str | None, Query(max_length=64, pattern=r"^[\w-]+$", description="Cursor: the last id of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> NotificationPage:
    """Newest first: failed deliveries, endpoints disabled automatically."""
    with unit_of_work() as session:
        rows = service.list_(
            session, organization_id=principal.organization_id, unread=unread, after=after, limit=limit
        )
        return page_of([NotificationRead.model_validate(n) for n in rows], limit=limit)


@router.post("/{notification_id}/read", response_model=NotificationRead)
def mark_notification_read(notification_id: PathId, principal: CurrentPrincipal) -> NotificationRead:
    with unit_of_work() as session:
        note = service.mark_read(session, organization_id=principal.organization_id, notification_id=notification_id)
        return NotificationRead.model_validate(note)
