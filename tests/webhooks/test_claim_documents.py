"""The claim reads each endpoint's JSON documents (extra headers, client certificate details) as text and parses
each text once per batch (`queue._parsed_once`): every job still gets its own endpoint's, equal to what is stored."""

from __future__ import annotations

from sqlalchemy import select

from gitproductivity.core.db import Database
from gitproductivity.events import service as events
from gitproductivity.events.payloads import DeveloperAdded
from gitproductivity.webhooks import endpoints, queue
from gitproductivity.webhooks.models import Webhook
from tests.conftest import Tenant


def test_each_job_carries_its_own_endpoints_headers(database: Database, tenant: Tenant) -> None:
    headers = {
        "one": {"X-Team": "one", "X-Quote": 'say "hi" \\ {json}'},
        "two": {"X-Team": "two"},
        "none": None,
    }
    with database.session() as session:
        hooks = {
            name: endpoints.create(
                session,
                organization_id=tenant.organization_id,
                url=f"https://example.com/{name}",
                events=["*"],
                headers=value,
            ).id
            for name, value in headers.items()
        }
    with database.session() as session:
        for _ in range(3):
            events.emit(session, organization_id=tenant.organization_id, data=DeveloperAdded.example)
    with database.session() as session:
        stored = {h.id: (h.headers, h.client_cert_info) for h in session.scalars(select(Webhook))}
        jobs = queue.claim(session, limit=100, lease_seconds=60)
    assert len(jobs) == 9
    for name, hook_id in hooks.items():
        mine = [job for job in jobs if job.webhook_id == hook_id]
        assert len(mine) == 3
        assert stored[hook_id] == (headers[name], None)
        assert all(job.extra_headers == headers[name] and job.client_cert_info is None for job in mine), name
    signed = next(job for job in jobs if job.webhook_id == hooks["one"]).headers(1_700_000_000)
    assert signed["X-Quote"] == 'say "hi" \\ {json}' and signed["X-GitProductivity-Event"] == "developer.added"
