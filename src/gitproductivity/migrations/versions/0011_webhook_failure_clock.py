"""webhooks: the time of the last failed real delivery, so the auto-disable clock needs failures spread over it

`failing_since` used to start at any failure (a failed test webhook at save time included) and a single failure
days later then disabled the endpoint. `last_failure_at` lets `webhooks.health` restart the clock when failures
stop coming for longer than a quarter of the auto-disable window. Existing endpoints start with no last failure:
their next failure starts the clock afresh (a later disable, never an earlier one).

Revision ID: 0011_webhook_failure_clock
Revises: 0010_email_canonical
Create Date: 2026-12-02 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gitproductivity.core.types

revision: str = "0011_webhook_failure_clock"
down_revision: str | Sequence[str] | None = "0010_email_canonical"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(
            sa.Column("last_failure_at", gitproductivity.core.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("last_failure_at")
