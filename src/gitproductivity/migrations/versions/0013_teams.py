"""teams: named groups of developers (a developer may be in several)

`teams.name_key` is the name case-folded: team names are unique per organisation in any case.
`ix_team_members_developer` serves "the teams of a developer" and removing a developer's memberships.

Revision ID: 0013_teams
Revises: 0013_members
Create Date: 2026-12-02 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gitproductivity.core.types import UTCDateTime

revision: str = "0013_teams"
down_revision: str | Sequence[str] | None = "0013_members"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "name_key", name="uq_teams_org_name_key"),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("developer_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["developer_id"], ["developers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "developer_id"),
    )
    op.create_index("ix_team_members_developer", "team_members", ["developer_id", "team_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_team_members_developer", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
