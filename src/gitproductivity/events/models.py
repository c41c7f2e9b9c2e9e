from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, FetchedValue, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gitproductivity.core.db import Base
from gitproductivity.core.types import BigIntPK, UTCDateTime


class Event(Base):
    """The outbox. `payload` is the exact envelope JSON that is signed, delivered and served by the feed.

    The feed's order is (`txid`, `seq`) (see `events.service`): `txid` is the id of the transaction that wrote
    the event on PostgreSQL (its column default, `pg_current_xact_id()`), 0 on SQLite and for events written
    before migration 0011; `seq` numbers events in the order they were written. `id` is the public `evt_…` id.
    """

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text())
    # Filled by the database (migration 0011), never by us: the ORM and `bulk_insert` leave it out, and an insert
    # does not read it back (`eager_defaults`): nothing after `emit` needs it, and the RETURNING would cost.
    txid: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())

    __mapper_args__ = {"eager_defaults": False}
    __table_args__ = (
        Index("ix_events_org_txid_seq", "organization_id", "txid", "seq"),
        Index("ix_events_org_type_txid_seq", "organization_id", "type", "txid", "seq"),
    )
