"""developers: each organisation's numbers of developers, kept exact by the database's own triggers

`developer_counts` holds, per organisation, rows whose sums are its number of current developers (`present`,
`removed_at` NULL) and of all of them (`total`): `GET /v1/developers` reads its exact total from them instead of
counting thousands of rows on every page (docs/benchmarks.md, "Exact totals at thousands of developers").

Triggers on `developers` keep them exact whatever writes: INSERT, DELETE (a cascade from an organisation too) and
UPDATE (removal, bring-back, a move between organisations), from the API, the CLI, the analysis' bulk paths or
plain SQL. On SQLite (one writer at a time) one row per organisation, from row-level triggers. On PostgreSQL
every organisation has 16 rows (made with it, by a trigger on `organizations`), and statement-level triggers (one
change per organisation per statement, from the transition tables) add to one of them that no other transaction
holds (`FOR UPDATE SKIP LOCKED`: one it has changed already, else preferably the one the lowest developer id of the
change hashes to, so a transaction of many statements holds one row); when all 16 are held, to a row
of the session's own (16 + its backend pid modulo 1024, made then), so a transaction adding a developer does not
wait for another one's commit: concurrent POSTs to one organisation do not queue on one row. A row is only made
while the organisation exists (a cascade deleting it does not make one). The upgrade fills the rows from the
developers there are; the downgrade drops the table, the triggers and their functions.

Revision ID: 0019_developer_counts
Revises: 0018_ownership_commits
Create Date: 2026-12-03 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_developer_counts"
down_revision: str | Sequence[str] | None = "0018_ownership_commits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL = """
INSERT INTO developer_counts (organization_id, shard, present, total)
SELECT organization_id, 0, sum(CASE WHEN removed_at IS NULL THEN 1 ELSE 0 END), count(*)
FROM developers GROUP BY organization_id
"""

# SQLite: one row per organisation (shard 0). Adding goes through an upsert made only while the organisation exists.
_SQLITE_ADD = """
    INSERT INTO developer_counts (organization_id, shard, present, total)
    SELECT {row}.organization_id, 0, {sign}({row}.removed_at IS NULL), {sign}1
    WHERE EXISTS (SELECT 1 FROM organizations WHERE id = {row}.organization_id)
    ON CONFLICT (organization_id, shard) DO UPDATE
    SET present = present + excluded.present, total = total + excluded.total;"""
SQLITE_TRIGGERS = (
    "CREATE TRIGGER developer_counts_insert AFTER INSERT ON developers BEGIN"
    + _SQLITE_ADD.format(row="NEW", sign="")
    + "\nEND",
    "CREATE TRIGGER developer_counts_delete AFTER DELETE ON developers BEGIN"
    + _SQLITE_ADD.format(row="OLD", sign="-")
    + "\nEND",
    "CREATE TRIGGER developer_counts_update AFTER UPDATE OF removed_at, organization_id ON developers"
    " WHEN (OLD.removed_at IS NULL) IS NOT (NEW.removed_at IS NULL) OR OLD.organization_id IS NOT NEW.organization_id"
    " BEGIN" + _SQLITE_ADD.format(row="OLD", sign="-") + _SQLITE_ADD.format(row="NEW", sign="") + "\nEND",
)

# PostgreSQL: add to a row of the organisation no other transaction holds, or make one (the shard from the seed).
POSTGRESQL_ADD = """
CREATE FUNCTION developer_counts_add(org varchar, d_present bigint, d_total bigint, seed text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    picked integer;
BEGIN
    IF d_present = 0 AND d_total = 0 THEN
        RETURN;
    END IF;
    SELECT shard INTO picked FROM developer_counts WHERE organization_id = org
    ORDER BY xmin = pg_current_xact_id()::xid DESC, shard = (hashtext(seed) & 15) DESC LIMIT 1
    FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        UPDATE developer_counts SET present = present + d_present, total = total + d_total
        WHERE organization_id = org AND shard = picked;
    ELSE
        INSERT INTO developer_counts (organization_id, shard, present, total)
        SELECT org, 16 + (pg_backend_pid() & 1023), d_present, d_total
        WHERE EXISTS (SELECT 1 FROM organizations WHERE id = org)
        ON CONFLICT (organization_id, shard) DO UPDATE
        SET present = developer_counts.present + excluded.present, total = developer_counts.total + excluded.total;
    END IF;
END $$
"""
_POSTGRESQL_CHANGES = {
    "insert": "SELECT organization_id, (removed_at IS NULL)::int AS p, 1 AS t, id FROM new_rows",
    "delete": "SELECT organization_id, -(removed_at IS NULL)::int AS p, -1 AS t, id FROM old_rows",
    "update": "SELECT organization_id, (removed_at IS NULL)::int AS p, 1 AS t, id FROM new_rows"
    " UNION ALL SELECT organization_id, -(removed_at IS NULL)::int, -1, id FROM old_rows",
}
_POSTGRESQL_ON = """
CREATE FUNCTION developer_counts_on_{kind}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT organization_id, sum(p) AS p, sum(t) AS t, min(id) AS seed FROM ({changes}) AS c
             GROUP BY organization_id ORDER BY organization_id LOOP
        PERFORM developer_counts_add(r.organization_id, r.p, r.t, r.seed);
    END LOOP;
    RETURN NULL;
END $$
"""
# PostgreSQL: every organisation has 16 rows from the start, so that writers at once find free ones.
POSTGRESQL_FILL = """
INSERT INTO developer_counts (organization_id, shard, present, total)
SELECT o.id, s.shard, CASE WHEN s.shard = 0 THEN coalesce(d.present, 0) ELSE 0 END,
       CASE WHEN s.shard = 0 THEN coalesce(d.total, 0) ELSE 0 END
FROM organizations AS o CROSS JOIN generate_series(0, 15) AS s (shard)
LEFT JOIN (
    SELECT organization_id, sum(CASE WHEN removed_at IS NULL THEN 1 ELSE 0 END) AS present, count(*) AS total
    FROM developers GROUP BY organization_id
) AS d ON d.organization_id = o.id
"""
POSTGRESQL_ORGANIZATION = (
    """
CREATE FUNCTION developer_counts_on_organization() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO developer_counts (organization_id, shard, present, total)
    SELECT NEW.id, shard, 0, 0 FROM generate_series(0, 15) AS shard;
    RETURN NULL;
END $$
""",
    "CREATE TRIGGER developer_counts_organization AFTER INSERT ON organizations"
    " FOR EACH ROW EXECUTE FUNCTION developer_counts_on_organization()",
)
_REFERENCING = {"insert": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows"}
_REFERENCING["update"] = "OLD TABLE AS old_rows NEW TABLE AS new_rows"


def _postgresql_statements() -> list[str]:
    statements = [POSTGRESQL_ADD, *POSTGRESQL_ORGANIZATION]
    for kind, changes in _POSTGRESQL_CHANGES.items():
        statements.append(_POSTGRESQL_ON.format(kind=kind, changes=changes))
        statements.append(
            f"CREATE TRIGGER developer_counts_{kind} AFTER {kind.upper()} ON developers"
            f" REFERENCING {_REFERENCING[kind]} FOR EACH STATEMENT EXECUTE FUNCTION developer_counts_on_{kind}()"
        )
    return statements


def upgrade() -> None:
    op.create_table(
        "developer_counts",
        sa.Column(
            "organization_id",
            sa.String(length=40),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("shard", sa.Integer(), primary_key=True, nullable=False),
        sa.Column("present", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:  # no writer adds a developer or an organisation between the fill and the triggers
        op.execute("LOCK TABLE developers, organizations IN SHARE MODE")
    op.execute(sa.text(POSTGRESQL_FILL if postgresql else FILL))
    for statement in _postgresql_statements() if postgresql else SQLITE_TRIGGERS:
        op.execute(sa.text(statement))


def downgrade() -> None:
    for kind in _POSTGRESQL_CHANGES:
        op.execute(f"DROP TRIGGER IF EXISTS developer_counts_{kind}" + (" ON developers" if _pg() else ""))
    if _pg():
        op.execute("DROP TRIGGER developer_counts_organization ON organizations")
        op.execute("DROP FUNCTION developer_counts_on_organization()")
        for kind in _POSTGRESQL_CHANGES:
            op.execute(f"DROP FUNCTION developer_counts_on_{kind}()")
        op.execute("DROP FUNCTION developer_counts_add(varchar, bigint, bigint, text)")
    op.drop_table("developer_counts")


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"
