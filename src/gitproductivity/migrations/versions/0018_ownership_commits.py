"""ownership: the identities of the commits that own lines, kept between computations

`ownership_commits` holds, per repository, each commit that owns lines at the last analysed head with its identity
(after the mailmap; "" when it cannot be attributed), author time and name, so that an incremental ownership
computation asks git only about commits it has not met (docs/metrics.md, "Ownership"). Empty after the upgrade:
the next computation of each repository fills it.

Revision ID: 0018_ownership_commits
Revises: 0017_attempt_body_reference
Create Date: 2026-12-03 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_ownership_commits"
down_revision: str | Sequence[str] | None = "0017_attempt_body_reference"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ownership_commits",
        sa.Column(
            "repository_id",
            sa.String(length=40),
            sa.ForeignKey("repositories.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("commit", sa.String(length=64), primary_key=True, nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("author_time", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ownership_commits")
