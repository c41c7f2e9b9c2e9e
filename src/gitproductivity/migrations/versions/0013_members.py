"""members and roles: invitations, roles on API keys, per-reader notification read state

Users become members with a status (`invited` until they set a password at their one-time link, then `active`)
and a one-time token (its sha256 and expiry). Every existing user becomes an active owner of their organisation;
every existing API key gets the role `owner` (what it could do before) and belongs to its organisation's user (who
made it: there was only one). A notification's single `read_at` becomes one row per reader in
`notification_reads`: a notice read before this revision stays read for every member of its organisation.

Revision ID: 0013_members
Revises: 0012_webhook_routing
Create Date: 2026-12-02 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gitproductivity.core.types

revision: str = "0013_members"
down_revision: str | Sequence[str] | None = "0012_webhook_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: on SQLite a batch copies the table and drops the old one, and dropping `users`
    # would take every web session with it (user_sessions cascade).
    op.add_column("users", sa.Column("status", sa.String(length=16), server_default="active", nullable=False))
    op.add_column("users", sa.Column("token_hash", sa.String(length=64), nullable=True))
    op.add_column(
        "users", sa.Column("token_expires_at", gitproductivity.core.types.UTCDateTime(timezone=True), nullable=True)
    )
    op.create_index(op.f("ix_users_token_hash"), "users", ["token_hash"], unique=True)
    op.execute("UPDATE users SET role = 'owner', status = 'active'")
    with op.batch_alter_table("api_keys") as batch:  # nothing references api_keys: copying it loses nothing
        batch.add_column(sa.Column("role", sa.String(length=20), server_default="owner", nullable=False))
        batch.add_column(sa.Column("user_id", sa.String(length=40), nullable=True))
        batch.create_index(batch.f("ix_api_keys_user_id"), ["user_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_api_keys_user_id_users"), "users", ["user_id"], ["id"], ondelete="SET NULL"
        )
    # Until now an organisation had one user, who made every key.
    op.execute(
        "UPDATE api_keys SET user_id = "
        "(SELECT MIN(u.id) FROM users u WHERE u.organization_id = api_keys.organization_id)"
    )

    # Readers are members (an API key reads as the member who made it): one row per user of the organisation.
    # Read before `notifications` is copied without its read_at (SQLite batch), written after: a copy of a table
    # that notification_reads references would cascade the rows away.
    bind = op.get_bind()
    read = bind.execute(
        sa.text(
            "SELECT n.id AS nid, u.id AS uid, n.read_at AS read_at FROM notifications n JOIN users u "
            "ON u.organization_id = n.organization_id WHERE n.read_at IS NOT NULL"
        ).columns(nid=sa.String(), uid=sa.String(), read_at=gitproductivity.core.types.UTCDateTime(timezone=True))
    ).all()
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("read_at")
    reads = op.create_table(
        "notification_reads",
        sa.Column("notification_id", sa.String(length=40), nullable=False),
        sa.Column("reader_id", sa.String(length=40), nullable=False),
        sa.Column("read_at", gitproductivity.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_reads_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notification_id", "reader_id", name=op.f("pk_notification_reads")),
    )
    op.create_index(op.f("ix_notification_reads_reader_id"), "notification_reads", ["reader_id"], unique=False)
    if read:
        op.bulk_insert(reads, [{"notification_id": n, "reader_id": u, "read_at": at} for n, u, at in read])


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("read_at", gitproductivity.core.types.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE notifications SET read_at = (SELECT MIN(r.read_at) FROM notification_reads r "
        "WHERE r.notification_id = notifications.id)"
    )
    op.drop_index(op.f("ix_notification_reads_reader_id"), table_name="notification_reads")
    op.drop_table("notification_reads")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(batch.f("fk_api_keys_user_id_users"), type_="foreignkey")
        batch.drop_index(batch.f("ix_api_keys_user_id"))
        batch.drop_column("user_id")
        batch.drop_column("role")
    op.execute("DELETE FROM users WHERE status <> 'active'")
    op.drop_index(op.f("ix_users_token_hash"), table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_expires_at")
        batch.drop_column("token_hash")
        batch.drop_column("status")
