"""events: the writing transaction's id (`txid`); the feed orders by (txid, seq) instead of a per-organisation lock

On PostgreSQL every new event records `pg_current_xact_id()` (as bigint: an xid8 is a 64-bit, never-wrapping
counter); readers serve only events whose transaction is older than every transaction still in flight
(`events.service`). Rows written before this revision get `txid = 0`: they were committed in `seq` order under
the old lock, they keep that order among themselves and come before every new event, so saved cursors keep
working. On SQLite `txid` is always 0 (one writer at a time: `seq` order is commit order).

The two feed indexes become (organization_id, txid, seq) and (organization_id, type, txid, seq).

Revision ID: 0011_event_feed_txid
Revises: 0011_webhook_failure_clock
Create Date: 2026-12-02 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_event_feed_txid"
down_revision: str | Sequence[str] | None = "0011_webhook_failure_clock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TXID_DEFAULT = "(pg_current_xact_id()::text::bigint)"


def upgrade() -> None:
    # Adding a column with a constant default does not rewrite the table (PostgreSQL 11+, SQLite): the backfill
    # of existing rows to 0 is free. The default is then switched to the writing transaction's id.
    op.add_column("events", sa.Column("txid", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("events", "txid", server_default=sa.text(TXID_DEFAULT))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_org_txid_seq", ["organization_id", "txid", "seq"], unique=False)
        batch_op.create_index("ix_events_org_type_txid_seq", ["organization_id", "type", "txid", "seq"], unique=False)
        batch_op.drop_index("ix_events_org_type_seq")
        batch_op.drop_index("ix_events_org_seq")


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_org_seq", ["organization_id", "seq"], unique=False)
        batch_op.create_index("ix_events_org_type_seq", ["organization_id", "type", "seq"], unique=False)
        batch_op.drop_index("ix_events_org_type_txid_seq")
        batch_op.drop_index("ix_events_org_txid_seq")
        batch_op.drop_column("txid")
