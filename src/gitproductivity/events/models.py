from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base
from gitproductivity.core.types import BigIntPK, UTCDateTime


class Event(Base):
    """The outbox. `payload` is the exact envelope JSON that is signed, delivered and served by the feed.

    `seq` orders the feed in commit order (see `events.service.emit`); `id` is the public `evt_…` id.
    """

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text())

    __table_args__ = (
        Index("ix_events_org_seq", "organization_id", "seq"),
        Index("ix_events_org_type_seq", "organization_id", "type", "seq"),
    )
