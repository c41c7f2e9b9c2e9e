"""analysis: failure streaks per repository (backoff), skipped and adjusted commits per analysis

Revision ID: 0006_analysis_failures
Revises: 0005_merge_heads
Create Date: 2026-12-02 00:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gitproductivity.core.types

revision: str = "0006_analysis_failures"
down_revision: str | Sequence[str] | None = "0005_merge_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("repositories") as batch:
        batch.add_column(sa.Column("analysis_failures", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("analysis_retry_at", gitproductivity.core.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("analyses") as batch:
        batch.add_column(sa.Column("skipped_commits", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("adjusted_commits", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("commit_issues", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analyses") as batch:
        batch.drop_column("commit_issues")
        batch.drop_column("adjusted_commits")
        batch.drop_column("skipped_commits")
    with op.batch_alter_table("repositories") as batch:
        batch.drop_column("analysis_retry_at")
        batch.drop_column("analysis_failures")
