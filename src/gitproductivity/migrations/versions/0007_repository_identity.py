"""repositories: one canonical identity per repository and organisation (issue 12, finding 11)

`/r` and `/r/.git`, a symlink to `/r`, `file:///r`, or `https://Host:443/a/b.git/` and `https://host/a/b` were
connected as different repositories and counted twice. Each row gets `identity` (`urls.identity`: the resolved
git directory of a local repository, the normalised URL of a remote one), unique per organisation.

Back-fill: existing rows get their identity computed now (a local repository that is gone from the disk keeps
its resolved path). Where existing rows of one organisation turn out to be the same repository, the one to keep
is the connected one (else the oldest); the others keep their records and metrics, are marked disconnected, and
get `duplicate-of:<kept id>:<identity>` so that the unique index holds. Nothing is deleted.

Revision ID: 0007_repository_identity
Revises: 0006_analysis_failures
Create Date: 2026-12-01 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gitproductivity.repositories.urls import identity

revision: str = "0007_repository_identity"
down_revision: str | Sequence[str] | None = "0006_analysis_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity", sa.Text(), nullable=True))
    repositories = sa.table(
        "repositories",
        sa.column("id", sa.String()),
        sa.column("organization_id", sa.String()),
        sa.column("url", sa.Text()),
        sa.column("kind", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", sa.String()),
        sa.column("connected_at", sa.String()),
        sa.column("disconnected_at", sa.String()),
        sa.column("identity", sa.Text()),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            repositories.c.id,
            repositories.c.organization_id,
            repositories.c.url,
            repositories.c.kind,
            repositories.c.status,
        ).order_by(
            repositories.c.organization_id,
            sa.case((repositories.c.status == "connected", 0), else_=1),
            repositories.c.created_at,
            repositories.c.id,
        )
    ).all()
    kept: dict[tuple[str, str], str] = {}
    for row in rows:
        ident = identity(row.url, row.kind)
        update = sa.update(repositories).where(repositories.c.id == row.id)
        first = kept.setdefault((row.organization_id, ident), row.id)
        if first == row.id:
            conn.execute(update.values(identity=ident))
            continue
        conn.execute(
            update.values(
                identity=f"duplicate-of:{first}:{ident}",
                status="disconnected",
                disconnected_at=sa.func.coalesce(repositories.c.disconnected_at, repositories.c.connected_at),
            )
        )
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.alter_column("identity", existing_type=sa.Text(), nullable=False)
        batch_op.create_index("uq_repositories_org_identity", ["organization_id", "identity"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_index("uq_repositories_org_identity")
        batch_op.drop_column("identity")
