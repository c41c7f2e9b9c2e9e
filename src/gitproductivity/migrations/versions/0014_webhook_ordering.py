"""webhook ordering: an endpoint's `ordering`, and each delivery's ordering key and position

`webhooks.ordering` ("per_repository", "per_developer" or "none", the default for every existing endpoint);
`webhook_deliveries.order_key` (the event's repository or developer id for an ordered endpoint, null otherwise)
and `order_seq` (on PostgreSQL the writing transaction's id, as the column's default, like `events.txid`; on
SQLite set by fan-out), with a partial index on pending keyed deliveries for the claim's "earlier one of the same
key still pending?" test (webhooks.ordering). Existing deliveries get no key: they stay unordered.

Revision ID: 0014_webhook_ordering
Revises: 0014_languages_hours
Create Date: 2026-12-02 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_webhook_ordering"
down_revision: str | Sequence[str] | None = "0014_languages_hours"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TXID_DEFAULT = "(pg_current_xact_id()::text::bigint)"
PENDING_KEYED = "status = 'pending' AND order_key IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("ordering", sa.String(16), nullable=False, server_default="none"))
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("order_key", sa.String(100), nullable=True))
        batch.add_column(sa.Column("order_seq", sa.BigInteger(), nullable=True))
    if postgresql:  # set after adding the column: a volatile default in ADD COLUMN would rewrite the table
        op.alter_column("webhook_deliveries", "order_seq", server_default=sa.text(TXID_DEFAULT))
    op.create_index(
        "ix_webhook_deliveries_order",
        "webhook_deliveries",
        ["webhook_id", "order_key", "order_seq", "id"],
        postgresql_where=sa.text(PENDING_KEYED),
        sqlite_where=sa.text(PENDING_KEYED),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_order", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("order_seq")
        batch.drop_column("order_key")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("ordering")
