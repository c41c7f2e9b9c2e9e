"""Notifications: the bell's unread count, the list, mark as read. Thin handlers over `notifications.service`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gitproductivity.core.http import unit_of_work
from gitproductivity.notifications import service
from gitproductivity.notifications.schemas import notification_read
from gitproductivity.web.helpers import CurrentViewer, redirect, render
from gitproductivity.web.security import guard

router = APIRouter(prefix="/notifications", include_in_schema=False, dependencies=[Depends(guard)])

PAGE_SIZE = 50
BADGE_CAP = 99  # the bell shows "99+" beyond this


def link_for(subject_id: str | None) -> str | None:
    """Where a notification points to, from the prefix of the id it is about."""
    if not subject_id:
        return None
    prefix = subject_id.split("_", 1)[0]
    return {
        "wh": f"/settings/webhooks/{subject_id}",
        "dlv": f"/settings/deliveries/{subject_id}",
        "repo": "/repositories",
        "ana": "/repositories",
        "dev": "/developers",
    }.get(prefix)


@router.get("")
def list_notifications(
    request: Request, viewer: CurrentViewer, after: str | None = None, unread: bool = False
) -> Response:
    with unit_of_work() as session:
        rows = service.list_(
            session,
            organization_id=viewer.organization_id,
            reader_id=viewer.user_id,
            unread=unread,
            after=after,
            limit=PAGE_SIZE,
        )
        notes = [notification_read(n, at) for n, at in rows[:PAGE_SIZE]]
    return render(
        request,
        "notifications.html",
        viewer,
        notes=[(n, link_for(n.subject_id)) for n in notes],
        next_cursor=notes[-1].id if len(rows) > PAGE_SIZE else None,
        unread_only=unread,
    )


@router.get("/badge")
def badge(request: Request, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        rows = service.list_(
            session, organization_id=viewer.organization_id, reader_id=viewer.user_id, unread=True, limit=BADGE_CAP
        )
        unread = len(rows)
    label = f"{BADGE_CAP}+" if unread > BADGE_CAP else str(unread)
    return render(request, "partials/bell.html", viewer, unread=unread and label)


@router.post("/{notification_id}/read")
def mark_read(request: Request, notification_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        service.mark_read(
            session, organization_id=viewer.organization_id, reader_id=viewer.user_id, notification_id=notification_id
        )
    return redirect("/notifications")
