"""webhook_deliveries.trace_context: the W3C `traceparent` of the span that emitted the delivery's event, so the
worker's spans (claim, POST, record) join the API request's trace (docs/observability.md). NULL when tracing
is off.

Revision ID: 0011_delivery_trace
Revises: 0011_event_feed_txid
Create Date: 2026-12-02 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_delivery_trace"
down_revision: str | Sequence[str] | None = "0011_event_feed_txid"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("trace_context", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("trace_context")
