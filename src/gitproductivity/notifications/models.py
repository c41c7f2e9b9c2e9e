from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base
from gitproductivity.core.types import UTCDateTime


class Notification(Base):
    """An in-app notice for the organisation's owners (a failed delivery, an endpoint disabled, ...)."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text())
    # What it is about (a delivery or webhook id), so the UI can link to it.
    subject_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_notifications_org_id", "organization_id", "id"),)


class NotificationReceipt(Base):
    """Who has read a notice: each reader (a member, or an API key) has their own read state."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True)
    # A user id (a member) or an API key id: no foreign key, since it names either; removing a member deletes theirs.
    reader_id: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime())
