from __future__ import annotations

from datetime import timedelta

from gitproductivity.core.clock import utcnow
from gitproductivity.core.db import Database
from gitproductivity.core.ids import new_id
from gitproductivity.core.settings import Settings
from gitproductivity.webhooks import deliveries, endpoints
from gitproductivity.webhooks.models import Delivery
from tests.conftest import Tenant


def add_deliveries(database: Database, tenant: Tenant, webhook_id: str, statuses: list[str]) -> None:
    now = utcnow()
    with database.session() as session:
        for i, status in enumerate(statuses):
            session.add(
                Delivery(
                    id=new_id("dlv"),
                    organization_id=tenant.organization_id,
                    webhook_id=webhook_id,
                    event_id=new_id("evt"),
                    event_type="developer.added",
                    status=status,
                    created_at=now + timedelta(milliseconds=i),
                )
            )


def test_success_rates_count_the_newest_finished_deliveries_per_endpoint(
    fast: Settings, database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    with database.session() as session:
        a = endpoints.create(
            session, organization_id=tenant.organization_id, url="http://127.0.0.1:9/a", events=["*"]
        ).id
        b = endpoints.create(
            session, organization_id=tenant.organization_id, url="http://127.0.0.1:9/b", events=["*"]
        ).id
        quiet = endpoints.create(
            session, organization_id=tenant.organization_id, url="http://127.0.0.1:9/c", events=["*"]
        ).id
    # a: 3 old failures, then 4 successes, 1 failure and 2 still pending (not finished, not counted)
    add_deliveries(database, tenant, a, ["failed"] * 3 + ["succeeded"] * 4 + ["failed"] + ["pending"] * 2)
    add_deliveries(database, tenant, b, ["succeeded"] * 2)
    with database.session() as session:
        rates = deliveries.success_rates(
            session, organization_id=tenant.organization_id, webhook_ids=[a, b, quiet], recent=5
        )
        assert rates == {a: (4, 5), b: (2, 2), quiet: (0, 0)}
        everything = deliveries.success_rates(
            session, organization_id=tenant.organization_id, webhook_ids=[a], recent=50
        )
        assert everything == {a: (4, 8)}
        # Another organisation learns nothing about these endpoints.
        foreign = deliveries.success_rates(
            session, organization_id=other_tenant.organization_id, webhook_ids=[a], recent=5
        )
        assert foreign == {a: (0, 0)}
