"""change categories and co-authors in the daily rollups

`metric_rollups` gains `new_work`, `refactor`, `rework`, `help_others` (lines, by the origin of each deleted or
replaced line: docs/metrics.md) and `co_authored_commits`. Existing rows read 0 until the next analysis, which
reads every repository again (the rules fingerprint includes the categories' rules).

Revision ID: 0014_change_categories
Revises: 0014_webhook_ordering
Create Date: 2026-12-02 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_change_categories"
down_revision: str | Sequence[str] | None = "0014_webhook_ordering"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINES = ("new_work", "refactor", "rework", "help_others")


def upgrade() -> None:
    with op.batch_alter_table("metric_rollups") as batch:
        for name in _LINES:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("co_authored_commits", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("metric_rollups") as batch:
        batch.drop_column("co_authored_commits")
        for name in reversed(_LINES):
            batch.drop_column(name)
