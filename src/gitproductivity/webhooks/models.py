from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from gitproductivity.core.db import Base
from gitproductivity.core.types import UTCDateTime
from gitproductivity.events.models import Event


class DeliveryStatus(StrEnum):
    """A delivery is pending (due at `next_attempt_at`, or leased) until it succeeds or runs out of retries."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Webhook(Base):
    """An endpoint. `events` is a list of event types, or `["*"]` for all of them."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text())
    description: Mapped[str] = mapped_column(String(500), default="")
    events: Mapped[list[str]] = mapped_column(JSON())
    secret: Mapped[str] = mapped_column(String(100))
    # During a rotation's overlap window the previous secret still signs (Standard Webhooks header only).
    previous_secret: Mapped[str | None] = mapped_column(String(100), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The auto-disable clock (`webhooks.health`): set at a real delivery's failure when no clock runs, restarted
    # when failures stop coming for a while (`last_failure_at`), cleared by any real success. Tests never touch it.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_test_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_test_latency_ms: Mapped[float | None] = mapped_column(nullable=True)
    last_test_error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    last_test_delivery_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Routing (webhooks.filters): which events, beyond their type; None delivers every subscribed event.
    event_filter: Mapped[dict[str, Any] | None] = mapped_column(JSON(), nullable=True)
    # Extra request headers, and Authorization credentials encrypted at rest (webhooks.credentials).
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON(), nullable=True)
    auth_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    auth_secret: Mapped[str | None] = mapped_column(Text(), nullable=True)
    # The per-endpoint rate limit (webhooks.pacing): POSTs per second across every worker, None = no limit, and
    # the start of the next free slot, advanced by the claim that reserves slots (in the claim's transaction).
    rate_limit_per_second: Mapped[float | None] = mapped_column(Float(), nullable=True)
    rate_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Ordered delivery (webhooks.ordering): "per_repository", "per_developer" or "none".
    ordering: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    # A client certificate for mTLS (webhooks.client_certs): the PEM pair encrypted like the credentials, and what
    # is shown of it (subject, issuer, not_after, fingerprint_sha256), in the clear.
    client_cert_secret: Mapped[str | None] = mapped_column(Text(), nullable=True)
    client_cert_info: Mapped[dict[str, str] | None] = mapped_column(JSON(), nullable=True)


class Delivery(Base):
    """One event for one endpoint. Due when `status == pending` and `next_attempt_at <= now`; a pending delivery
    with no `next_attempt_at` is held behind an earlier one of its key (parked: webhooks.ordering).

    Claiming pushes `next_attempt_at` to the end of a lease and stamps `lease_token`; a worker that dies leaves
    a delivery that simply becomes due again when the lease runs out. Results are recorded only by the holder
    of the current lease token.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    # The event's id; test deliveries carry their own envelope in `payload` and are not in the feed.
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str | None] = mapped_column(Text(), nullable=True)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The worker (core.workers) that holds the lease: pruning a dead worker hands its leases back at once.
    worker_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    #: The W3C traceparent of the event's emission (core.tracing): the worker's spans join that trace.
    trace_context: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Ordered delivery (webhooks.ordering): the event's key for an ordered endpoint (None: unordered), and the
    #: position's first part (PostgreSQL: the writing transaction's id, the column's default; SQLite: set by
    #: fan-out), then `id`.
    order_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    order_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True, server_default=FetchedValue())

    __mapper_args__ = {"eager_defaults": False}  # `order_seq`'s default is never read back after an insert

    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(order_by="DeliveryAttempt.number", viewonly=True)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id", "webhook_id", "id"),
        # The delivery log's search (webhooks.deliveries.list_): by status, by event type, newest first.
        Index("ix_webhook_deliveries_webhook_status", "webhook_id", "status", "id"),
        Index("ix_webhook_deliveries_webhook_type", "webhook_id", "event_type", "id"),
        # The ordered claim's test (webhooks.ordering): an earlier pending delivery of the same endpoint and key.
        # Partial: unordered deliveries, and finished ones, are not in it.
        Index(
            "ix_webhook_deliveries_order",
            "webhook_id",
            "order_key",
            "order_seq",
            "id",
            postgresql_where=text("status = 'pending' AND order_key IS NOT NULL"),
            sqlite_where=text("status = 'pending' AND order_key IS NOT NULL"),
        ),
    )


class DeliveryAttempt(Base):
    """One POST: what was sent and what came back (bodies truncated). Pruned after the retention setting."""

    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_ms: Mapped[float] = mapped_column()
    request_headers: Mapped[dict[str, str]] = mapped_column(JSON())
    #: None (every attempt since migration 0017): the body sent is the delivery's payload, the event's (or a test
    #: delivery's own), which is never changed and outlives the attempt (webhooks.retention), so it is not copied.
    #: Attempts logged before kept their copy.
    request_body: Mapped[str | None] = mapped_column(Text(), nullable=True)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON(), nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text(), nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    #: The receiver's `Retry-After` on a 429/503, in seconds (a date is converted), and the wait that was then
    #: scheduled before the next try (the schedule's step, lengthened by Retry-After, at most its longest step).
    retry_after_seconds: Mapped[float | None] = mapped_column(Float(), nullable=True)
    next_retry_seconds: Mapped[float | None] = mapped_column(Float(), nullable=True)

    #: The body this attempt sent, as the delivery log serves it (`AttemptRead.request_body`).
    body_sent: Mapped[str] = column_property(
        func.coalesce(
            request_body,
            select(func.coalesce(Delivery.payload, Event.payload, ""))
            .outerjoin(Event, Event.id == Delivery.event_id)
            .where(Delivery.id == delivery_id)
            .scalar_subquery(),
        )
    )

    # One row per attempt number: a second worker can never record the same attempt again.
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)
