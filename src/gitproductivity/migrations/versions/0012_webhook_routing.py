"""webhook routing: endpoint filters, custom headers, encrypted credentials; delivery search indexes

`event_filter` holds an endpoint's filter (webhooks.filters); `headers` its extra request headers; `auth_type`
and `auth_secret` its Authorization credentials, encrypted (webhooks.credentials). The two delivery indexes
serve the delivery log's search by status and by event type, newest first.

Revision ID: 0012_webhook_routing
Revises: 0011_delivery_trace
Create Date: 2026-12-02 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_webhook_routing"
down_revision: str | Sequence[str] | None = "0011_delivery_trace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("event_filter", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("headers", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("auth_type", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("auth_secret", sa.Text(), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_webhook_status", "webhook_deliveries", ["webhook_id", "status", "id"], unique=False
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_type", "webhook_deliveries", ["webhook_id", "event_type", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_webhook_type", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_webhook_status", table_name="webhook_deliveries")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("auth_secret")
        batch.drop_column("auth_type")
        batch.drop_column("headers")
        batch.drop_column("event_filter")
