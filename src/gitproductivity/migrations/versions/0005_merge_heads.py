"""merge the webhooks and analysis branches into one line (no schema change)

From here on the revisions form a single line: every new revision revises the one head (docs/development.md).
Databases migrated to the old two heads (0002_webhooks and 0004_analysis) move here with no work.

Revision ID: 0005_merge_heads
Revises: 0002_webhooks, 0004_analysis
Create Date: 2026-12-01 11:10:16.000000
"""

from collections.abc import Sequence

revision: str = "0005_merge_heads"
down_revision: str | Sequence[str] | None = ("0002_webhooks", "0004_analysis")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
