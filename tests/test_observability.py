"""`/metrics`: access (enabled, bearer token), API requests by route template, analyses of a real git repository,
and the Grafana dashboard in docs/ naming only metrics that exist."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gitproductivity.analysis import jobs
from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.conftest import Tenant, run_async

DASHBOARD = Path(__file__).parent.parent / "docs" / "grafana-dashboard.json"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def app_client(database: Database, tmp_path: Path, **overrides: object) -> TestClient:
    from gitproductivity.app import create_app

    settings.configure(database_url=database.url, data_dir=tmp_path / "data", **overrides)
    return TestClient(create_app(run_workers=False), raise_server_exceptions=False)


def test_metrics_token_is_required_when_set_and_compared_whole(database: Database, tmp_path: Path) -> None:
    with app_client(database, tmp_path, metrics_token="scrape-me-0123456789") as client:
        for headers in ({}, {"Authorization": "Bearer scrape-me"}, {"Authorization": "Basic scrape-me-0123456789"}):
            resp = client.get("/metrics", headers=headers)
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "unauthorized"
            assert "scrape-me-0123456789" not in resp.text
        resp = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
        assert resp.status_code == 200
        assert ("gitproductivity_webhook_deliveries_due", frozenset()) in samples(resp.text)


def test_metrics_can_be_turned_off(database: Database, tmp_path: Path) -> None:
    with app_client(database, tmp_path, metrics_enabled=False) as client:
        resp = client.get("/metrics")
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "not_found"


def test_requests_are_counted_by_route_template_never_by_raw_path(
    database: Database, tmp_path: Path, tenant: Tenant
) -> None:
    with app_client(database, tmp_path) as client:
        client.headers.update(tenant.headers)
        before = samples(client.get("/metrics").text)
        for n in range(3):
            assert client.get(f"/v1/developers/dev_missing{n}").status_code == 404
        assert client.get("/no/such/page/42").status_code == 404
        after = samples(client.get("/metrics").text)
    name = "gitproductivity_http_requests_total"
    by_route = frozenset({"method": "GET", "route": "/v1/developers/{developer_id}", "status": "404"}.items())
    assert after[(name, by_route)] - before.get((name, by_route), 0) == 3
    unmatched = frozenset({"method": "GET", "route": "unmatched", "status": "404"}.items())
    assert after[(name, unmatched)] - before.get((name, unmatched), 0) == 1
    routes = {dict(labels)["route"] for n, labels in after if n == name}
    assert not [r for r in routes if "dev_missing" in r or "/no/such" in r]


def test_an_analysis_of_a_real_repository_is_counted_with_its_commits_and_duration(
    database: Database, tenant: Tenant, tmp_path: Path, git_repo: Path
) -> None:
    from gitproductivity.analysis import tasks
    from gitproductivity.repositories import flows

    client = app_client(database, tmp_path, analysis_poll_interval=0.1)
    before = samples(client.get("/metrics").text)

    async def scenario() -> str:
        stop = asyncio.Event()
        runner = asyncio.create_task(tasks.run(stop))
        with database.session() as session:
            repository = flows.connect(session, organization_id=tenant.organization_id, url=str(git_repo))
        deadline = time.monotonic() + 60
        found: list[str] = []
        while time.monotonic() < deadline and not found:
            await asyncio.sleep(0.05)
            with database.session() as session:
                page = jobs.list_(session, organization_id=tenant.organization_id, repository_id=repository.id)
                found = [a.id for a in page if a.status not in ("queued", "running")]
        stop.set()
        await runner  # waits for the running analysis (and its count) to finish
        return found[0]

    analysis_id = run_async(scenario)
    after = samples(client.get("/metrics").text)
    with database.session() as session:
        analysis = jobs.get(session, organization_id=tenant.organization_id, analysis_id=analysis_id)
    assert analysis.status == "succeeded" and analysis.commits_done == 1  # git_repo has one commit
    assert analysis.started_at is not None and analysis.finished_at is not None

    def delta(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("gitproductivity_analyses_total", status="succeeded") == 1
    assert delta("gitproductivity_analyses_total", status="failed") == 0
    assert delta("gitproductivity_analysis_commits_read_total") == 1
    assert delta("gitproductivity_analysis_duration_seconds_count", status="succeeded") == 1
    took = (analysis.finished_at - analysis.started_at).total_seconds()
    assert abs(delta("gitproductivity_analysis_duration_seconds_sum", status="succeeded") - took) < 1e-6


def test_every_dashboard_expression_names_a_metric_that_exists(database: Database, tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    with app_client(database, tmp_path) as client:
        text = client.get("/metrics").text
    exposed: set[str] = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}[family.type]
        exposed |= {family.name + s for s in suffixes}
    panels = dashboard["panels"]
    expressions = [t["expr"] for p in panels for t in p.get("targets", [])]
    assert len(panels) >= 8 and len(expressions) >= len(panels)
    for expr in expressions:
        names = set(re.findall(r"\bgitproductivity_[a-z_]+", expr))
        assert names, expr
        assert names <= exposed, (expr, names - exposed)
    # and every metric is on the dashboard
    used = {n for e in expressions for n in re.findall(r"\bgitproductivity_[a-z_]+", e)}
    assert {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for n in used} >= {
        f.name + ("_total" if f.type == "counter" else "") for f in text_string_to_metric_families(text)
    }
