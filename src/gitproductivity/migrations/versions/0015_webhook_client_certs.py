"""webhook client certificates (mTLS): an endpoint's certificate and key, encrypted, and what is shown of them

`webhooks.client_cert_secret`: the PEM certificate chain and private key as one `fernet:` token under the
credentials key (webhooks.credentials), like `auth_secret`; `webhooks.client_cert_info`: subject, issuer, not_after
and SHA-256 fingerprint, in the clear (shown by the API and the UI, read without the key). Existing endpoints have
neither: they present no client certificate, as before.

Revision ID: 0015_webhook_client_certs
Revises: 0014_change_categories
Create Date: 2026-12-03 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_webhook_client_certs"
down_revision: str | Sequence[str] | None = "0014_change_categories"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("client_cert_secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("client_cert_info", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("client_cert_info")
        batch.drop_column("client_cert_secret")
