"""`metrics.team_series`, the dashboard's one query: buckets per developer, bots left out, filters applied."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gitproductivity.core.db import Database
from gitproductivity.core.errors import NotFound, ValidationFailed
from gitproductivity.developers import service as developers
from gitproductivity.metrics import service as metrics
from gitproductivity.metrics.models import DailyRollup
from gitproductivity.repositories import flows
from tests.conftest import Tenant


def rollup(org: str, repo: str, dev: str, day: date, commits: int, added: int = 0) -> DailyRollup:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return DailyRollup(
        repository_id=repo,
        developer_id=dev,
        day=day,
        organization_id=org,
        commits=commits,
        merges=0,
        lines_added=added,
        lines_deleted=0,
        files_changed=commits,
        first_commit_at=at,
        last_commit_at=at,
    )


def test_team_series_buckets_filters_and_scoping(
    database: Database, tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    org = tenant.organization_id
    (tmp_path / "a" / ".git").mkdir(parents=True)
    (tmp_path / "b" / ".git").mkdir(parents=True)
    with database.session() as session:
        a = flows.connect(session, organization_id=org, url=str(tmp_path / "a")).id
        b = flows.connect(session, organization_id=org, url=str(tmp_path / "b")).id
        jane = developers.create(session, organization_id=org, name="Jane", email="jane@example.com").id
        bob = developers.create(session, organization_id=org, name="Bob", email="bob@example.com").id
        bot = developers.create(session, organization_id=org, name="ci[bot]", email="ci@bot.example", is_bot=True).id
        session.add_all(
            [
                rollup(org, a, jane, date(2026, 1, 5), 2, 10),  # Monday
                rollup(org, a, jane, date(2026, 1, 7), 1, 5),  # same ISO week
                rollup(org, b, jane, date(2026, 1, 12), 4, 1),
                rollup(org, a, bob, date(2026, 2, 2), 3, 7),
                rollup(org, a, bot, date(2026, 1, 5), 50, 500),
            ]
        )

    with database.session() as session:
        weekly = metrics.team_series(session, organization_id=org, granularity="week")
        assert set(weekly) == {jane, bob}  # the bot is not part of the team
        assert [(d, t.commits, t.lines_added) for d, t in weekly[jane]] == [
            (date(2026, 1, 5), 3, 15),
            (date(2026, 1, 12), 4, 1),
        ]
        monthly = metrics.team_series(session, organization_id=org, granularity="month")
        assert [(d, t.commits) for d, t in monthly[jane]] == [(date(2026, 1, 1), 7)]
        only_a = metrics.team_series(session, organization_id=org, granularity="day", repository_id=a)
        assert [d for d, _ in only_a[jane]] == [date(2026, 1, 5), date(2026, 1, 7)]
        february = metrics.team_series(session, organization_id=org, start=date(2026, 2, 1), end=date(2026, 2, 28))
        assert set(february) == {bob}
        # Another organisation sees nothing of this, and cannot name these repositories.
        assert metrics.team_series(session, organization_id=other_tenant.organization_id) == {}
        with pytest.raises(NotFound):
            metrics.team_series(session, organization_id=other_tenant.organization_id, repository_id=a)
        with pytest.raises(ValidationFailed):
            metrics.team_series(session, organization_id=org, granularity="year")
        with pytest.raises(ValidationFailed):
            metrics.team_series(session, organization_id=org, start=date(2026, 2, 1), end=date(2026, 1, 1))
