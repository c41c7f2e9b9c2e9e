"""languages and hours: per developer, repository and UTC day, the lines per language and the commits per hour of
the week in the author's own time zone (analysis.activity, metrics.activity_models)

Revision ID: 0014_languages_hours
Revises: 0013_webhook_rate_limit
Create Date: 2026-12-02 17:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014_languages_hours"
down_revision: str | Sequence[str] | None = "0013_webhook_rate_limit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keys() -> list[sa.Column[Any]]:
    return [
        sa.Column("repository_id", sa.String(length=40), nullable=False),
        sa.Column("developer_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
    ]


def _foreign_keys(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
        )
        for column, target in (
            ("developer_id", "developers"),
            ("organization_id", "organizations"),
            ("repository_id", "repositories"),
        )
    ]


def upgrade() -> None:
    op.create_table(
        "language_rollups",
        *_keys(),
        sa.Column("language", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("lines_added", sa.BigInteger(), nullable=False),
        sa.Column("lines_deleted", sa.BigInteger(), nullable=False),
        sa.Column("files_changed", sa.Integer(), nullable=False),
        *_foreign_keys("language_rollups"),
        sa.PrimaryKeyConstraint("repository_id", "developer_id", "day", "language", name=op.f("pk_language_rollups")),
    )
    op.create_index(
        "ix_language_rollups_org_dev_day", "language_rollups", ["organization_id", "developer_id", "day"], unique=False
    )
    op.create_table(
        "hour_rollups",
        *_keys(),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("commits", sa.Integer(), nullable=False),
        *_foreign_keys("hour_rollups"),
        sa.PrimaryKeyConstraint("repository_id", "developer_id", "day", "hour", name=op.f("pk_hour_rollups")),
    )
    op.create_index(
        "ix_hour_rollups_org_dev_day", "hour_rollups", ["organization_id", "developer_id", "day"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_hour_rollups_org_dev_day", table_name="hour_rollups")
    op.drop_table("hour_rollups")
    op.drop_index("ix_language_rollups_org_dev_day", table_name="language_rollups")
    op.drop_table("language_rollups")
