"""Notifications: the bell's unread count, the list, mark as read. Thin handlers over `notifications.service`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gitproductivity.core.http import unit_of_work
from gitproductivity.notifications import service
from gitproductivity.notifications.schemas import NotificationRead, notification_read
from gitproductivity.web.helpers import CurrentViewer, flash, redirect, render
from gitproductivity.web.security import guard

router = APIRouter(prefix="/notifications", include_in_schema=False, dependencies=[Depends(guard)])

PAGE_SIZE = 50
BADGE_CAP = 99  # the bell shows "99+" beyond this


def link_for(subject_id: str | None, kind: str = "") -> str | None:
    """Where a notification points to, from the prefix of the id it is about."""
    if not subject_id:
        return None
    prefix = subject_id.split("_", 1)[0]
    if prefix == "wh" and kind == "delivery.failed":
        return f"/settings/webhooks/{subject_id}?status=failed"  # several deliveries failed: the failed ones
    return {
        "wh": f"/settings/webhooks/{subject_id}",
        "dlv": f"/settings/deliveries/{subject_id}",
        "repo": "/repositories",
        "ana": "/repositories",
        "dev": "/developers",
    }.get(prefix)


@dataclass(frozen=True)
class Action:
    """A button on a notice: `post` sends a form to `url` (only shown to those whose role may), else a link."""

    label: str
    url: str
    post: bool = False


def actions_for(note: NotificationRead) -> list[Action]:
    """What a person does about a notice: Redeliver a failed delivery, Enable a disabled webhook, and Open
    what it is about (opening marks it read)."""
    found: list[Action] = []
    subject = note.subject_id or ""
    if note.kind == "delivery.failed" and subject.startswith("dlv_"):
        found.append(Action("Redeliver", f"/settings/deliveries/{subject}/redeliver", post=True))
    if note.kind == "webhook.disabled" and subject.startswith("wh_"):
        found.append(Action("Enable", f"/settings/webhooks/{subject}/enable", post=True))
    if link_for(note.subject_id, note.kind):
        found.append(Action("Open", f"/notifications/{note.id}/open"))
    return found


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
        notes=[(n, actions_for(n)) for n in notes],
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


@router.post("/read-all")
def mark_all_read(request: Request, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        marked = service.mark_all_read(session, organization_id=viewer.organization_id, reader_id=viewer.user_id)
    flash(
        request,
        f"Marked {marked} notification{'' if marked == 1 else 's'} as read." if marked else "Nothing was unread.",
    )
    return redirect("/notifications")


@router.get("/{notification_id}/open")
def open_notification(notification_id: str, viewer: CurrentViewer) -> Response:
    """Opening a notice marks it read (for this reader only) and goes to what it is about."""
    with unit_of_work() as session:
        note, _read_at = service.mark_read(
            session, organization_id=viewer.organization_id, reader_id=viewer.user_id, notification_id=notification_id
        )
        target = link_for(note.subject_id, note.kind)
    return redirect(target or "/notifications")


@router.post("/{notification_id}/read")
def mark_read(request: Request, notification_id: str, viewer: CurrentViewer) -> Response:
    with unit_of_work() as session:
        service.mark_read(
            session, organization_id=viewer.organization_id, reader_id=viewer.user_id, notification_id=notification_id
        )
    return redirect("/notifications")
