"""provenance: ownership at the analysed head (per-file blame cache, per-directory totals and owners)

`ownership_files` caches each file's blame (commit -> lines) by path and blob, so an incremental analysis blames
again only the files that changed; `ownership_directories` and `ownership_lines` hold what the API serves: per
directory its lines, files and bus factor, and the lines each developer owns; `ownership_states` says at which
head and under which rules it was computed (analysis.ownership).

Revision ID: 0013_provenance
Revises: 0013_teams
Create Date: 2026-12-02 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gitproductivity.core.types import UTCDateTime

revision: str = "0013_provenance"
down_revision: str | Sequence[str] | None = "0013_teams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _repository() -> sa.Column[str]:
    return sa.Column(
        "repository_id",
        sa.String(length=40),
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "ownership_states",
        _repository(),
        sa.Column(
            "organization_id",
            sa.String(length=40),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("head_commit", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("files_blamed", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ownership_files",
        _repository(),
        sa.Column("path_key", sa.String(length=64), primary_key=True, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("commits", sa.JSON(), nullable=True),
    )
    op.create_table(
        "ownership_directories",
        _repository(),
        sa.Column("path_key", sa.String(length=64), primary_key=True, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("parent_key", sa.String(length=64), nullable=True),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("bot_lines", sa.Integer(), nullable=False),
        sa.Column("unattributed_lines", sa.Integer(), nullable=False),
        sa.Column("bus_factor", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_ownership_directories_parent", "ownership_directories", ["repository_id", "parent_key"], unique=False
    )
    op.create_table(
        "ownership_lines",
        _repository(),
        sa.Column("path_key", sa.String(length=64), primary_key=True, nullable=False),
        sa.Column(
            "developer_id",
            sa.String(length=40),
            sa.ForeignKey("developers.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("lines", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ownership_lines")
    op.drop_index("ix_ownership_directories_parent", table_name="ownership_directories")
    op.drop_table("ownership_directories")
    op.drop_table("ownership_files")
    op.drop_table("ownership_states")
