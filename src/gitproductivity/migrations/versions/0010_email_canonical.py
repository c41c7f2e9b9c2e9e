"""e-mails: rewrite stored addresses in the canonical form (lower case, Unicode IDNA domain); no schema change

Addresses read from git history used to be stored only lower-cased, so a punycode domain (`dev@xn--bcher-kva.de`)
stayed punycode while a person typing the same address got `dev@bücher.de`: two rows for one person. Each stored
address of developers, their e-mails and users moves to the form `core.emails.fold_email` gives, unless that
form is already taken in the same organisation (then two developers hold it: they are left for a person to
merge). The folding is copied here, frozen, so later changes to it do not change what this revision did.

Revision ID: 0010_email_canonical
Revises: 0009_worker_heartbeats
Create Date: 2026-12-02 00:05:00.000000
"""

import unicodedata
from collections.abc import Sequence

import idna
import sqlalchemy as sa
from alembic import op

revision: str = "0010_email_canonical"
down_revision: str | Sequence[str] | None = "0009_worker_heartbeats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fold(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    if not at:
        return unicodedata.normalize("NFC", value.strip().lower())
    local = unicodedata.normalize("NFC", local.lower())
    if domain.isascii() and "xn--" not in domain.lower():
        folded = domain.lower()
    else:
        try:
            folded = idna.decode(domain, uts46=True)
        except (idna.IDNAError, UnicodeError, ValueError):
            folded = domain.lower()
    return f"{local}@{folded[:-1] if folded.endswith('.') and len(folded) > 1 else folded}"


def upgrade() -> None:
    conn = op.get_bind()
    emails = sa.table(
        "developer_emails",
        sa.column("id", sa.String),
        sa.column("organization_id", sa.String),
        sa.column("developer_id", sa.String),
        sa.column("email", sa.String),
    )
    developers = sa.table("developers", sa.column("id", sa.String), sa.column("email", sa.String))
    users = sa.table("users", sa.column("id", sa.String), sa.column("email", sa.String))

    rows = conn.execute(sa.select(emails.c.id, emails.c.organization_id, emails.c.email)).all()
    taken = {(org, email) for _, org, email in rows}
    for row_id, org, email in rows:
        canonical = _fold(email)
        if canonical != email and (org, canonical) not in taken:
            taken.add((org, canonical))
            conn.execute(sa.update(emails).where(emails.c.id == row_id).values(email=canonical))
    for dev_id, email in conn.execute(sa.select(developers.c.id, developers.c.email)).all():
        if _fold(email) != email:  # the primary address, copied on the developer; follow its row
            primary = conn.execute(
                sa.select(emails.c.email).where(emails.c.developer_id == dev_id, emails.c.email == _fold(email))
            ).scalar()
            if primary is not None:
                conn.execute(sa.update(developers).where(developers.c.id == dev_id).values(email=primary))
    seen = {email for _, email in conn.execute(sa.select(users.c.id, users.c.email)).all()}
    for user_id, email in conn.execute(sa.select(users.c.id, users.c.email)).all():
        canonical = _fold(email)
        if canonical != email and canonical not in seen:
            seen.add(canonical)
            conn.execute(sa.update(users).where(users.c.id == user_id).values(email=canonical))


def downgrade() -> None:
    pass  # the canonical form is a valid spelling of every address it replaced
