"""0010_email_canonical: addresses stored before the canonical form (punycode, capitals) are rewritten to it."""

from __future__ import annotations

from sqlalchemy import text

from gitproductivity.core import migrate
from gitproductivity.core.db import Database
from gitproductivity.developers import service as developers
from tests.core.test_migrations import empty_database_url, old_developer, old_tenant, upgrade_to

__all__ = ["empty_database_url"]  # the fixture, shared with test_migrations.py


def test_stored_addresses_move_to_the_canonical_form(empty_database_url: str) -> None:
    db = Database(empty_database_url, pool_size=1)
    try:
        upgrade_to(db, "0005_merge_heads")
        # What history-made rows looked like before: lower-cased only, domains left in punycode.
        org = old_tenant(db, email="owner@xn--bcher-kva.de")
        ids = ["dev_a", "dev_b", "dev_c"]
        old = {ids[0]: "dev@xn--bcher-kva.de", ids[1]: "x@xn--mller-kva.de", ids[2]: "x@müller.de"}
        for (dev_id, email), name in zip(old.items(), ("Dev", "Twin1", "Twin2"), strict=True):
            old_developer(db, org=org, dev_id=dev_id, name=name, email=email)

        migrate.upgrade(db.engine)

        with db.engine.connect() as conn:
            dev_rows: dict[str, str] = dict(conn.execute(text("SELECT id, email FROM developers")).all())
            alias_rows: dict[str, str] = dict(
                conn.execute(text("SELECT developer_id, email FROM developer_emails")).all()
            )
            users = [r[0] for r in conn.execute(text("SELECT email FROM users")).all()]
        assert dev_rows[ids[0]] == alias_rows[ids[0]] == "dev@bücher.de"
        # Two developers held the two spellings of one address: the canonical one keeps it, the other waits for
        # a person to merge them (it still matches commits through the canonical form on reading).
        assert alias_rows[ids[2]] == "x@müller.de" and alias_rows[ids[1]] == "x@xn--mller-kva.de"
        assert users == ["owner@bücher.de"]
        with db.session() as session:
            found = developers.find_by_email(session, organization_id=org, email="DEV@xn--bcher-kva.de")
            assert found is not None and found.id == ids[0]
    finally:
        db.dispose()


def test_the_frozen_folding_of_the_revision_agrees_with_today_s() -> None:
    import importlib.util

    from gitproductivity.core.emails import fold_email

    path = migrate.MIGRATIONS / "versions" / "0010_email_canonical.py"
    spec = importlib.util.spec_from_file_location("rev0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    samples = ("Dev@XN--BCHER-KVA.DE", "zoe\u0308@example.com", "root@(none)", "x@xn--zz", "plain", "A@B.C.", "x@.")
    for address in samples:
        assert module._fold(address) == fold_email(address), address
