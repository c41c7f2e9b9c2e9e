"""webhook rate limit: per-endpoint POSTs per second, the next free slot, and Retry-After in the attempt log

`webhooks.rate_limit_per_second` (null: no limit) and `webhooks.rate_next_at`, the start of the endpoint's next
free slot, advanced by the claim that reserves slots (webhooks.pacing); `webhook_delivery_attempts`
`retry_after_seconds` (what a 429/503 asked for) and `next_retry_seconds` (the wait scheduled after the attempt).

Revision ID: 0013_webhook_rate_limit
Revises: 0013_provenance
Create Date: 2026-12-02 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gitproductivity.core.types

revision: str = "0013_webhook_rate_limit"
down_revision: str | Sequence[str] | None = "0013_provenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("rate_limit_per_second", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("rate_next_at", gitproductivity.core.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("webhook_delivery_attempts") as batch:
        batch.add_column(sa.Column("retry_after_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("next_retry_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_delivery_attempts") as batch:
        batch.drop_column("next_retry_seconds")
        batch.drop_column("retry_after_seconds")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("rate_next_at")
        batch.drop_column("rate_limit_per_second")
