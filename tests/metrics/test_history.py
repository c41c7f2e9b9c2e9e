"""A developer's page: their figures over a range, per period and per repository, summed by the database and
checked against a small hand-made history whose counts are known; the merge search (bounded, by name or e-mail)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gitproductivity.core.db import Database
from gitproductivity.metrics import history
from gitproductivity.metrics.service import Totals
from tests.analysis.gitrepo import Repo, drain, lines
from tests.clock import moved_clock
from tests.conftest import Tenant
from tests.teams.test_api import _signed_in

ALICE = "Alice Liddell <alice@example.com>"
BOB = "Bob Stone <bob@example.com>"


def _history(api: TestClient, tmp_path: Path) -> dict[str, str]:
    """Alice: one commit in 2024 (+5), then in 2026 three commits on Monday 5 January across two repositories
    (+3; +0 -3; +4) and one on Monday 16 February (+6). Bob: one commit (+1)."""
    one, two = Repo(tmp_path / "one"), Repo(tmp_path / "two")
    one.commit(ALICE, "2024-03-04T10:00:00Z", {"a.txt": lines(5)})
    one.commit(ALICE, "2026-01-05T10:00:00Z", {"b.txt": lines(3)})
    one.commit(ALICE, "2026-01-05T15:00:00Z", {"a.txt": lines(2)})
    two.commit(ALICE, "2026-01-05T17:00:00Z", {"c.txt": lines(4)})
    two.commit(ALICE, "2026-02-16T09:00:00Z", {"c.txt": lines(10)})
    two.commit(BOB, "2026-02-17T09:00:00Z", {"d.txt": lines(1)})
    ids = {
        "one": api.post("/v1/repositories", json={"url": str(one.path), "name": "one"}).json()["id"],
        "two": api.post("/v1/repositories", json={"url": str(two.path), "name": "two"}).json()["id"],
    }
    drain()
    for dev in api.get("/v1/developers").json()["data"]:
        ids[dev["name"].split()[0].lower()] = dev["id"]
    return ids


def _figures(totals: Totals) -> tuple[int, int, int, int, int]:
    return totals.commits, totals.lines_added, totals.lines_deleted, totals.active_days, totals.files_changed


def test_a_developers_figures_are_summed_by_the_database(
    api: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    ids = _history(api, tmp_path)
    mine: dict[str, Any] = {"organization_id": tenant.organization_id, "developer_id": ids["alice"]}
    with database.session() as session:
        assert _figures(history.developer_totals(session, **mine)) == (5, 18, 3, 3, 5)
        recent = history.developer_totals(session, **mine, start=date(2025, 3, 1))
        assert _figures(recent) == (4, 13, 3, 2, 4)  # the same day in two repositories is one active day
        assert recent.first_commit_at == datetime(2026, 1, 5, 10, tzinfo=UTC)
        assert _figures(history.developer_totals(session, **mine, start=date(2027, 1, 1))) == (0, 0, 0, 0, 0)

        weeks = history.developer_periods(session, **mine, period="week", start=date(2025, 3, 1))
        assert [(d, t.commits, t.lines_added, t.active_days) for d, t in weeks] == [
            (date(2026, 1, 5), 3, 7, 1),
            (date(2026, 2, 16), 1, 6, 1),
        ]
        months = history.developer_periods(session, **mine, period="month")
        assert [(d, t.commits, t.active_days) for d, t in months] == [
            (date(2024, 3, 1), 1, 1),  # the empty months between are no rows: the page draws them as gaps
            (date(2026, 1, 1), 3, 1),
            (date(2026, 2, 1), 1, 1),
        ]
        years = history.developer_periods(session, **mine, period="year")
        assert [(d, t.commits, t.lines_added) for d, t in years] == [
            (date(2024, 1, 1), 1, 5),
            (date(2026, 1, 1), 4, 13),
        ]

        repos = history.developer_repositories(session, **mine)
        assert [(r.name, *_figures(r.totals)) for r in repos] == [
            ("one", 3, 8, 3, 2, 3),  # most commits first
            ("two", 2, 10, 0, 2, 2),
        ]
        recent_repos = history.developer_repositories(session, **mine, start=date(2025, 3, 1))
        assert [(r.repository_id, r.totals.commits) for r in recent_repos] == [(ids["one"], 2), (ids["two"], 2)]
        with pytest.raises(Exception, match="period must be one of"):
            history.developer_periods(session, **mine, period="decade")


def test_the_period_fits_the_range() -> None:
    assert history.period_for(date(2025, 3, 2), date(2026, 3, 1)) == "week"
    assert history.period_for(date(2020, 1, 1), date(2026, 3, 1)) == "month"
    assert history.period_for(date(2006, 1, 1), date(2026, 3, 1)) == "year"  # twenty years: twenty bars
    assert history.period_end(date(2025, 12, 1), "month") == date(2026, 1, 1)


def _value(html: str, figure: str) -> str:
    found = re.search(rf'data-figure="{figure}">(.*?)</div>', html, re.S)
    assert found is not None, figure
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_developer_page_shows_the_figures_of_the_range(
    api: TestClient, client: TestClient, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _history(api, tmp_path)
    clock = moved_clock(monkeypatch)
    clock.now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    page = _signed_in(client, tenant)

    html = page.get(f"/developers/{ids['alice']}").text  # the last 12 months by default
    assert "Last 12 months" in html and "since 2 Mar 2025" in html
    figures = (_value(html, "commits"), _value(html, "lines"), _value(html, "active_days"))
    assert figures == ("4", "+13 \N{MINUS SIGN}3", "2")
    # A bar for each week with commits, at its place on the time axis; the weeks between are gaps.
    bars = re.findall(r'<rect class="bar commits" x="([\d.]+)%"[^>]*><title>([^<]+)</title>', html)
    assert [title for _, title in bars] == ["Week of 5 Jan 2026: 3 commits", "Week of 16 Feb 2026: 1 commits"]
    span = (date(2026, 3, 1) - date(2025, 3, 2)).days
    assert [float(x) for x, _ in bars] == [
        pytest.approx((date(2026, 1, 5) - date(2025, 3, 2)).days / span * 100, abs=0.01),
        pytest.approx((date(2026, 2, 16) - date(2025, 3, 2)).days / span * 100, abs=0.01),
    ]
    repos = re.findall(r'<tr data-repository="(repo_[0-9a-z]+)">', html)
    assert repos == [ids["one"], ids["two"]] and f'href="/repositories#{ids["one"]}"' in html

    everything = page.get(f"/developers/{ids['alice']}?range=all").text
    assert (_value(everything, "commits"), _value(everything, "lines")) == ("5", "+18 \N{MINUS SIGN}3")
    assert _value(everything, "active_days") == "3"
    recent = page.get(f"/developers/{ids['alice']}?range=3m").text
    assert _value(recent, "commits") == "4" and "since 1 Dec 2025" in recent
    quiet = page.get(f"/developers/{ids['bob']}?range=nonsense").text  # an unknown range is the default one
    assert "Last 12 months" in quiet and _value(quiet, "commits") == "1"


def test_the_merge_search_lists_a_bounded_set_of_matches(
    api: TestClient, client: TestClient, database: Database, tenant: Tenant
) -> None:
    from gitproductivity.developers import service as developers

    with database.session() as session:
        devs, _ = developers.create_found(
            session,
            organization_id=tenant.organization_id,
            people=[(f"Jane Doe {n:02d}", f"jane{n:02d}@example.com", False) for n in range(30)]
            + [("Zed Other", "zed@example.com", False)],
        )
        target, duplicate = devs[0].id, devs[-1].id
    page = _signed_in(client, tenant)
    html = page.get(f"/developers/{target}").text
    assert "<select" not in html and 'name="find"' in html and "merge-matches" not in html  # no list until asked

    found = page.get(f"/developers/{target}", params={"find": "JANE"}).text
    listed = re.findall(r'name="other_id" value="(dev_[0-9a-z]+)"', found)
    assert len(listed) == 20 and target not in listed  # never the developer themself
    assert "Only the first 20 matches are shown" in found
    assert "Nobody else matches" in page.get(f"/developers/{target}", params={"find": "nobody"}).text

    one = page.get(f"/developers/{target}", params={"find": "zed@"}).text
    assert re.findall(r'name="other_id" value="(dev_[0-9a-z]+)"', one) == [duplicate]
    assert "Only the first" not in one
    token = re.search(r'name="csrf_token" value="([^"]+)"', one)
    assert token is not None
    done = page.post(
        f"/developers/{target}/merge",
        data={"other_id": duplicate, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = page.get(f"/developers/{target}").text
    assert "zed@example.com" in after  # the duplicate's e-mail is now the target's
