"""ordered delivery: held deliveries parked outside the due range

A pending delivery of an ordered endpoint that waits behind an earlier pending one of its key is *parked*: its
`next_attempt_at` is NULL, so the claim's scan of the due range never meets it (webhooks.ordering, docs/delivery.md);
the final outcome of the delivery before it makes it due again. Upgrading parks the deliveries held now (the
claim's ordering test keeps them in order either way; parking only takes them out of its way); downgrading makes
every parked delivery due now, since the code before this revision never releases one. No schema change.

Revision ID: 0016_ordered_heads
Revises: 0015_webhook_client_certs
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import gitproductivity.core.types

revision: str = "0016_ordered_heads"
down_revision: str | Sequence[str] | None = "0015_webhook_client_certs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARK = """
UPDATE webhook_deliveries SET next_attempt_at = NULL
WHERE status = 'pending' AND order_key IS NOT NULL AND lease_token IS NULL AND EXISTS (
    SELECT 1 FROM webhook_deliveries earlier
    WHERE earlier.webhook_id = webhook_deliveries.webhook_id AND earlier.order_key = webhook_deliveries.order_key
      AND earlier.status = 'pending' AND earlier.order_key IS NOT NULL
      AND (earlier.order_seq, earlier.id) < (webhook_deliveries.order_seq, webhook_deliveries.id)
)
"""
UNPARK = "UPDATE webhook_deliveries SET next_attempt_at = :now WHERE status = 'pending' AND next_attempt_at IS NULL"


def upgrade() -> None:
    op.execute(sa.text(PARK))


def downgrade() -> None:
    now = sa.bindparam("now", datetime.now(UTC), type_=gitproductivity.core.types.UTCDateTime())
    op.execute(sa.text(UNPARK).bindparams(now))
