"""attempts reference the delivery's payload instead of copying the body sent

`webhook_delivery_attempts.request_body` becomes nullable: the dispatcher no longer copies the body into every
attempt, since it is the delivery's payload (its own for a test delivery, else the event's), which never changes
and is kept as long as the attempt (docs/delivery.md). NULL means "that payload"; the delivery log serves
`coalesce(request_body, payload)` (`DeliveryAttempt.body_sent`). Upgrading keeps the copies already written (no
rewrite of the attempt log); downgrading writes the payload into every attempt that has none, then makes the
column NOT NULL again, as the code before this revision expects.

Revision ID: 0017_attempt_body_reference
Revises: 0016_ordered_heads
Create Date: 2026-12-03 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_attempt_body_reference"
down_revision: str | Sequence[str] | None = "0016_ordered_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL = """
UPDATE webhook_delivery_attempts SET request_body = (
    SELECT coalesce(d.payload, e.payload, '')
    FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id
    WHERE d.id = webhook_delivery_attempts.delivery_id
)
WHERE request_body IS NULL
"""


def upgrade() -> None:
    with op.batch_alter_table("webhook_delivery_attempts") as batch:
        batch.alter_column("request_body", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text(FILL))
    with op.batch_alter_table("webhook_delivery_attempts") as batch:
        batch.alter_column("request_body", existing_type=sa.Text(), nullable=False)
