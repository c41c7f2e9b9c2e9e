from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from gitproductivity.core.pagination import Page


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    subject: str
    body: str
    subject_id: str | None
    created_at: datetime
    read_at: datetime | None


NotificationPage = Page[NotificationRead]
