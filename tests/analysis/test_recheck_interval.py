"""How the re-check interval and the failure backoff bound each other, exactly as README and docs/metrics.md say.

docs/metrics.md, "When analyses fail": a failing repository is tried again `FAILURE_BACKOFF` after its first
failure, the wait doubling with each further failure up to `RECHECK_INTERVAL` (never below `FAILURE_BACKOFF`),
and never sooner than `RECHECK_INTERVAL` after its last successful analysis; `analysis_retry_at` is that time,
exactly; with `RECHECK_INTERVAL` 0 nothing is scheduled, failing repositories included. Time is the clock the
scheduler reads, moved by the test (see test_backoff.py); the failing repository is real.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core import settings
from gitproductivity.core.db import Database
from tests.analysis.gitrepo import drain
from tests.analysis.test_backoff import break_branch, clock, make_repo, tick
from tests.clock import Clock
from tests.conftest import Tenant

__all__ = ["clock"]

ROOT = Path(__file__).resolve().parents[2]


def documented_waits(backoff: float, interval: float, count: int) -> list[float]:
    """The rule as docs/metrics.md words it (not the code's function): doubling from the backoff, capped at the
    interval, never below the backoff."""
    return [min(backoff * 2**n, max(backoff, interval)) for n in range(count)]


def retry_at(api: TestClient, repo_id: str) -> datetime | None:
    shown = api.get(f"/v1/repositories/{repo_id}").json()["analysis_retry_at"]
    return None if shown is None else datetime.fromisoformat(shown.replace("Z", "+00:00"))


def follow(api: TestClient, database: Database, clock: Clock, repo_id: str, *, tries: int) -> list[datetime]:
    """Poll every minute until `tries` failed analyses ran; each must start exactly when the API said it would."""
    attempts: list[datetime] = []
    promised = retry_at(api, repo_id)
    for _ in range(48 * 60):
        clock.advance(60)
        ran = tick(database)
        if not ran:
            continue
        assert ran == ["failed"]
        if promised is not None:
            assert clock.now == promised, "analysis_retry_at promised another time"
        attempts.append(clock.now)
        promised = retry_at(api, repo_id)
        if len(attempts) == tries:
            return attempts
    raise AssertionError(f"only {len(attempts)} tries in 48 hours")


@pytest.mark.parametrize(("backoff", "interval"), [(300, 3600), (600, 1800), (3600, 600)])
def test_failing_repositories_are_tried_when_the_docs_say(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, clock: Clock, backoff: int, interval: int
) -> None:
    settings.configure(
        database_url=database_url,
        data_dir=tmp_path / "data",
        analysis_recheck_interval=interval,
        analysis_failure_backoff=backoff,
    )
    repo = make_repo(tmp_path / "repo")
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    success = clock.now
    break_branch(repo)

    attempts = follow(api, database, clock, repo_id, tries=7)
    assert (attempts[0] - success).total_seconds() == interval  # the first failure is the next re-check
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert gaps == documented_waits(backoff, interval, 6)

    if (backoff, interval) == (settings.Settings.model_fields["analysis_failure_backoff"].default, 3600):
        # The defaults, as the docs spell them out.
        assert settings.Settings.model_fields["analysis_recheck_interval"].default == interval
        minutes = ", ".join(str(int(g // 60)) for g in gaps[:4])
        metrics_md = " ".join((ROOT / "docs" / "metrics.md").read_text().split())
        assert f"{minutes} minutes, then hourly" in metrics_md
        readme = " ".join((ROOT / "README.md").read_text().split())
        first, *rest = gaps[:4]
        assert (
            f"tried again after {int(first // 60)} minutes, then {', '.join(str(int(g // 60)) for g in rest)}" in readme
        )


def test_a_failure_soon_after_a_success_waits_for_the_interval_and_says_so(
    api: TestClient, database: Database, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings.configure(
        database_url=database_url,
        data_dir=tmp_path / "data",
        analysis_recheck_interval=3600,
        analysis_failure_backoff=300,
    )
    repo = make_repo(tmp_path / "repo")
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["succeeded"]
    success = clock.now
    break_branch(repo)
    clock.advance(600)
    api.post(f"/v1/repositories/{repo_id}/analyses", json={})  # asked for: runs at once, and fails
    assert drain() == ["failed"]
    # The backoff alone would say 5 minutes; no scheduled analysis comes sooner than the interval after a success.
    assert (retry_at(api, repo_id) - success).total_seconds() == 3600  # type: ignore[operator]
    [first, second] = follow(api, database, clock, repo_id, tries=2)
    assert (first - success).total_seconds() == 3600 and (second - first).total_seconds() == 600


def test_with_the_interval_at_zero_nothing_is_scheduled_not_even_retries(
    api: TestClient, tenant: Tenant, database: Database, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings.configure(
        database_url=database_url, data_dir=tmp_path / "data", analysis_recheck_interval=0, analysis_failure_backoff=300
    )
    repo = make_repo(tmp_path / "repo")
    break_branch(repo)
    repo_id = api.post("/v1/repositories", json={"url": str(repo.path)}).json()["id"]
    assert drain() == ["failed"]
    shown = api.get(f"/v1/repositories/{repo_id}").json()
    assert shown["analysis_failures"] == 1 and shown["analysis_retry_at"] is None  # no try is promised
    [notice] = [n for n in api.get("/v1/notifications").json()["data"] if n["kind"] == "analysis.failed"]
    assert "only when someone asks" in notice["body"]
    page = api.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)}
    assert api.post("/login", data=form, follow_redirects=False).status_code == 303
    html = api.get("/repositories", headers={"Accept": "text/html"}).text
    assert "1 failed in a row · tried again only when asked" in html
    for _ in range(24):
        clock.advance(3600)
        assert tick(database) == []
    api.post(f"/v1/repositories/{repo_id}/analyses", json={})
    assert drain() == ["failed"]
