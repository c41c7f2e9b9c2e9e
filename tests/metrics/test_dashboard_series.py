"""The dashboard's time axis and figures without a browser: every bucket of the range (quiet ones as zeros at their
place), the top few stacked with everyone else, the 12-month default, the top ten with "show all", the pickers'
suggestions, the paged contributors list, and numbers written one way."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.developers import service as developers
from gitproductivity.metrics import series
from gitproductivity.metrics.views import resolve_range
from gitproductivity.repositories import flows
from gitproductivity.teams import service as teams
from gitproductivity.web.helpers import number
from tests.clock import moved_clock
from tests.conftest import Tenant
from tests.metrics.test_team_series import rollup
from tests.teams.test_api import _signed_in


def test_the_axis_holds_every_bucket_of_the_range() -> None:
    weeks = series.buckets(date(2026, 1, 7), date(2026, 2, 2), "week")
    assert weeks == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19), date(2026, 1, 26), date(2026, 2, 2)]
    months = series.buckets(date(2025, 11, 30), date(2026, 2, 1), "month")
    assert months == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    assert len(series.buckets(date(2024, 1, 1), date(2024, 12, 31), "day")) == 366
    assert series.bucket_count(date(2024, 1, 1), date(2024, 12, 31), "day") == 366
    assert series.bucket_count(date(2025, 11, 30), date(2026, 2, 1), "month") == 4


def test_quiet_buckets_are_zeros_at_their_place() -> None:
    axis = series.buckets(date(2026, 1, 1), date(2026, 1, 31), "week")
    # Activity in the first and the last week only: the weeks between are zeros, not left out.
    assert series.fold([(date(2026, 1, 1), 2), (date(2026, 1, 2), 1), (date(2026, 1, 30), 4)], axis, "week") == [
        3,
        0,
        0,
        0,
        4,
    ]
    found = [series.Day(date(2026, 1, 5), 5, 50, 5), series.Day(date(2026, 1, 9), 1, 1, 0)]
    chart = series.chart(found, [], {}, start=date(2026, 1, 5), end=date(2026, 1, 9), granularity="day")
    assert chart["labels"] == ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09"]
    assert chart["commits"] == [5, 0, 0, 0, 1] and chart["lines_added"] == [50, 0, 0, 0, 1]


def test_the_top_few_are_stacked_under_everyone_else() -> None:
    found = [series.Day(date(2026, 3, 2), 10, 0, 0), series.Day(date(2026, 3, 9), 4, 0, 0)]
    top = [("dev_a", "Ann"), ("dev_b", "Bob")]
    days = {"dev_a": [(date(2026, 3, 2), 6)], "dev_b": [(date(2026, 3, 2), 1), (date(2026, 3, 10), 4)]}
    chart = series.chart(found, top, days, start=date(2026, 3, 2), end=date(2026, 3, 15), granularity="week")
    stacked = chart["per_developer"]
    assert [s["name"] for s in stacked] == ["Ann", "Bob", "Everyone else"]
    assert stacked[0]["commits"] == [6, 0] and stacked[1]["commits"] == [1, 4] and stacked[2]["commits"] == [3, 0]
    assert stacked[2]["rest"] is True
    # Nobody else: no "Everyone else" band.
    alone = series.chart(found[:1], top[:1], {"dev_a": [(date(2026, 3, 2), 10)]}, start=date(2026, 3, 2),
                         end=date(2026, 3, 2), granularity="week")  # fmt: skip
    assert [s["name"] for s in alone["per_developer"]] == ["Ann"]


def test_long_ranges_are_drawn_coarser() -> None:
    assert series.fit_granularity(date(2026, 1, 1), date(2026, 12, 31), "day") == "day"  # 365 days
    assert series.fit_granularity(date(2007, 1, 1), date(2026, 12, 31), "week") == "month"  # 20 years
    assert series.fit_granularity(date(2007, 1, 1), date(2026, 12, 31), "day") == "month"
    assert series.fit_granularity(date(2020, 1, 1), date(2026, 12, 31), "week") == "week"  # 7 years: 366 weeks


def test_ranges() -> None:
    today = date(2026, 12, 2)
    assert resolve_range("12m", None, None, today) == (date(2025, 12, 3), today)
    assert resolve_range("all", date(2020, 1, 1), None, today) == (None, None)
    assert resolve_range("custom", date(2020, 1, 1), None, today) == (date(2020, 1, 1), None)
    assert resolve_range("12m", None, None, date(2028, 2, 29)) == (date(2027, 3, 1), date(2028, 2, 29))


def test_numbers_are_written_one_way() -> None:
    assert [number(v) for v in (0, 7, 1234, 1234567, -9876, None)] == ["0", "7", "1,234", "1,234,567", "-9,876", ""]


def _devs(database: Database, org: str, count: int, tmp_path: Path) -> tuple[str, list[str]]:
    (tmp_path / "r" / ".git").mkdir(parents=True)
    with database.session() as session:
        repo = flows.connect(session, organization_id=org, url=str(tmp_path / "r")).id
        found, _ = developers.create_found(
            session,
            organization_id=org,
            people=[(f"Person {n:02d}", f"p{n:02d}@example.com", False) for n in range(count)],
        )
        return repo, [d.id for d in found]


def test_the_dashboard_defaults_to_twelve_months_with_a_top_ten(
    database: Database, client: TestClient, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = moved_clock(monkeypatch)
    clock.now = datetime(2026, 12, 2, 9, tzinfo=UTC)
    org = tenant.organization_id
    repo, ids = _devs(database, org, 60, tmp_path)
    with database.session() as session:
        # Person n: n + 1 commits on 2 Nov 2026 (n below 59), nothing from 3 to 29 Nov, one more on 30 Nov;
        # and 1,000 commits two years ago, outside the default range.
        session.add_all(rollup(org, repo, dev, date(2026, 11, 2), n + 1, 1000) for n, dev in enumerate(ids[:59]))
        session.add(rollup(org, repo, ids[0], date(2026, 11, 30), 1))
        session.add(rollup(org, repo, ids[59], date(2024, 11, 2), 1000))
        team = teams.create(session, organization_id=org, name="Evens")
        for dev in ids[::2]:
            teams.add_member(session, organization_id=org, team_id=team.id, developer_id=dev)
        team_id = team.id
    page = _signed_in(client, tenant)

    html = page.get("/dashboard").text
    commits = sum(range(1, 60)) + 1
    assert f'id="stat-commits">{commits:,}<' in html and 'id="stat-developers">59<' in html
    assert '<option value="12m" selected>' in html and 'name="from" value="2025-12-03"' in html
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert len(data["labels"]) == 53 and data["labels"][0] == "2025-12-01"  # every week of the 12 months
    november = data["labels"].index("2026-11-02")
    assert data["commits"][november:] == [commits - 1, 0, 0, 0, 1]  # the quiet weeks are there, as zeros
    assert sum(data["commits"][:november]) == 0
    stacked = data["per_developer"]
    assert [s["name"] for s in stacked] == ["Person 58", "Person 57", "Person 56", "Person 55", "Person 54",
                                            "Everyone else"]  # fmt: skip
    assert [s["commits"][november] for s in stacked] == [59, 58, 57, 56, 55, commits - 1 - sum(range(55, 60))]
    assert [t["name"] for t in data["top"]] == [f"Person {n}" for n in range(58, 48, -1)]
    assert html.count('<tr><td><a href="/dashboard?developer=') == 10  # the top ten, not everyone
    assert "Show all 59 contributors" in html and 'href="/dashboard/contributors"' in html
    assert "+59,000" in html or f"+{59 * 1000:,}" in html  # lines added, with thousands separators

    everything = page.get("/dashboard", params={"range": "all"}).text
    assert f'id="stat-commits">{commits + 1000:,}<' in everything and 'id="stat-developers">60<' in everything

    evens = page.get("/dashboard", params={"team_id": team_id}).text
    assert 'id="stat-developers">30<' in evens
    assert f'href="/dashboard/contributors?team_id={team_id}"' in evens  # "show all" keeps the filters

    # The contributors list: everyone in the range, 50 to a page, sorted by any column.
    listed = page.get("/dashboard/contributors").text
    assert listed.count('<tr><td><a href="/dashboard?developer=') == 50 and "59 contributors" in listed
    after = re.search(r'href="(/dashboard/contributors\?[^"]*after=[^"]+)" rel="next"', listed)
    assert after is not None
    rest = page.get(after.group(1).replace("&amp;", "&")).text
    assert rest.count('<tr><td><a href="/dashboard?developer=') == 9 and 'rel="next"' not in rest
    by_name = page.get("/dashboard/contributors", params={"sort": "name", "team_id": team_id}).text
    names = re.findall(r'<tr><td><a href="[^"]+">(Person \d+)</a>', by_name)
    assert names[:3] == ["Person 00", "Person 02", "Person 04"] and len(names) == 30


def test_the_developer_picker_searches_within_the_team(
    database: Database, client: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    org = tenant.organization_id
    _repo, ids = _devs(database, org, 40, tmp_path)
    with database.session() as session:
        team = teams.create(session, organization_id=org, name="Few")
        for dev in ids[:5]:
            teams.add_member(session, organization_id=org, team_id=team.id, developer_id=dev)
        team_id = team.id
    page = _signed_in(client, tenant)
    some = page.get("/dashboard/developer-options", params={"q": "person 3"}).json()["options"]
    assert [o["label"] for o in some] == [f"Person 3{n} <p3{n}@example.com>" for n in range(10)]
    everyone = page.get("/dashboard/developer-options").json()["options"]
    assert len(everyone) == 20  # a page of suggestions, never all 2,500 people
    in_team = page.get("/dashboard/developer-options", params={"team_id": team_id}).json()["options"]
    assert [o["id"] for o in in_team] == ids[:5]
    assert page.get("/dashboard/developer-options", params={"team_id": team_id, "q": "person 3"}).json() == {
        "options": []
    }
