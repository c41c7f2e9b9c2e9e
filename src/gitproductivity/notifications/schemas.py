from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gitproductivity.core.pagination import Page
from gitproductivity.notifications.models import Notification


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    subject: str
    body: str
    subject_id: str | None
    created_at: datetime
    read_at: datetime | None = Field(description="When you (this member, or this API key) read it; each has its own")


def notification_read(note: Notification, read_at: datetime | None) -> NotificationRead:
    return NotificationRead(
        id=note.id,
        kind=note.kind,
        subject=note.subject,
        body=note.body,
        subject_id=note.subject_id,
        created_at=note.created_at,
        read_at=read_at,
    )


NotificationPage = Page[NotificationRead]


class AllRead(BaseModel):
    marked: int = Field(description="How many notices were unread for you and are now read")
