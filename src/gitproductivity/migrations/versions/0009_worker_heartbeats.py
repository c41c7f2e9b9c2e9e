"""workers: registered, heartbeating workers; the worker holding each delivery's lease

A dead worker's claims are handed back as soon as another worker finds it gone (core.workers), instead of when
the leases run out. Analyses record their worker in their existing `worker` column.

Revision ID: 0009_worker_heartbeats
Revises: 0008_sessions
Create Date: 2026-12-01 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gitproductivity.core.types

revision: str = "0009_worker_heartbeats"
down_revision: str | Sequence[str] | None = "0008_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_scope", sa.String(length=200), nullable=False),
        sa.Column("started_at", gitproductivity.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat_at", gitproductivity.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index("ix_workers_last_heartbeat_at", "workers", ["last_heartbeat_at"], unique=False)
    op.add_column("webhook_deliveries", sa.Column("worker_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("worker_id")
    op.drop_index("ix_workers_last_heartbeat_at", table_name="workers")
    op.drop_table("workers")
